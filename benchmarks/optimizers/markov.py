"""The markov system under each optimizer: stage order and times against gradient descent.

The authors' repository trains its current models (RPE/train.py, train_simplified.py) with plain SGD;
the first two commands of its README run an earlier script (train_independently_model_B_fix_a_first.py)
whose default optimizer is Adam. Here: the markov system at its default setting (S = n = 3, α = 0.1,
L = 100, H = 3, D = 2, the frozen sample of 9000 sequences, joint schedule from the authors'
initialisation) under each rule's flow. Its parameters are the simplified model's own weights, so
every rule is exact (derivations/optimizers.md §3). Times are learning rate × steps.

Runs through :func:`gradflow.sweep` into ``<out>/markov_store``; writes ``<out>/markov.json`` and
``.md``. Run: ``python benchmarks/optimizers/markov.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gradflow as gf
from gradflow.result import json_ready
from gradflow.systems.markov import MarkovSystem

OUT = Path(__file__).resolve().parents[1] / "results" / "optimizers"
OPTIMIZERS = ("gd", {"name": "momentum", "lr": 0.1, "momentum": 0.9},
              {"name": "adam", "lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              {"name": "adam", "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              {"name": "sign", "eps": 1e-8})
STAGES = ("selector", "copier", "classifier")


def label(opt) -> str:
    """The optimizer of a run in words (its hyperparameters): :meth:`Optimizer.describe`."""
    return gf.optimizers.make(opt).describe()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = gf.sweep([{"system": "markov", "optimizer": o, "max_steps": 500_000} for o in OPTIMIZERS],
                    args.out / "markov_store", workers=args.workers)
    out = []
    for row in rows:
        e = row["emergence"]
        out.append({"label": label(row["inputs"]["optimizer"]), "optimizer": row["inputs"]["optimizer"],
                    "status": row["status"], "events": {k: e[k] for k in STAGES + ("stages_done",)},
                    "order": row["order"], "method": row["stats"]["method"], "nfev": row["stats"]["nfev"],
                    "seconds": row["wall_seconds"]})
    data = json_ready({"meta": {"date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - start},
                       "describe": MarkovSystem().describe(), "rows": out})
    (args.out / "markov.json").write_text(json.dumps(data, indent=1))
    lines = ["| optimizer | selector | copier | classifier | order | method, nfev | status |",
             "|---|---:|---:|---:|---|---|---|"]
    for r in out:
        ev = r["events"]
        lines.append(f"| {r['label']} | " + " | ".join(f"{ev[k]:.5g}" for k in STAGES)
                     + f" | {' → '.join(r['order'])} | {r['method']}, {r['nfev']} | {r['status']} |")
    (args.out / "markov.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
