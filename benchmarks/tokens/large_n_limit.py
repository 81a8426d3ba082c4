"""The large-N limit of the 3-parameter θ-flow, checked against the exact flow, and what it
predicts for T(N) beyond the N we can solve (derivations/tokens/asymptotics.md §3–§5).

1. per-query losses: exact (SPEC §4) against the limit density λ(x; G, B), on the exact
   trajectories at N = 512, 1024, 2048 (τ = t/N², G = γ3/N, B = β2/N);
2. the capped limit model, started from the exact state at τ = 4, against the exact flow at
   τ = 6 and 8 (G, B and 𝓛 − ln N);
3. Λ(G, B) + ln(G B²) → −4 at large G = B;
4. the N = ∞ flow from the N = 2048 state at τ = 4 up to τ = 1e5: the deficit ln N − 𝓛 against
   (3/2) ln τ + DEFICIT_CONSTANT, and G²/τ → 2, B²/τ → 4;
5. τ*(N) = T/N² of the capped model (started from the N = 2048 state at τ = 3) for
   N = 2^16 … 2^60, against the asymptotic law K·N^{1/3}.

Reads ``<out>/scaling.json`` and ``<out>/asymptotics.json`` (measured T/N²); writes
``<out>/large_n_limit.json``, ``.md`` and ``.png``. Run: ``python benchmarks/tokens/large_n_limit.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.systems.tokens import continuum

P3 = ("alpha3", "beta2", "gamma3")
A3, B2, G3 = (gf.NAMES.index(n) for n in P3)
TAUS = (2.5, 3.0, 4.0, 6.0, 8.0)
XS = (0.3, 0.5, 0.7, 0.9)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def exact_states(N, rtol):
    """(τ, G, B, α3, 𝓛 − ln N) on the exact 3-parameter θ-flow at the times TAUS."""
    r = gf.solve(N, system="tokens", params=P3, method="LSODA", rtol=rtol)
    out = {}
    for tau in TAUS:
        th = r.theta_at(tau * N * N)
        out[tau] = {"G": th[G3] / N, "B": th[B2] / N, "alpha3": th[A3],
                    "deficit": float(np.log(N) - gf.loss(th, r.task))}
    return {"T_over_N2": r.emergence["T"] / N ** 2, "states": out}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "tokens")
    p.add_argument("--rtol", type=float, default=1e-7)
    args = p.parse_args(argv)
    start = time.perf_counter()
    exact = {}
    for N in (512, 1024, 2048):
        log(f"exact 3-parameter flow at N = {N} ...")
        exact[N] = exact_states(N, args.rtol)

    # 1. per-query losses, exact vs the limit density
    per_query = []
    for N, e in exact.items():
        for tau in (2.5, 3.0, 4.0):
            s = e["states"][tau]
            q = continuum.query_losses(s["alpha3"], s["B"] * N, s["G"] * N, N) - np.log(N)
            for x in XS:
                per_query.append({"N": N, "tau": tau, "x": x, "exact": float(q[int(round(x * N)) - 1]),
                                  "limit": continuum.deficit_density(x, s["G"], s["B"])})

    # 2. the capped model from τ = 4 against the exact flow
    model_vs_exact = []
    for N, e in exact.items():
        s4 = e["states"][4.0]
        sol = continuum.limit_flow(s4["G"], s4["B"], 4.0, 8.0, N=N)
        for tau in (6.0, 8.0):
            G, B = sol.sol(tau)
            ex = e["states"][tau]
            model_vs_exact.append({"N": N, "tau": tau, "G_model": float(G), "G_exact": ex["G"],
                                   "B_model": float(B), "B_exact": ex["B"],
                                   "deficit_model": -continuum.loss_model(G, B, N), "deficit_exact": ex["deficit"]})
    log("model vs exact done")

    # 3. Λ(G, B) + ln(G B²) → −4 at large G = B
    large = [{"G": v, "B": v, "Lambda_plus_ln_GB2": continuum.loss_model(v, v, n_x=128) + 3 * np.log(v)}
             for v in (10.0, 100.0, 1e3, 1e4)]

    # 4. the N = ∞ flow: the deficit law
    s4 = exact[2048]["states"][4.0]
    sol = continuum.limit_flow(s4["G"], s4["B"], 4.0, 1e5)
    infinite = []
    for tau in (4.0, 8.0, 64.0, 1024.0, 16384.0, 1e5):
        G, B = sol.sol(tau)
        D = -continuum.loss_model(G, B)
        infinite.append({"tau": tau, "G": float(G), "B": float(B), "G2_over_tau": float(G * G / tau),
                         "B2_over_tau": float(B * B / tau), "deficit": D,
                         "deficit_minus_law": D - 1.5 * np.log(tau) - continuum.DEFICIT_CONSTANT})
    log("N = infinity flow done")

    # 5. τ*(N) of the capped model; first its own check: from the N = 2048 state at τ = 2.5
    s25 = exact[2048]["states"][2.5]
    self_check = []
    for N in (2048, 4096):
        sol = continuum.limit_flow(s25["G"], s25["B"], 2.5, 100.0, N=N, stop_at_half_log_N=True)
        self_check.append({"N": N, "tau_star_model": sol.tau_emergence})
    s3 = exact[2048]["states"][3.0]
    predicted = []
    for k in (16, 18, 20, 24, 28, 32, 40, 50, 60):
        N = 2.0 ** k
        sol = continuum.limit_flow(s3["G"], s3["B"], 3.0, 1e9, N=N, stop_at_half_log_N=True)
        predicted.append({"log2_N": k, "tau_star": sol.tau_emergence,
                          "law": continuum.K_EMERGENCE * N ** (1 / 3)})
        log(f"model: N = 2^{k}: T/N² = {sol.tau_emergence:.4g} (law {continuum.K_EMERGENCE * N ** (1 / 3):.4g})")

    sc = json.loads((args.out / "scaling.json").read_text())
    measured = {x["N"]: x["T"] / x["N"] ** 2 for x in sc["runs"]
                if (x["flow"], x["system"], x["rule"]) == ("theta", "3", "N+1")}
    asym = args.out / "asymptotics.json"
    if asym.exists():
        for x in json.loads(asym.read_text()).get("extra_runs", []):
            measured[x["N"]] = x["T"] / x["N"] ** 2
    data = {"per_query": per_query, "model_vs_exact": model_vs_exact, "large_G_B": large, "infinite_flow": infinite,
            "model_self_check": self_check,
            "predicted": predicted, "measured_T_over_N2": {str(k): v for k, v in sorted(measured.items())},
            "exact_states": {str(N): {"T_over_N2": e["T_over_N2"], "states": {str(t): s for t, s in e["states"].items()}}
                             for N, e in exact.items()},
            "constants": {"DEFICIT_CONSTANT": continuum.DEFICIT_CONSTANT, "K_EMERGENCE": continuum.K_EMERGENCE},
            "seconds": time.perf_counter() - start}
    (args.out / "large_n_limit.json").write_text(json.dumps(data, indent=1))
    text = report(data)
    (args.out / "large_n_limit.md").write_text(text + "\n")
    print(text)
    figure(data, sol_inf=infinite, out=args.out)


def report(d) -> str:
    lines = ["1. Per-query loss − ln N: exact (SPEC §4) / limit density λ(x; G, B)",
             "| N | τ | " + " | ".join(f"x = {x}" for x in XS) + " |", "|---:|---:|" + "---:|" * len(XS)]
    for N in (512, 1024, 2048):
        for tau in (2.5, 3.0, 4.0):
            cells = [r for r in d["per_query"] if r["N"] == N and r["tau"] == tau]
            lines.append(f"| {N} | {tau:g} | " + " | ".join(f"{r['exact']:.3f} / {r['limit']:.3f}" for r in cells) + " |")
    lines += ["", "2. Capped limit model from the exact state at τ = 4 vs the exact flow (model / exact)",
              "| N | τ | G | B | ln N − 𝓛 |", "|---:|---:|---:|---:|---:|"]
    for r in d["model_vs_exact"]:
        lines.append(f"| {r['N']} | {r['tau']:g} | {r['G_model']:.3f} / {r['G_exact']:.3f} | "
                     f"{r['B_model']:.3f} / {r['B_exact']:.3f} | {r['deficit_model']:.3f} / {r['deficit_exact']:.3f} |")
    c = d["constants"]
    lines += ["", "3. Λ(G, B) + ln(G B²) at large G = B (→ −4)", "| G = B | Λ + ln(G B²) |", "|---:|---:|"]
    lines += [f"| {r['G']:g} | {r['Lambda_plus_ln_GB2']:.5f} |" for r in d["large_G_B"]]
    lines += ["", f"4. N = ∞ flow from the N = 2048 state at τ = 4: deficit D = ln N − 𝓛 against "
              f"(3/2) ln τ + {c['DEFICIT_CONSTANT']:.4f}", "| τ | G | B | G²/τ | B²/τ | D | D − law |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in d["infinite_flow"]:
        lines.append(f"| {r['tau']:g} | {r['G']:.4g} | {r['B']:.4g} | {r['G2_over_tau']:.4f} | {r['B2_over_tau']:.4f} | "
                     f"{r['deficit']:.4f} | {r['deficit_minus_law']:+.4f} |")
    lines += ["", "5. The capped model from the exact N = 2048 state at τ = 2.5 (before emergence): T/N² "
              + ", ".join(f"{r['tau_star_model']:.4f} at N = {r['N']} (exact flow: "
                          f"{d['measured_T_over_N2'].get(str(r['N']), float('nan')):.4f})" for r in d["model_self_check"])]
    lines += ["", f"T/N² of the capped model (from the N = 2048 state at τ = 3) vs the law "
              f"K·N^(1/3), K = {c['K_EMERGENCE']:.5f}", "| N | model T/N² | law | model / law |",
              "|---:|---:|---:|---:|"]
    for r in d["predicted"]:
        lines.append(f"| 2^{r['log2_N']} | {r['tau_star']:.4g} | {r['law']:.4g} | {r['tau_star'] / r['law']:.3f} |")
    lines += ["", "Measured T/N² (exact flow): " + ", ".join(f"{k}: {v:.4f}" for k, v in d["measured_T_over_N2"].items())]
    return "\n".join(lines)


def figure(d, sol_inf, out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6))
    m = d["measured_T_over_N2"]
    ax.loglog([int(k) for k in m], list(m.values()), "o-", color="C1", label="exact flow (measured)")
    pr = d["predicted"]
    ax.loglog([2.0 ** r["log2_N"] for r in pr], [r["tau_star"] for r in pr], "s--", color="C0",
              label="capped limit model (from the N = 2048 state at τ = 3)")
    Ns = np.geomspace(4, 2.0 ** 60, 200)
    ax.loglog(Ns, d["constants"]["K_EMERGENCE"] * Ns ** (1 / 3), "k:", label="law K·N^(1/3): T ~ 0.0219·N^(7/3)")
    ax.set_xlabel("N")
    ax.set_ylabel("T(N)/N²")
    ax.set_title("3-parameter θ-flow, L = N + 1", fontsize=9)
    ax.legend(fontsize=8)
    taus = np.array([r["tau"] for r in sol_inf])
    bx.semilogx(taus, [r["deficit"] for r in sol_inf], "o-", color="k", label="N = ∞ flow: D(τ)")
    tt = np.geomspace(4, 1e5, 50)
    bx.semilogx(tt, 1.5 * np.log(tt) + d["constants"]["DEFICIT_CONSTANT"], "k:", lw=0.8,
                label="(3/2) ln τ + ln(4√2) + 4")
    for N, colour in (("512", "C2"), ("1024", "C3"), ("2048", "C4")):
        st = d["exact_states"][N]["states"]
        bx.semilogx([float(t) for t in st], [s["deficit"] for s in st.values()], "s-", color=colour,
                    label=f"exact, N = {N} (ln N = {np.log(int(N)):.2f})")
    bx.set_xlabel("τ = t/N²")
    bx.set_ylabel("ln N − loss")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "large_n_limit.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
