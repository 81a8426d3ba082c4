"""Render the "optimizers" results block of docs/results/optimizers.md from
benchmarks/results/optimizers/laws.json (and markov.json).

``python tools/readme_blocks.py --write`` replaces the text between
``<!-- optimizers-results:start -->`` and ``<!-- optimizers-results:end -->``;
tests/core/test_readme_optimizers.py fails when they disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gradflow.optimizers import make

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "optimizers"
START, END = "<!-- optimizers-results:start -->", "<!-- optimizers-results:end -->"
SHOWN = (4, 64, 256, 1024, 4096)


def _rows(data, name, which, **hyper):
    out = {}
    for r in data["rows"]:
        o = r["optimizer"]
        oname = o if isinstance(o, str) else o["name"]
        if oname == name and r["which"] == which and all(isinstance(o, dict) and o.get(k) == v for k, v in hyper.items()):
            out.setdefault(r["N"], r)
    return out


#: each optimizer at its library defaults, as the laws study labels them
DEFAULTS = {"gd": {}, "momentum": {"lr": 1e-2, "momentum": 0.9},
            "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, "sign": {"eps": 1e-8}}


def _slope(rows, N, key):
    Ns = sorted(rows)
    k = Ns.index(N)
    if k == 0:
        return None
    a, b = rows[Ns[k - 1]], rows[N]
    return float(np.log(key(b) / key(a)) / np.log(N / Ns[k - 1]))


def laws_table(data) -> list:
    L = ["| optimizer | flow | " + " | ".join(f"T_β at N = {N}" for N in SHOWN) + " | local slope at 4096 (T_β, T_α) |",
         "|---|---|" + "---:|" * len(SHOWN) + "---|"]
    for name, hyper in DEFAULTS.items():
        for which, words in (("head", "3 (head)"), ("all", "19")):
            rows = _rows(data, name, which, **hyper)
            cells = [f"{rows[N]['t_p']['beta2']:.4g}" for N in SHOWN]
            sb = _slope(rows, 4096, lambda r: r["t_p"]["beta2"])
            sa = _slope(rows, 4096, lambda r: r["t_p"]["alpha3"])
            label = make({"name": name, **hyper}).describe()
            L.append(f"| {label} | {words} | " + " | ".join(cells) + f" | {sb:.2f}, {sa:.2f} |")
    return L


def constants(data) -> dict:
    """The constants the models predict, measured: momentum/GD (→ 1 − μ), Adam/(ε·GD) where the
    per-entry gradient is far below ε (→ 1: Adam is GD at learning rate lr/ε there), sign descent
    at ε → 0 (→ 1/2, the closed form)."""
    gd = _rows(data, "gd", "head")
    mom = _rows(data, "momentum", "head", **DEFAULTS["momentum"])
    ratio = [mom[N]["t_p"]["beta2"] / gd[N]["t_p"]["beta2"] for N in sorted(gd)]
    adam = {eps: _rows(data, "adam", "head", lr=1e-3, beta1=0.9, beta2=0.999, eps=eps) for eps in (1e-4, 1e-6, 1e-8)}
    gd_ratio = {eps: adam[eps][4096]["t_p"]["beta2"] / (eps * gd[4096]["t_p"]["beta2"]) for eps in adam}
    sign = _rows(data, "sign", "head", eps=1e-12)
    return {"momentum_ratio": (min(ratio), max(ratio)), "adam_over_eps_gd": gd_ratio,
            "sign_limit": {N: sign[N]["t_p"]["beta2"] for N in sorted(sign)},
            "adam_small_eps": _rows(data, "adam", "head", lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-12)}


def crossover(rows) -> int | None:
    """The first N at which T_β's local slope passes 1."""
    for N in sorted(rows)[1:]:
        s = _slope(rows, N, lambda r: r["t_p"]["beta2"])
        if s is not None and s >= 1:
            return N
    return None


def markov_lines() -> list:
    path = RESULTS / "markov.json"
    if not path.exists():
        return []
    d = json.loads(path.read_text())
    L = ["", "### markov under Adam", "",
         f"The markov system at its default setting ({d['describe']}), joint schedule from the authors' "
         "initialisation, each rule's flow (θ are the simplified model's own weights, so every rule is exact "
         "here). Stage times in learning rate × steps:", "",
         "| optimizer | selector | copier | classifier | order | solve |", "|---|---:|---:|---:|---|---:|"]
    for r in d["rows"]:
        e = r["events"]
        L.append(f"| {r['label']} | {e['selector']:.4g} | {e['copier']:.4g} | {e['classifier']:.4g} | "
                 f"{' → '.join(r['order'])} | {r['seconds']:.0f} s |")
    gd = next(r for r in d["rows"] if r["label"] == "gd")
    others = [r for r in d["rows"] if r["label"] != "gd" and r["order"] != gd["order"]]
    if others:
        sign = next((r for r in d["rows"] if r["label"].startswith("sign")), None)
        L += ["", "Under " + ", ".join(r["label"] for r in others) + " the stages come in a different order from "
              f"gradient descent's ({' → '.join(gd['order'])}): the copier forms before the classifier."
              + (" Under sign descent every parameter moves at unit speed, so a stage's time is the distance its "
                 f"parameters travel: the classifier's criterion (a from 0.01 to 1) takes {sign['events']['classifier']:.7g} "
                 "(0.99 at unit speed), while the copier's band logits get there in "
                 f"{sign['events']['copier']:.3g}; Adam inherits that order." if sign else "")]
    return L


def render() -> str:
    laws = json.loads((RESULTS / "laws.json").read_text())
    c = constants(laws)
    adam = _rows(laws, "adam", "head", **DEFAULTS["adam"])
    sign = _rows(laws, "sign", "head", **DEFAULTS["sign"])
    small = c["adam_small_eps"]
    lo, hi = c["momentum_ratio"]
    L = [START,
         "Weight flow (full-weight training, D = 2N + 2), time t = learning rate × steps, query last; "
         "`python benchmarks/optimizers/laws.py` (every row, the ε and β studies: "
         "[laws.md](benchmarks/results/optimizers/laws.md)). The derivations: "
         "[derivations/optimizers.md](derivations/optimizers.md).", ""]
    L += laws_table(laws)
    L += ["", "![T_β against N under each optimizer, and by ε](benchmarks/results/optimizers/laws.png)", "",
          "**Which law each optimizer gives.**", "",
          "* **Gradient descent:** T_γ ∝ N² and T_β, T_α ∝ N³ in learning rate × steps on the full weights: "
          "Theorem 2's N² in θ-time times D = 2N + 2, the factor by which the weights' gradient per pseudo-parameter "
          "is smaller.",
          f"* **Momentum:** the same law, times 1 − μ: T_β(momentum)/T_β(GD) lies in [{lo:.5f}, {hi:.5f}] for N = 4 … "
          "4096 at μ = 0.9, lr 1e-2 (the η → 0 limit predicts 0.1).",
          "* **Sign descent:** no law in N in its exact limit. As ε → 0 every head pseudo-parameter moves at unit "
          "speed from the start, so t_p(0.5) = 1/2 whatever N is. At each N the regularised flow's T_β falls to 1/2 "
          "as ε does (N = 4096: " + ", ".join(f"{_rows(laws, 'sign', 'head', eps=eps)[4096]['t_p']['beta2']:.4g}"
                                               for eps in (1e-8, 1e-10, 1e-12))
          + " at ε = 1e-8, 1e-10, 1e-12; N = 16: " + f"{c['sign_limit'][16]:.6f} at 1e-12). A finite ε is felt once "
          "the per-entry gradient ∂𝓛/∂θ/D falls to ε: "
          f"at ε = 1e-8 T_β stays within {sign[64]['t_p']['beta2'] / 0.5 - 1:.0%} of 1/2 to N = 64, its local slope "
          f"passes 1 at N = {crossover(sign)}, and at N = 4096 it is {sign[4096]['t_p']['beta2']:.4g}.",
          "* **Adam:** like sign descent, with its moments' lag: at PyTorch's defaults T_β = "
          f"{adam[4]['t_p']['beta2']:.3f} … {adam[64]['t_p']['beta2']:.3f} for N = 4 … 64 (ε → 0: "
          f"{small[16]['t_p']['beta2']:.4f} at N = 16, below sign descent's 1/2 because v̂ lags the growing gradient). "
          "Where the per-entry gradient is far below ε, Adam is gradient descent at learning rate lr/ε: "
          "T_β/(ε·T_β(GD)) at N = 4096 is "
          + ", ".join(f"{v:.4f} (ε = {eps:g})" for eps, v in c["adam_over_eps_gd"].items()) + "; "
          f"its local slope passes 1 at N = {crossover(adam)} and reaches "
          f"{_slope(adam, 4096, lambda r: r['t_p']['beta2']):.2f} at 4096.",
          "", "**On the AdamW measurement** (emergence steps roughly linear in the context length): in these exact "
          "flows no optimizer gives a linear law. Adam gives a constant where its per-entry gradients exceed ε and "
          "gradient descent's N³ (in steps, with D = 2N + 2) at lr/ε where they fall below it; in between the "
          f"local slope rises through 1 (N ≈ {crossover(adam)} at ε = 1e-8). A fit over a range of N inside that "
          "crossover reads as roughly linear. The replication's other differences (a standard transformer, weight "
          "decay, finite batches, a fixed embedding width) are not modelled here, so this says what the optimizer "
          "alone does, not that it explains the measurement."]
    L += markov_lines()
    checks = RESULTS / "checks.md"
    if checks.exists():
        L += ["", "### Each flow against its rule on the full weights", "",
              "`python benchmarks/optimizers/checks.py`: the rule on every entry of the full-weight reference at steps "
              "η, η/2, η/4 against the solved flow (first order: ratios 2; after Richardson extrapolation 4; off-span "
              "residual at rounding). The full markov model under Adam at these steps is not yet in the asymptotic "
              "range (first ratio 2.45), and Adam's normalisation lifts its rounding-level off-span gradients to "
              "6e-12 (derivations/optimizers.md §4).", "", checks.read_text().strip()]
    L.append(END)
    return "\n".join(L)


if __name__ == "__main__":
    print(render())
