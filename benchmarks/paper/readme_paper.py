"""Render the README's "paper: Theorem 2" block from benchmarks/results/paper/theorem2.json,
ablation.json and uniform_law.json.

``python tools/readme_blocks.py --write`` replaces the text between
``<!-- paper-results:start -->`` and ``<!-- paper-results:end -->`` in README.md (with every other
rendered block). tests/paper/test_readme_paper.py fails when the README and the JSON disagree.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "paper"
START, END = "<!-- paper-results:start -->", "<!-- paper-results:end -->"


def _sibling(name: str):
    """A benchmark script of this folder, imported as a module (for its table renderer)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def uniform_bullet(results: Path) -> str:
    u = json.loads((results / "uniform_law.json").read_text())
    last, first = u["runs"][-1], u["runs"][0]
    s, c, o, f, off = last["scaled"], u["constants"], last["offset_d"], last["l_flow"], u["offsets"]
    return (f"* **The uniform query: Θ(N²/ln N), with the last query's constants** (derived in "
            f"[derivations/paper/](derivations/paper/README.md) §6; the three-parameter head on an O(N) kernel, "
            f"`python benchmarks/paper/uniform_law.py`, N = {first['N']} … {last['N']}, {u['seconds']:.0f} s). "
            f"T_γ/N = {last['gamma_over_N']:.4f} (2 ln 2); at N = {last['N']}, T ln N/N² is {s['beta2(0.5)']:.4f}, "
            f"{s['alpha3(0.5)']:.4f} and {s['T_loss']:.4f} for β2, α3 and the loss, against the leading-order "
            f"{c['beta2(0.5)']:.4f}, {c['alpha3(0.5)']:.4f} and τ* = {c['T_loss']:.4f}, rising with N; written "
            f"T = C N²/(ln N + d), the offset d is {o['beta2(0.5)']:.2f}, {o['alpha3(0.5)']:.2f} and "
            f"{o['T_loss']:.2f} there (table below). **The offset is derived** (§6: the early queries' O(1) "
            f"scores, the digamma term of Σ a_q and the keys after the query give the flow an O(1) term "
            f"next to ln N): the derived *L-flow* at L = ln N gives {f['beta2(0.5)']:.4f} and "
            f"{f['alpha3(0.5)']:.4f} at N = {last['N']}, and d → {off['beta2(0.5)']:.3f} and "
            f"{off['alpha3(0.5)']:.3f} as ln N → ∞ (the loss's offset is not derived). The 19-parameter "
            "uniform-query runs (O(N²) per evaluation) are in the last two tables above.")


def uniform_table(results: Path) -> str:
    utable = _sibling("uniform_law").table
    u = json.loads((results / "uniform_law.json").read_text())
    return ("Uniform query, three-parameter head (d: the offset in T = C N²/(ln N + d); in brackets the "
            "derived L-flow):\n\n" + utable(u))


def ablation_bullet(results: Path) -> str:
    d = json.loads((results / "ablation.json").read_text())
    a, m = d["analysis"], d["meta"]
    n = m["Ns"][-1]
    g4, g24, full, no4, g2 = (a[k] for k in ("head + gamma4", "head + gamma2 + gamma4", "all 19", "all but gamma4",
                                             "head + gamma2"))
    inert = [k.split(" + ")[1] for k, x in a.items() if k.startswith("head + ") and k.count("+") == 1
             and abs(x["T_beta_over_N2"] / a["head"]["T_beta_over_N2"] - 1) < 1e-3
             and abs(x["T_alpha_over_N2"] / a["head"]["T_alpha_over_N2"] - 1) < 1e-3]
    return (f"* **What the other pseudo-parameters do: γ4 alone moves the full flow off Theorem 2.** "
            f"(`python benchmarks/paper/ablation.py`, the head plus other free pseudo-parameters, query last, "
            f"N = {', '.join(str(x) for x in m['Ns'])}, {m['seconds']:.0f} s; table below.) Adding any one of "
            f"{', '.join(inert)} to the head changes T_β and T_α by less than 0.1 % at N = {n}; γ2 slows the head by a "
            f"constant factor (T_β/N² {a['head']['T_beta_over_N2']:.4f} → {g2['T_beta_over_N2']:.4f}, slopes 2); "
            f"γ4 (the read-out of the layer-1 content of the token layer 2 retrieved) gives the order "
            f"{' → '.join(g4['order'])} and slopes below 2 ({g4['slopes']['beta2'][-1]:.3f}, "
            f"{g4['slopes']['alpha3'][-1]:.3f} for T_β, T_α). The head with γ2 and γ4 reproduces the full flow: "
            f"T_β/N² {g24['T_beta_over_N2']:.4f} and T_α/N² {g24['T_alpha_over_N2']:.4f} against "
            f"{full['T_beta_over_N2']:.4f} and {full['T_alpha_over_N2']:.4f} for all 19; every pseudo-parameter but γ4 "
            f"gives Θ(N²) again (slopes {no4['slopes']['beta2'][-1]:.3f}, {no4['slopes']['alpha3'][-1]:.3f}; order "
            f"{' → '.join(no4['order'])}).")


def ablation_table(results: Path) -> str:
    atable = _sibling("ablation").table
    d = json.loads((results / "ablation.json").read_text())
    return ("The head with more free pseudo-parameters (query last; slopes between consecutive N of "
            f"{', '.join(str(x) for x in d['meta']['Ns'])}):\n\n" + atable(d))


def render(results: Path = RESULTS) -> str:
    table = _sibling("theorem2").table
    d = json.loads((results / "theorem2.json").read_text())
    a3, a19 = d["analysis"]["last/3"], d["analysis"]["last/19"]
    last3 = [x for x in d["runs"] if x["query"] == "last" and x["system"] == "3"][-1]
    last19 = [x for x in d["runs"] if x["query"] == "last" and x["system"] == "19"]
    first_swap = next((x["N"] for x in last19 if x["order"] != ["gamma3", "beta2", "alpha3"]), None)

    def sl(a, key):
        return a[key]["local_slope"][-1]
    m = d["meta"]
    out = [START, "",
           f"Measured by `python benchmarks/paper/theorem2.py` (LSODA, rtol {m['rtol']:g}, atol {m['atol']:g}; "
           f"{len(d['runs'])} solves, {m['solve_seconds']:.0f} s of solving, {m['seconds']:.0f} s of wall time on "
           f"{m['workers']} local workers of `gradflow.sweep` on this 2-core machine). Query last, N = 4 … {m['n_max']}:",
           "",
           f"* **3 parameters (α3, β2, γ3), Theorem 2 reproduced with its constants.** Order γ3 → β2 → α3 at every N; "
           f"local slopes at N = {last3['N']}: T_γ {sl(a3, 'gamma3(0.5)'):.4f}, T_β {sl(a3, 'beta2(0.5)'):.4f}, "
           f"T_α {sl(a3, 'alpha3(0.5)'):.4f}, T_loss {sl(a3, 'T_loss'):.4f} (1, 2, 2, 2 in theory); the derived "
           f"constants 2 ln 2, 4√(π/2) erf(1/(2√2)), 4√(π/2) erf(1/√2) and τ* = 4√(π/2) agree with the runs to the "
           f"relative gaps in the table below ([derivations/paper/](derivations/paper/README.md) §4).",
           f"* **19 parameters: T_γ = Θ(N) (local slope {sl(a19, 'gamma3(0.5)'):.4f} at N = {last19[-1]['N']}), but the "
           f"order is γ3 → α3 → β2 from N = {first_swap} on, and Θ(N²) is not reached by N = {last19[-1]['N']}:** "
           f"the local slopes of T_β, T_α and T_loss are {sl(a19, 'beta2(0.5)'):.3f}, {sl(a19, 'alpha3(0.5)'):.3f} and "
           f"{sl(a19, 'T_loss'):.3f} there, still rising with every doubling (T_β by "
           f"{a19['beta2(0.5)']['local_slope'][-1] - a19['beta2(0.5)']['local_slope'][-2]:.4f} in the last one), with "
           "T/N² still falling; whether they reach 2 is not settled within these N. SPEC-paper's "
           "order γ3 → β2 → α3 and its Θ(N²) hold for the self-contained three-parameter head; for the full flow of "
           "this reconstruction the order differs and the N² law is at best approached from below. "
           f"Pseudo-parameters that move: {', '.join(last19[-1]['moved'])} (α2 and β5 … β8 never do); "
           "trajectory rank (singular values above 1e-10 of the largest) "
           + ", ".join(f"{r} at N = {'/'.join(str(x['N']) for x in last19 if x['rank'] == r)}"
                       for r in sorted({x['rank'] for x in last19}, reverse=True)) + ".",
           ablation_bullet(results),
           uniform_bullet(results),
           "", table(d).strip(), "", "![Theorem 2: T(N) and local slopes](benchmarks/results/paper/theorem2.png)", "",
           ablation_table(results), "", uniform_table(results), "", END]
    return "\n".join(out)
