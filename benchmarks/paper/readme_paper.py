"""Render the README's "paper: Theorem 2" block from benchmarks/results/paper/theorem2.json,
ablation.json and uniform_law.json.

``python tools/readme_blocks.py --write`` replaces the text between
``<!-- paper-results:start -->`` and ``<!-- paper-results:end -->`` in README.md (with every other
rendered block). tests/paper/test_readme_paper.py fails when the README and the JSON disagree.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
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


def quadrature_bullet(results: Path) -> str:
    d = json.loads((results / "quadrature.json").read_text())
    agree, large = d["agreement"], d["large"]
    big = next(x for x in large if x["N"] == 2 ** 20)
    return (f"* **Large N: the key sums by quadrature.** Above N = 65536 (query last) the O(N) sums over the keys "
            f"are taken exactly for keys 1 … {d['meta']['exact']} and N and by interpolatory panels of "
            f"{d['meta']['nodes']} nodes in the smooth middle (`gradflow/systems/paper/quadrature.py`: "
            "the error bound, about 2e-15 relative, is stated there). Against the exact sums "
            f"(`python benchmarks/paper/quadrature.py`): at rtol 1e-11 the emergence times differ by at most "
            f"{max(x['tight_max_rel_diff'] for x in agree if 'tight_max_rel_diff' in x):.1e} relative for N = "
            f"{', '.join(str(x['N']) for x in agree if 'tight_max_rel_diff' in x)}, and at the default tolerances by "
            f"{max(x['default_max_rel_diff'] for x in agree):.1e} up to N = {agree[-1]['N']} (the integrator's own "
            "error); "
            f"along the exact trajectories the gradient differs by at most {max(x['trajectory_grad'] for x in agree):.1e} "
            f"of its largest entry and the loss by {max(x['trajectory_loss'] for x in agree):.1e} relative where "
            "𝓛 ≥ 1e-8 (late in training 1 − Y_q multiplies the sums' relative error of about 1e-15 by 1/√𝓛). The "
            f"19-parameter flow at N = 2²⁰ takes {big['seconds']:.1f} s ({big['keys']} keys per evaluation), at "
            f"N = 10⁶ {next(x for x in large if x['N'] == 10 ** 6)['seconds']:.1f} s; the exact sums took "
            f"{next(x for x in agree if x['N'] == 65536)['default_exact_seconds']:.0f} s at N = 65536.")


def training_bullet(results: Path) -> str:
    d = json.loads((results / "training.json").read_text())
    rows, k = d["paper"], d["markov"]
    done = [r for r in rows if not r["projected"]]
    errors = ["{:.1e}".format(r["gd"][1]["t_ICL"] / r["t_ICL"] - 1) for r in done]
    last = rows[-1]
    return (f"* **Against training** (`python benchmarks/paper/training.py`; table below): GD on the full-weight "
            f"model from W = 0 reaches the flow's t_ICL to first order in its step (measured at "
            f"N = {', '.join(str(r['N']) for r in done)}: relative error {', '.join(errors)} "
            "at η0/2). To 1e-3 relative, GD in NumPy takes "
            + ", ".join(f"{r['numpy_seconds_star'] / r['solve_seconds']:.3g}×" for r in rows)
            + f" the solve's wall time at N = {', '.join(str(r['N']) for r in rows)}"
            + (f" (from N = {min(r['N'] for r in rows if r['projected'])} on projected from measured seconds per step)"
               if any(r["projected"] for r in rows) else "")
            + (f"; the same model in PyTorch (torch {d['meta']['torch']}, CPU, float64) "
               f"{last['torch_step'] / last['numpy_step']:.2f}× NumPy's time per step at N = {last['N']}"
               if last["torch_step"] else "")
            + f". markov at the authors' setting: their GD at lr 1 costs {k['gd_step_seconds']:.2f} s per step, "
              f"{k['gd_seconds_projected']:.0f} s for {k['gd_steps']} steps (projected), {k['gd_seconds_projected'] / k['solve_seconds']:.0f}× "
              f"the flow's {k['solve_seconds']:.1f} s solve.")


def _family(results: Path):
    d = json.loads((results / "family.json").read_text())

    def row(q, which, N):
        return next((r for r in d["rows"] if r["question"] == q and r["which"] == which and r["N"] == N), None)
    return d, row


def family_section(results: Path) -> str:
    """"What changes if …": one sentence per question, every number from family.json."""
    d, row = _family(results)
    alls = {q: {r["N"] for r in d["rows"] if r["question"] == q and r["which"] == "all"}
            for q in ("paper", "mask=self", "labels=same", "loss=ce")}
    n = max(set.intersection(*alls.values()))                  # every question's full flow measured
    nm = max(alls["mask=self"] & alls["paper"])
    nl = max(alls["labels=same"] & alls["paper"])
    nh = max(r["N"] for r in d["rows"] if r["question"] == "mask=self" and r["which"] == "head")
    ns = max(r["N"] for r in d["rows"] if r["question"] == "labels=same" and r["which"] == "head")
    p3, p19 = row("paper", "head", n), row("paper", "all", n)
    m3h, p3h = row("mask=self", "head", nh), row("paper", "head", nh)
    s3s, p3s = row("labels=same", "head", ns), row("paper", "head", ns)
    m3, m19 = row("mask=self", "head", n), row("mask=self", "all", n)
    s3, s19 = row("labels=same", "head", n), row("labels=same", "all", n)
    c3, c19, c19n = row("loss=ce", "head", n), row("loss=ce", "all", n // 2), row("loss=ce", "all", n)
    cu = max((r for r in d["rows"] if r["question"] == "loss=ce, uniform" and r["which"] == "all"), key=lambda r: r["N"])
    cu_heads = sorted((r for r in d["rows"] if r["question"] == "loss=ce, uniform" and r["which"] == "head"
                       and r["status"] == "emerged"), key=lambda r: r["N"])
    cuh = cu_heads[-1] if len(cu_heads) > 1 else None
    cu_slope = (np.log(cuh["t_p"]["beta2"] / cu_heads[-2]["t_p"]["beta2"]) / np.log(cuh["N"] / cu_heads[-2]["N"])
                if cuh else None)

    def c3c_at(N):
        return row("loss=ce", "head", N)["t_p"]["beta2"]
    prev = row("loss=ce", "head", n // 2)
    slope = np.log(c3["t_p"]["beta2"] / prev["t_p"]["beta2"]) / np.log(2)
    nc = max(r["N"] for r in d["rows"] if r["question"] == "loss=ce" and r["which"] == "head")
    c3c, c3p = row("loss=ce", "head", nc), row("loss=ce", "head", nc // 2)
    slope_c = np.log(c3c["t_p"]["beta2"] / c3p["t_p"]["beta2"]) / np.log(2)

    def rel(a, b):
        return f"{100 * (a / b - 1):+.1f} %"
    b_rows = {B: [r for r in d["rows"] if r["question"] == (f"burst={B}" if B > 1 else "paper") and r["which"] == "head"]
              for B in (1, 2, 4, 8)}
    fam = _sibling("family")
    npert = max(fam.CE_PERTURBATION_NS)
    pert = sorted((r for r in d["rows"] if r["question"] == "loss=ce" and r["N"] == npert
                   and r["which"] in ("head", "head from θ0")), key=lambda r: r["theta0"])
    pert_note = ""
    if len(pert) > 1:
        tb = [r["t_p"]["beta2"] for r in pert]
        per_decade = [(tb[k] - tb[k + 1]) / np.log10(pert[k + 1]["theta0"] / pert[k]["theta0"]) for k in range(len(pert) - 1)]
        pert_note = (f" From θ0 = ε on the head at N = {npert}, T_β = "
                     + ", ".join(f"{t:.4g} (ε = {r['theta0']:.0e})" for t, r in zip(tb, pert))
                     + ": each decade of ε less delays it by "
                     + ", ".join(f"{x:.3g}" for x in per_decade)
                     + f" (T_β at ε = 10⁻³ is {tb[[r['theta0'] for r in pert].index(1e-3)]:.4g}), the escape from "
                     "the stationary point at θ = 0 adding a time that grows like ln(1/ε).")
    one = {r["N"]: r for r in b_rows[1]}
    notes = []
    for B in (2, 4, 8):
        rows = {r["N"]: r for r in b_rows[B]}
        ratios = {N: rows[N]["t_ICL"] / one[N // B]["t_ICL"] for N in sorted(rows) if N // B in one and N >= 2 * B}
        if not ratios:
            continue
        shown = sorted({min(ratios), max(ratios)} | ({512} & set(ratios)))
        top = max(rows)
        b_slope = np.log(rows[top]["t_ICL"] / rows[top // 2]["t_ICL"]) / np.log(2) if top // 2 in rows else None
        notes.append(f"B = {B}: " + ", ".join(f"{ratios[N]:.3g} (N = {N})" for N in shown)
                     + (f", local slope of t_ICL(N, {B}) at N = {top}: {b_slope:.3f}" if b_slope is not None else ""))
    burst_note = "t_ICL(N, B)/t_ICL(N/B, 1) for " + "; ".join(notes)
    return "\n".join([
        "## What changes if …", "",
        f"Measured by `python benchmarks/paper/family.py` ({len(d['rows'])} solves, {d['meta']['solve_seconds']:.0f} s; "
        "the generic reference-backed flow of [derivations/paper/family.md](derivations/paper/family.md), "
        "query last unless said; tables below). N = " + str(n) + " unless said.", "",
        f"* **… each token may attend to itself** (`mask=\"self\"`): the head is slower at small N and approaches the "
        f"paper's as N grows (T_α {rel(m3['t_p']['alpha3'], p3['t_p']['alpha3'])}, T_β "
        f"{rel(m3['t_p']['beta2'], p3['t_p']['beta2'])} against the paper's at N = {n}; T_α "
        f"{rel(m3h['t_p']['alpha3'], p3h['t_p']['alpha3'])} at N = {nh}); with every pseudo-parameter "
        f"free, α1 (a token's attention to its own content) grows to {m19['final']['alpha1']:+.3g} and "
        f"T_loss is {rel(m19['T_loss'], p19['T_loss'])} against the paper's, with the order "
        f"{' → '.join(m19['order'])}"
        + (f" (at N = {nm}: T_loss {rel(row('mask=self', 'all', nm)['T_loss'], row('paper', 'all', nm)['T_loss'])})"
           if nm > n else "") + "."
        + (f" At N = {nm} β2 never reaches 0.5 (it ends at {row('mask=self', 'all', nm)['final']['beta2']:+.3g} at "
           f"t = {_sibling('family').T_LIMIT_PER_N2:g} N², status {row('mask=self', 'all', nm)['status']}), while the loss "
           f"falls below ¼ at T_loss = {row('mask=self', 'all', nm)['T_loss']:.4g}; the largest at the end: "
           + ", ".join(f"{k} {v:+.3g}" for k, v in row('mask=self', 'all', nm)['largest'].items()) + "."
           + recheck_note(results, "mask=self")
           if row('mask=self', 'all', nm)['status'] != "emerged" else ""),
        f"* **… a label sits at its item's position** (`labels=\"same\"`, no M cue): 14 pseudo-parameters, α2 in "
        f"α3's role; the head's loss is the paper's with α3 := α2 (it runs on the paper's kernels; under the strict "
        f"mask every member with labels at their item's position runs its rotated twin's head, cross-entropy's too, "
        f"[derivations/paper/family.md](derivations/paper/family.md) §4), so its times equal the paper's "
        f"(T_β {s3['t_p']['beta2']:.6g} against {p3['t_p']['beta2']:.6g} at N = {n}, {s3s['t_p']['beta2']:.6g} against "
        f"{p3s['t_p']['beta2']:.6g} at N = {ns}), "
        f"and with all 14 free T_loss is {rel(s19['T_loss'], p19['T_loss'])} against the paper's 19"
        + (f" ({rel(row('labels=same', 'all', nl)['T_loss'], row('paper', 'all', nl)['T_loss'])} at N = {nl})"
           if nl > n else "") + ": the "
        "M-pseudo-parameters barely matter.",
        f"* **… the loss is cross-entropy** (`loss=\"ce\"`): θ = 0 is a stationary point of the head (every logit equal "
        f"and each content once among the keys); from 10⁻³ it emerges with T_β = {c3['t_p']['beta2']:.4g} "
        f"(local slope {slope:.3f}: Θ(N²), {c3['t_p']['beta2'] / p3['t_p']['beta2']:.3g}× the squared error's; "
        f"on its closed form to N = {nc}: local slope {slope_c:.3f}), "
        f"β2 first.{pert_note} With every pseudo-parameter free the head never completes: at N = {c19['N']} the read-out learns "
        f"to subtract what the query's item saw before it (at the end γ4 = {c19['final']['gamma4']:.4g}, "
        f"γ1 = {c19['final']['gamma1']:.3g}, β1 = {c19['final']['beta1']:+.3g}: the query "
        f"attends to its own item and subtracts it and what came before it; β2 = {c19['final_head']['beta2']:+.3g}), "
        "and y_q is the one content left: the loss scores only the sequence's own contents, "
        f"so elimination answers the query. At N = {c19n['N']}, run on to t = {_sibling('family').T_LIMIT_PER_N2:g} N², the flow has moved to "
        f"another elimination ({', '.join(f'{k} {v:+.4g}' for k, v in c19n['largest'].items())})."
        + recheck_note(results, "loss=ce") + f" With the uniform query (N = {cu['N']}) the flow again leaves the "
        f"head: {', '.join(f'{k} {v:+.3g}' for k, v in cu['largest'].items())} at the end"
        + (f"; its head alone (closed form, O(N²)) emerges to N = {cuh['N']} with T_β = {cuh['t_p']['beta2']:.4g}, "
           f"local slope {cu_slope:.3f}, {cuh['t_p']['beta2'] / c3c_at(cuh['N']):.3g}× the query-last head's" if cuh else "")
        + ".",
        f"* **… the query's item repeats B times** (`burst=B`; t_ICL of the head, compared at equal N/B): "
        f"{burst_note}. So the effective length N/B does not govern emergence: repeats speed it up far more, "
        "and more so as N grows (an early occurrence's label shares its attention with few keys). Each head is "
        "averaged over all its placements exactly (gradflow/systems/paper/burst.py: a recursion over the pairs "
        "inside a quadrature, O(N·B) per node; 10²² placements for B = 8 at N = 4096); with every "
        "pseudo-parameter free the generic flow enumerates them, which limits it to "
        + ", ".join(f"N = {max(r['N'] for r in d['rows'] if r['question'] == f'burst={B}' and r['which'] == 'all')} "
                    f"for B = {B}" for B in (2, 4, 8)) + ".",
        initialisation_bullet(results),
        "", (results / "family.md").read_text().strip(), "",
        "![paper family: what changes if](benchmarks/results/paper/family.png)", "",
        (results / "initialisation.md").read_text().strip(), "",
        "![GD from random weights against the start from zero](benchmarks/results/paper/initialisation.png)"])


def recheck_note(results: Path, question: str) -> str:
    """One sentence on ``question``'s N = 256 full flow solved again at tighter tolerances
    (benchmarks/paper/family_recheck.py), or "" before that benchmark has run."""
    path = results / "family_recheck.json"
    if not path.exists():
        return ""
    d = json.loads(path.read_text())
    c = next((x for x in d["comparison"] if x["question"] == question), None)
    if c is None:
        return ""
    diffs = {k: v for k, v in c["differences"].items() if v is not None}
    worst = max(diffs, key=diffs.get)
    return (f" Solved again at rtol {d['meta']['rtol']:g}, atol {d['meta']['atol']:g} "
            f"(`python benchmarks/paper/family_recheck.py`): status {c['tight']['status']}, order "
            f"{' → '.join(c['tight']['order']) or '–'}{'' if c['same_order'] else ' (not the same)'}, "
            f"β2 at the end {c['tight']['final_head']['beta2']:+.4g}; every head time, the loss time and the head at "
            f"the end within {diffs[worst]:.1e} of the solve at the defaults (largest: {worst}).")


def initialisation_bullet(results: Path) -> str:
    init = _sibling("initialisation")
    d = json.loads((results / "initialisation.json").read_text())
    cases = init._cases(d)
    Ns = [c["meta"]["N"] for c in cases]
    at01 = [init.largest_change(c, 0.01) for c in cases]
    text = ("* **… training starts from small random weights** (`python benchmarks/paper/initialisation.py`; GD on "
            f"the full weights at N = {Ns[0]} … {Ns[-1]} on every frame of the coupled group, whose fixed space is "
            "the population's: "
            + ", ".join(f"{c['meta']['sequences']} framed sequences at D = {c['meta']['D']}"
                        for c in {c["meta"]["D"]: c for c in cases}.values())
            + f"; {min(c['meta']['seeds'] for c in cases)} seeds per σ; tables below). The flow from zero predicts "
            "T_β and T_α to 1 % for σ ≤ " + ", ".join(str(init.threshold(c)) for c in cases)
            + f" (N = {Ns[0]} … {Ns[-1]}); at σ = 0.01 the largest change over the seeds is "
            + ", ".join("–" if v is None else f"{100 * v:.2g} %" for v in at01)
            + ". The random part of the weights first decays (the fraction off the span falls from about 1) and "
            "grows back before T_α (the tables' last column).")
    comp = [r for r in init.comparison(d) if r["gap"] is not None]
    if comp:
        slopes = init.gap_slopes(comp)
        ratios = {r["N"]: r["gap"] / r["coupled"] for r in comp if r["sigma"] == 0.01}
        big = {N: v for N, v in ratios.items() if v >= 0.5}
        text += (f" The same seeds on the product group (N = {min(slopes)} … {max(slopes)}, the same initial weights) "
                 "agree to first order in σ (their gap grows like σ^" + f"{min(slopes.values()):.2f} … σ^{max(slopes.values()):.2f}"
                 + ") but not at second"
                 + (": at σ = 0.01 the gap is " + ", ".join(f"{100 * v:.0f} % of the change at N = {N}" for N, v in big.items())
                    if big else "")
                 + ". Beyond σ ≈ 0.01 the size of the change therefore depends on the data law beyond its symmetry; "
                 f"every seed on either data set is within 1 % for σ ≤ {init.common_threshold(d)} at every N.")
    return text


def _fit(entry) -> str:
    f = entry["limit_fit"]
    return f"s∞ = {f['s_inf']:.4f} ± {f['s_inf_se']:.1g} (k = {f['k']:.2f})"


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
           f"{len(d['runs'])} solves through `gradflow.sweep`, {m['solve_seconds']:.0f} s of solving in all on this "
           "2-core machine). Query last, N = 4 … "
           f"{last19[-1]['N']} for 19 parameters (key sums by quadrature above N = 65536, error at rounding: "
           "[quadrature.md](benchmarks/results/paper/quadrature.md)) and 4 … "
           f"{last3['N']} for 3:",
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
           "T/N² still falling. Extrapolated by fitting the local slopes from N = 8192 on with s∞ − k/(ln N + d) "
           f"(the 3-parameter flow's fits give s∞ = {a3['alpha3(0.5)']['limit_fit']['s_inf']:.4f}, "
           f"{a3['beta2(0.5)']['limit_fit']['s_inf']:.4f}): T_α {_fit(a19['alpha3(0.5)'])}, T_β {_fit(a19['beta2(0.5)'])}, "
           f"T_loss {_fit(a19['T_loss'])}, and at threshold 0.1 t_α {_fit(a19['alpha3(0.1)'])}, "
           f"t_β {_fit(a19['beta2(0.1)'])}. T_α's fit is the law N²/ln N (k ≈ 1), the uniform query's; "
           "the others disagree with it and with each other beyond their standard errors, so the form does not hold "
           "for all of them yet and whether every slope reaches 2 is still not settled at these N. SPEC-paper's "
           "order γ3 → β2 → α3 and its Θ(N²) hold for the self-contained three-parameter head; for the full flow of "
           "this reconstruction the order differs and the N² law is at best approached from below. "
           f"Pseudo-parameters that move: {', '.join(last19[-1]['moved'])} (α2 and β5 … β8 never do); "
           "trajectory rank (singular values above 1e-10 of the largest) "
           + ", ".join(f"{r} at N = {'/'.join(str(x['N']) for x in last19 if x['rank'] == r)}"
                       for r in sorted({x['rank'] for x in last19}, reverse=True)) + ".",
           ablation_bullet(results),
           uniform_bullet(results),
           quadrature_bullet(results),
           training_bullet(results),
           "", table(d).strip(), "", "![Theorem 2: T(N) and local slopes](benchmarks/results/paper/theorem2.png)", "",
           (results / "training.md").read_text().strip(), "",
           "![gradflow against GD on the full weights](benchmarks/results/paper/training.png)", "",
           ablation_table(results), "", uniform_table(results), "", family_section(results), "", END]
    return "\n".join(out)
