"""The family's N = 256 full flows that carry a finding, solved again at tighter tolerances.

``benchmarks/paper/family.py`` solves every pseudo-parameter at N = 256 once, on the generic
reference-backed flow at the solver's defaults (rtol 1e-8, atol 1e-10). Two of those solves carry a
finding that no closed form checks: with the self mask β2 does not reach 0.5, and with
cross-entropy the head never forms (an elimination circuit takes over). Here the same solves run
at rtol 1e-10, atol 1e-12 (``TIGHT``), and every reported quantity is compared with the family's
row: status, Definition-1 times of the head, T_loss, the head at the end.

Runs through :func:`gradflow.sweep` into ``<out>/family_recheck_store`` (resumable; one run per
worker), writes ``<out>/family_recheck.json`` and ``.md``. Run:
``python benchmarks/paper/family_recheck.py`` (94 and 16 minutes on one core, with another job running).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gradflow as gf
from gradflow.result import json_ready
from gradflow.sweeps import _write_atomic

import family

OUT = family.OUT
#: the members whose N = 256 full flow carries a finding
MEMBERS = ("mask=self", "loss=ce")
N = 256
#: the tighter tolerances of the re-solve
TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def runs() -> list[dict]:
    out = []
    for question in MEMBERS:
        opts, query, _ = family.QUESTIONS[question]
        out.append({**family._run(N, query, opts), **TIGHT})
    return out


def compare(rows, reference) -> list[dict]:
    """Per member: the family's row (defaults) and the re-solve's, and their largest relative
    difference over the head's Definition-1 times, T_loss and the head at the end (None where
    one of the two has no value)."""
    out = []
    for r in rows:
        q = family.question_of(r["inputs"])
        ref = next(x for x in reference if x["question"] == q and x["N"] == N and x["which"] == "all")
        tight = family.summarise([r])[0]
        diffs = {}
        for key in ref["head"]:
            a, b = ref["t_p"].get(key), tight["t_p"].get(key)
            diffs[f"t({key})"] = None if a is None or b is None else abs(b / a - 1)
            diffs[f"end {key}"] = abs(tight["final_head"][key] / ref["final_head"][key] - 1)
        diffs["T_loss"] = abs(tight["T_loss"] / ref["T_loss"] - 1) if ref["T_loss"] and tight["T_loss"] else None
        out.append({"question": q, "default": ref, "tight": tight, "differences": diffs,
                    "same_status": ref["status"] == tight["status"], "same_order": ref["order"] == tight["order"]})
    return out


def table(data) -> str:
    L = [f"**The N = {N} full flows that carry a finding, solved again** at rtol {TIGHT['rtol']:g}, atol "
         f"{TIGHT['atol']:g} (the family's: the solver's defaults, rtol 1e-8, atol 1e-10)", "",
         "| member | status (defaults / tight) | order | head at the end (tight) | largest relative difference | minutes (tight) |",
         "|---|---|---|---|---:|---:|"]
    for c in data["comparison"]:
        d = {k: v for k, v in c["differences"].items() if v is not None}
        worst = max(d, key=d.get)
        head = ", ".join(f"{k} {v:+.4g}" for k, v in c["tight"]["final_head"].items())
        L.append(f"| {c['question']} | {c['default']['status']} / {c['tight']['status']} | "
                 f"{' → '.join(c['tight']['order']) or '–'}{'' if c['same_order'] else ' (differs)'} | {head} | "
                 f"{d[worst]:.1e} ({worst}) | {data['solve_seconds'][c['question']] / 60:.0f} |")
    return "\n".join(L) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--figures-only", action="store_true", help="re-render the table from the JSON")
    args = p.parse_args(argv)
    path = args.out / "family_recheck.json"
    if args.figures_only:
        data = json.loads(path.read_text())
    else:
        start = time.perf_counter()
        rows = gf.sweep(runs(), args.out / "family_recheck_store", workers=args.workers)
        reference = json.loads((args.out / "family.json").read_text())["rows"]
        data = json_ready({"meta": {"date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - start,
                                    "N": N, **TIGHT}, "comparison": compare(rows, reference),
                           "solve_seconds": {family.question_of(r["inputs"]): r["wall_seconds"] for r in rows}})
        _write_atomic(path, data)
    (args.out / "family_recheck.md").write_text(table(data))
    print(table(data))


if __name__ == "__main__":
    main()
