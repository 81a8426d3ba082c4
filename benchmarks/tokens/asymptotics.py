"""Check the plateau-escape law of derivations/tokens/asymptotics.md against benchmarks/tokens/scaling.py.

For the 3-parameter θ-flow (L = N + 1) the quadratic expansion of 𝓛 about θ = 0 gives
γ3' = A + C·β2, β2' = C·γ3 with A = −∂𝓛/∂γ3(0) and C = −∂²𝓛/∂β2∂γ3(0) (computed exactly here
by gradflow), hence β2(t) = (A/C)(cosh Ct − 1) and t_β2(c) = arccosh(1 + cC/A)/C. This script
compares that prediction with the measured t_β2(0.1) and t_β2(1), and tabulates C·T(N) against
ln λ (λ = ln N + γ_E − 1 ≈ 4N²C), the quantity the law says grows like ln λ + const.

Reads ``<out>/scaling.json``; writes ``<out>/asymptotics.json``, ``asymptotics.md`` and
``asymptotics.png``. Run: ``python benchmarks/tokens/asymptotics.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import gradflow as gf

B2, G3 = gf.NAMES.index("beta2"), gf.NAMES.index("gamma3")


def escape_constants(N):
    task = gf.Task(N)
    A = -gf.grad(np.zeros(19), task)[G3]
    H = gf.hessian(np.zeros(19), task)
    return A, -H[B2, G3], float(np.max(np.linalg.eigvalsh(-H)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "tokens")
    p.add_argument("--extra-N", type=int, nargs="*", default=[],
                   help="also solve the 3-parameter θ-flow at these N (beyond the scaling study)")
    args = p.parse_args(argv)
    data = json.loads((args.out / "scaling.json").read_text())
    meta = data["meta"]
    extra = []
    previous = args.out / "asymptotics.json"
    done = {r["N"]: r for r in json.loads(previous.read_text()).get("extra_runs", [])} if previous.exists() else {}
    for N in args.extra_N:
        if N in done and done[N].get("rtol") == meta["rtol"]:
            extra.append(done[N])                   # solved before with the same settings: reuse
            continue
        print(f"solving the 3-parameter θ-flow at N = {N} ...", flush=True)
        r = gf.solve(N, system="tokens", params=("alpha3", "beta2", "gamma3"), method=meta["method"], rtol=meta["rtol"],
                     atol=meta["atol"])
        extra.append({"N": N, "T": r.emergence["T"], "t_p": r.metadata()["emergence"]["t_p"],
                      "system": "3", "flow": "theta", "rule": "N+1", "extra": True,
                      "wall_seconds": r.stats["wall_seconds"], "rtol": meta["rtol"]})
    rows = []
    for system in ("3", "19"):
        runs = [r for r in data["runs"] + extra if (r["flow"], r["rule"], r["system"]) == ("theta", "N+1", system)]
        for r in runs:
            N = r["N"]
            A, C, mu = escape_constants(N)
            lam = np.log(N) + np.euler_gamma - 1
            row = {"system": system, "N": N, "A_2N2": A * 2 * N * N, "C_4N2": C * 4 * N * N, "lambda": lam,
                   "T": r["T"], "C_T": C * r["T"], "ln_lambda": float(np.log(lam)), "mu_over_C": mu / C,
                   "T_over_N2": r["T"] / N ** 2, "T_sqrt_lnN_over_N2": r["T"] * np.sqrt(np.log(N)) / N ** 2,
                   "extra_run": bool(r.get("extra", False))}
            for c in ("0.1", "1"):
                pred = float(np.arccosh(1 + float(c) * C / A) / C)
                row[f"t_beta2({c})"] = r["t_p"]["beta2"][c]
                row[f"t_beta2({c}) predicted"] = pred
            rows.append(row)
    three = [r for r in rows if r["system"] == "3"]
    x = np.array([r["ln_lambda"] for r in three])
    y = np.array([r["C_T"] for r in three])
    big = np.array([r["N"] for r in three]) >= max(r["N"] for r in three) / 10
    slope, intercept = np.polyfit(x[big], y[big], 1)
    result = {"rows": rows, "fit_largest_decade": {"slope": float(slope), "intercept": float(intercept)},
              "extra_runs": extra}
    (args.out / "asymptotics.json").write_text(json.dumps(result, indent=1))
    lines = ["| system | N | 2N²A | 4N²C | λ = ln N + γ_E − 1 | t_β2(0.1) measured / predicted | "
             "t_β2(1) measured / predicted | C·T(N) | C·T − ln λ | T/N² | T·√(ln N)/N² |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['N']} | {r['A_2N2']:.4f} | {r['C_4N2']:.4f} | {r['lambda']:.4f} | "
                     f"{r['t_beta2(0.1)']:.5g} / {r['t_beta2(0.1) predicted']:.5g} | "
                     f"{r['t_beta2(1)']:.5g} / {r['t_beta2(1) predicted']:.5g} | {r['C_T']:.4f} | "
                     f"{r['C_T'] - r['ln_lambda']:.4f} | {r['T_over_N2']:.4f} | {r['T_sqrt_lnN_over_N2']:.4f} |"
                     + (" (extra run)" if r["extra_run"] else ""))
    lines.append(f"\n3-parameter system, N ≥ {max(r['N'] for r in three) // 10}: C·T = {slope:.3f}·ln λ + "
                 f"{intercept:.3f} (least squares)")
    (args.out / "asymptotics.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system, colour in (("3", "C1"), ("19", "C0")):
        rs = [r for r in rows if r["system"] == system]
        ax.plot([r["ln_lambda"] for r in rs], [r["C_T"] for r in rs], "o-", color=colour,
                label=f"{system} parameters: C·T(N)")
    xx = np.linspace(x.min(), x.max(), 50)
    ax.plot(xx, slope * xx + intercept, "k:", label=f"fit, N ≥ {max(r['N'] for r in three) // 10}: "
                                                      f"{slope:.2f} ln λ + {intercept:.2f}")
    ax.set_xlabel("ln λ,  λ = ln N + γ_E − 1")
    ax.set_ylabel("C·T(N)  (C = −∂²L/∂β2∂γ3 at 0 ≈ λ/4N²)")
    ax.legend(fontsize=8)
    Ns = [r["N"] for r in three]
    for c, m in (("0.1", "o"), ("1", "s")):
        bx.loglog(Ns, [r[f"t_beta2({c})"] for r in three], m, color="C1", label=f"t_β2({c}) measured")
        bx.loglog(Ns, [r[f"t_beta2({c}) predicted"] for r in three], "-", color="k", lw=0.8)
    bx.loglog(Ns, [r["T"] for r in three], "-", color="C3", label="T(N)")
    bx.set_xlabel("N")
    bx.set_title("3 parameters; lines: arccosh(1 + cC/A)/C", fontsize=9)
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "asymptotics.png", dpi=120)


if __name__ == "__main__":
    main()
