"""The authors' full model against their simplified one and against their Appendix-B run.

``python benchmarks/markov/full_model.py [--part appendix|versus|all]`` writes
benchmarks/results/markov/full_model.json (each part updates its own key) and full_model.png.

* ``appendix``: their Appendix-B setting (full model, Q, K, O trained, full-batch SGD at lr 1e-3
  for 10⁴ epochs = flow time 10, 9000 sequences of L = 100, S = n = 3, α = 0.1, band init w+ = 1,
  w− = 0.01, Q = K = O = 1e-3·I, c_R = a = 0.01) as the weight flow (GD on every weight, in the
  limit of small steps; at lr 1e-3 the step error is far below the spread between samples) on
  six fresh 9000-sequence samples; the spread over the samples against their recorded run
  (authors_full_record.json, from authors_record.py --full).
* ``versus``: on one sample, the full model's weight flow and the simplified model's flow (each
  from the authors' initialisation for it) to t = 100: stage times and order, selector shares,
  band, a. (Not further: the full model's relu'd inner products of LayerNorm outputs cross zero
  again and again, each a kink that the integrator must step through: 1244 steps to t = 10,
  where the simplified model's features are non-negative and it reaches t = 10⁴ in 270.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.systems.markov import MarkovSystem

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "markov"
SEEDS = (1, 2, 3, 4, 5, 6)
APPENDIX = dict(count=9000, t_max=10.0, checkpoints=(1.0, 2.0, 5.0, 10.0))
VERSUS = dict(count=9000, seed=1, t_max=100.0, checkpoints=(1.0, 3.0, 10.0, 30.0, 100.0))
SUBSETS = ("12", "13", "23")


def _say(text):
    print(text, file=sys.stderr, flush=True)


def _facts(system, theta) -> dict:
    lay = system.layout
    names = ["".join(map(str, R)) or "empty" for R in lay.subsets]
    out = {"shares": dict(zip(names, lay.shares(theta).tolist())), "a": float(theta[-1]),
           "band": lay.unpack(theta)[0].tolist(), "loss": system.loss(np.ascontiguousarray(theta))}
    if system.full:
        out["theta"] = dict(zip(lay.names, theta.tolist()))
    return out


def appendix() -> dict:
    """Each seed's run (seeds already in full_model.json are kept, not re-solved), and the mean,
    standard deviation and range over the seeds at the end."""
    path = OUT / "full_model.json"
    old = json.loads(path.read_text()).get("appendix", {}) if path.exists() else {}
    runs = {k: v for k, v in old.get("runs", {}).items() if int(k) in SEEDS}
    for seed in SEEDS:
        if str(seed) in runs:
            continue
        system = MarkovSystem(model="full", count=APPENDIX["count"], seed=seed)
        start = time.perf_counter()
        r = gf.solve(system=system, flow="weights", t_max=APPENDIX["t_max"], progress=True)
        runs[str(seed)] = {"status": r.status, "seconds": time.perf_counter() - start, "nfev": r.stats["nfev"],
                           "at": {f"{t:g}": _facts(system, r.theta_at(t)) for t in APPENDIX["checkpoints"]},
                           "curve": {"t": list(np.linspace(0, APPENDIX["t_max"], 101)),
                                     "shares": [system.layout.shares(th).tolist()
                                                for th in r.theta_at(np.linspace(0, APPENDIX["t_max"], 101))]}}
        _say(f"appendix seed {seed}: {runs[str(seed)]['seconds']:.0f} s")
    end = f"{APPENDIX['t_max']:g}"
    values = {k: np.array([v["at"][end]["shares"][k] for v in runs.values()]) for k in SUBSETS}
    values["a"] = np.array([v["at"][end]["a"] for v in runs.values()])
    spread = {k: [float(v.min()), float(v.max())] for k, v in values.items()}
    stats = {k: {"mean": float(v.mean()), "sd": float(v.std(ddof=1))} for k, v in values.items()}
    return {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in APPENDIX.items()},
            "seeds": [int(k) for k in runs], "runs": runs, "spread_at_end": spread, "stats_at_end": stats}


def versus() -> dict:
    out = {}
    for model in ("simplified", "full"):
        system = MarkovSystem(model=model, count=VERSUS["count"], seed=VERSUS["seed"])
        start = time.perf_counter()
        flow = "weights" if system.full else "theta"      # the simplified model's θ are its weights
        r = gf.solve(system=system, flow=flow, t_max=VERSUS["t_max"], progress=True)
        out[model] = {"status": r.status, "message": r.message, "seconds": time.perf_counter() - start,
                      "nfev": r.stats["nfev"], "order": list(r.order),
                      "stages": {k: r.emergence[k] for k in ("selector", "copier", "classifier")},
                      "parents": list(system.parents(r.theta[-1])),
                      "at": {f"{t:g}": _facts(system, r.theta_at(min(t, r.t[-1]))) for t in VERSUS["checkpoints"]}}
        _say(f"versus {model}: {out[model]['seconds']:.0f} s, order {out[model]['order']}")
    return {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in VERSUS.items()}, **out}


def figure(d: dict) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rec = json.loads((OUT / "authors_full_record.json").read_text())
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"12": "C0", "13": "C1", "23": "C2"}
    if "appendix" in d:
        ap = d["appendix"]
        for k, seed in enumerate(ap["seeds"]):
            run = ap["runs"][str(seed)]
            t = np.array(run["curve"]["t"])
            sh = np.array(run["curve"]["shares"])
            names = ["".join(map(str, R)) or "empty" for R in MarkovSystem(model="full").layout.subsets]
            for R in SUBSETS:
                ax[0].plot(t, sh[:, names.index(R)], color=colors[R], lw=1, alpha=0.8,
                           label=f"flow, R = {{{', '.join(R)}}}" if k == 0 else None)
        ep = np.array(rec["epochs"], float) * rec["lr"]
        for R in SUBSETS:
            ax[0].plot(ep, [rec["shares"][str(e)][R] for e in rec["epochs"]], "o", color=colors[R], ms=6,
                       mfc="none", label=f"authors' SGD, R = {{{', '.join(R)}}}")
        ax[0].set_xlabel("t = lr × epochs (lr 1e-3)")
        ax[0].set_ylabel("selector share c_R² / Σ c²")
        ax[0].set_title(f"Appendix B, full model: flow on {len(ap['seeds'])} fresh samples (lines)\nvs the authors' run (circles)",
                        fontsize=9)
        ax[0].legend(fontsize=7, ncol=2)
    if "versus" in d:
        vs = d["versus"]
        for model, style in (("simplified", "--"), ("full", "-")):
            at = vs[model]["at"]
            ts = np.array([float(k) for k in at])
            ax[1].semilogx(ts, [at[k]["a"] for k in at], style, color="k", marker="o", ms=3, label=f"a, {model}")
            ax[1].semilogx(ts, [at[k]["shares"]["12"] for k in at], style, color="C0", marker="s", ms=3,
                           label=f"share of {{1, 2}}, {model}")
        ax[1].axhline(1.0, color="0.6", lw=0.8, ls=":")
        ax[1].text(ts[0], 1.02, "classifier level a = 1", fontsize=7, color="0.4")
        ax[1].set_xlabel("t (flow time; log scale)")
        ax[1].set_title("full (solid) vs simplified (dashed) model, same 9000 sequences", fontsize=9)
        ax[1].legend(fontsize=7)
    fig.suptitle("markov system, S = n = 3, α = 0.1, L = 100, H = 3, D = 2, ce_softmax", fontsize=10)
    fig.tight_layout()
    path = OUT / "full_model.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=("appendix", "versus", "all", "figure"), default="all")
    args = p.parse_args(argv)
    path = OUT / "full_model.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    parts = {"all": ("appendix", "versus"), "figure": ()}.get(args.part, (args.part,))
    for part in parts:
        start = time.perf_counter()
        result = globals()[part]()
        data = json.loads(path.read_text()) if path.exists() else {}     # what other runs wrote since
        data[part] = result
        data.setdefault("seconds", {})[part] = time.perf_counter() - start
        path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {figure(data)}")


if __name__ == "__main__":
    main()
