"""Render the README's "Results" block from the JSON the benchmarks wrote.

``python tools/readme_blocks.py --write`` replaces the text between the markers
``<!-- results:start -->`` and ``<!-- results:end -->`` in README.md (with every other
rendered block). tests/test_readme.py fails when the README and the JSON disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "tokens"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _f(x, spec):
    return "—" if x is None else format(x, spec)


def render(results: Path = RESULTS) -> str:
    sc = json.loads((results / "scaling.json").read_text())
    an = sc["analysis"]
    cols = [("theta", "19", "N+1"), ("theta", "3", "N+1"), ("weights", "19", "N+1"), ("weights", "3", "N+1"),
            ("theta", "19", "2N"), ("theta", "3", "2N")]
    keys = [f"{f}/{s}/L={r}" for f, s, r in cols]
    m = sc["meta"]
    out = [START, "",
           f"Measured on this 2-core machine by `python benchmarks/tokens/scaling.py` ({m['method']}, rtol {m['rtol']:g}, "
           f"atol {m['atol']:g}; all {len(sc['runs'])} solves took {m['total_seconds']:.0f} s; re-solving the "
           f"{sc['tolerance_check']['n_solves']} emerged runs at N = "
           f"{', '.join(str(n) for n in sc['tolerance_check']['N'])} with rtol/10 changes T by at most "
           f"{sc['tolerance_check']['max_rel_change_T']:.1e}). "
           "T(N) is the first t with loss < ½ log N; in brackets, the local slope d ln T/d ln N from the "
           "previous N. K = N. \"—\": no emergence before 1000·N² (θ-flow).", "",
           "| N | " + " | ".join(keys) + " |", "|---:|" + "---:|" * len(keys)]
    Ns = an[keys[0]]["N"]
    for k, N in enumerate(Ns):
        cells = []
        for key in keys:
            T = an[key]["T"][k]
            slope = an[key]["local_slope"][k - 1] if k else None
            cells.append(_f(T, ".4g") + (f" ({_f(slope, '.3f')})" if k else ""))
        out.append(f"| {N} | " + " | ".join(cells) + " |")
    out += ["", "Least-squares slope of ln T against ln N over the largest decade, and p of a fit "
            "T ∝ N²(ln N)^p over the same points:", "",
            "| configuration | N range | slope | p |", "|---|---|---:|---:|"]
    for key in keys:
        fit = an[key]["largest_decade"]
        rng = fit["N_range"]
        out.append(f"| {key} | {'—' if rng is None else f'{rng[0]:g}–{rng[1]:g}'} | {_f(fit['slope'], '.3f')} | "
                   f"{_f(fit['p_log'], '.3f')} |")
    heur = an[keys[0]]["heuristic_slope"][-1]
    out += ["", f"For comparison, T ∝ N²/√(ln N) would have local slope 2 − 1/(2 ln N) = {heur:.3f} at the last "
            "midpoint.", "", "![T(N) and local slopes](benchmarks/results/tokens/scaling_T.png)", "",
            "![emergence times of γ3, β2, α3](benchmarks/results/tokens/scaling_params.png)", ""]
    tk = sc["takeover_L2N"]
    out += [f"L = 2N, N = {tk['N']}: the 19-parameter θ-flow's induction head comes at T = {tk['T_19']:.4g}, "
            f"{tk['ratio']:.0f}× later than the 3-parameter subsystem's ({tk['T_3']:.4g}). Half-way there the "
            f"loss sits at {tk['loss_at_half_T']:.3f} ≈ log N = {__import__('math').log(tk['N']):.3f} with "
            f"α4 = {tk['theta_at_half_T']['alpha4']:.2f}, α3 = {tk['theta_at_half_T']['alpha3']:.2f}, "
            f"γ1 = {tk['theta_at_half_T']['gamma1']:.1f}, γ3 = {tk['theta_at_half_T']['gamma3']:.1f}: the "
            "\"copy any context label\" solution.", "",
            "![L = 2N take-over](benchmarks/results/tokens/takeover_L2N.png)", ""]
    asym = results / "asymptotics.json"
    if asym.exists():
        a = json.loads(asym.read_text())
        rows = [r for r in a["rows"] if r["system"] == "3"]
        out += ["Plateau escape of the 3-parameter θ-flow (derivations/tokens/asymptotics.md), measured vs the exact "
                "linear law t_β2(c) = arccosh(1 + cC/A)/C:", "",
                "| N | t_β2(0.1) measured / law | t_β2(1) measured / law | T/N² | T·√(ln N)/N² |",
                "|---:|---:|---:|---:|---:|"]
        for r in rows:
            out.append(f"| {r['N']}{' (extra)' if r['extra_run'] else ''} | {r['t_beta2(0.1)']:.5g} / "
                       f"{r['t_beta2(0.1) predicted']:.5g} | {r['t_beta2(1)']:.5g} / {r['t_beta2(1) predicted']:.5g} | "
                       f"{r['T_over_N2']:.4f} | {r['T_sqrt_lnN_over_N2']:.4f} |")
        out.append("")
    lim = results / "large_n_limit.json"
    if lim.exists():
        d = json.loads(lim.read_text())
        c = d["constants"]
        meas = d["measured_T_over_N2"]
        out += ["Large-N limit of the 3-parameter θ-flow (`python benchmarks/tokens/large_n_limit.py`, "
                "derivations/tokens/asymptotics.md §3–§5). Measured T/N² of the exact flow: "
                + ", ".join(f"{v:.3f} (N = {k})" for k, v in meas.items() if int(k) >= 256)
                + f". The limit's deficit ln N − 𝓛 approaches (3/2) ln τ + {c['DEFICIT_CONSTANT']:.4f} "
                f"(at τ = {d['infinite_flow'][-1]['tau']:g}: off by {d['infinite_flow'][-1]['deficit_minus_law']:+.4f}), "
                f"so T/N² → {c['K_EMERGENCE']:.5f}·N^(1/3). The capped limit model, started from the exact "
                "N = 2048 state at τ = 3, predicts:", "",
                "| N | T/N², model | K·N^(1/3) | model / law |", "|---:|---:|---:|---:|"]
        for r in d["predicted"]:
            out.append(f"| 2^{r['log2_N']} | {r['tau_star']:.4g} | {r['law']:.4g} | {r['tau_star'] / r['law']:.3f} |")
        sc_ = {r["N"]: r["tau_star_model"] for r in d["model_self_check"]}
        out += ["", f"Started before emergence (N = 2048 state at τ = 2.5) the model gives T/N² = {sc_[2048]:.3f} "
                f"at N = 2048 (exact {meas['2048']:.3f}) and {sc_[4096]:.3f} at N = 4096 (exact {meas['4096']:.3f}): "
                "it ignores that larger N escape earlier, so at intermediate N its T/N² is an over-estimate "
                "and the N where T/N² turns upward is not pinned down.", "",
                "![large-N limit](benchmarks/results/tokens/large_n_limit.png)", ""]
    sp = results / "speed.json"
    if sp.exists():
        s = json.loads(sp.read_text())
        acc = s["meta"]["accuracy"]
        out += ["Speed (`python benchmarks/tokens/speed.py`, medians; measured with gradflow 0.1's kernels, before "
                "the first-hour changes below): `solve(N, flow=\"weights\", method=\"LSODA\")` to "
                "emergence against plain GD on the full reference transformer (exact population gradient) to "
                "the same loss, ½ log N, with step η = T(N)/k. GD's error in T is first order in η.", "",
                "| N | solve s (error in T) | k | GD s | T_GD/T − 1 | ratio, measured |", "|---:|---:|---:|---:|---:|---:|"]
        for r in s["gd_vs_solve"]:
            for x in r["gd"]:
                out.append(f"| {r['N']} | {r['solve_seconds']:.3f} ({r['solve_rel_err']:.0e}) | {x['k']} | "
                           f"{x['seconds']:.1f} | {x['rel_err']:+.2e} | {x['ratio']:.0f}× |")
        out += ["", f"Projected from the measured error law T_GD/T − 1 = c/k and the measured time per GD step: "
                f"GD that matches T to {acc:g}, and GD at η = 1.", "",
                "| N | c | GD s per step | ratio at equal accuracy (projected) | ratio at η = 1 (projected) |",
                "|---:|---:|---:|---:|---:|"]
        for r in s["gd_vs_solve"]:
            out.append(f"| {r['N']} | {r['c']:.3g} | {r['gd_seconds_per_step'] * 1e3:.2f} ms | "
                       f"{r['ratio_for_accuracy_projected']:.3g}× | {r['ratio_eta1_projected']:.3g}× |")
        out += ["", "| N | gradient ms | Hessian ms | solve (LSODA) s |", "|---:|---:|---:|---:|"]
        for r in s["cost_vs_N"]:
            out.append(f"| {r['N']} | {r['grad_seconds'] * 1e3:.3f} | {r['hessian_seconds'] * 1e3:.1f} | "
                       f"{_f(r.get('solve_seconds'), '.2f')} |")
        out += ["", f"`python -m gradflow.derive`: {s['derive_seconds']:.2f} s. Before (gradflow 0.1): cold start "
                f"(empty Numba cache, compiling) vs warm (cache on disk) `solve(N=64)`:", "",
                "| flow | method | cold s | warm s | hot s | nfev | njev |", "|---|---|---:|---:|---:|---:|---:|"]
        for r in s["cold_warm"]:
            out.append(f"| {r['flow']} | {r['method']} | {r['cold_first_solve']:.1f} | {r['warm_first_solve']:.2f} | "
                       f"{r['hot_solve']:.2f} | {r['nfev']} | {r['njev']} |")
        out.append("")
    fh = results / "first_hour.json"
    if fh.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        try:
            from first_hour import markdown
        finally:
            sys.path.pop(0)
        out += ["After (`python benchmarks/tokens/first_hour.py`, this machine, "
                f"{json.loads(fh.read_text())['meta']['date']}):", "", markdown(json.loads(fh.read_text()))]
    out.append(END)
    return "\n".join(out)
