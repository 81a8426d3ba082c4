"""Emergence under the optimizers people train with: gradient descent, heavy-ball momentum, Adam and
sign descent (gradflow.optimizers), each as its exact flow on the paper system's full weights
(``flow="weights"``, D = 2N + 2; time t = learning rate × steps), derivations/optimizers.md.

Questions and runs (query last; T_γ, T_β, T_α = Definition-1 times of γ3, β2, α3 at 0.5, T_loss =
first time 𝓛 < ¼; each solve runs on to ``MARGIN`` × t_ICL so that T_loss is seen):

* ``laws``: each optimizer at its library defaults (momentum: lr 1e-2, μ 0.9; Adam: PyTorch's
  lr 1e-3, β 0.9, 0.999, ε 1e-8; sign: ε 1e-8), the head alone (α3, β2, γ3: the 3-parameter flow)
  and all 19 pseudo-parameters, N = 4 … 4096; local slopes.
* ``eps``: Adam and sign descent, the head, ε = 1e-4 … 1e-12 (exact sign descent is ε → 0).
* ``betas``: Adam, the head, (β1, β2) and the learning rate varied at N = 64, 1024, 4096.

Runs through :func:`gradflow.sweep` into ``<out>/laws_store`` (resumable); writes
``<out>/laws.json``, ``laws.md`` and ``laws.png``. Run: ``python benchmarks/optimizers/laws.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.result import json_ready

OUT = Path(__file__).resolve().parents[1] / "results" / "optimizers"
HEAD = ("gamma3", "beta2", "alpha3")
NS = tuple(2 ** k for k in range(2, 13))
#: each solve runs on to this multiple of t_ICL (Adam's loss falls below ¼ only after its head)
MARGIN = 4.0
#: the optimizers at their library defaults, by label
OPTIMIZERS = {"gd": "gd", "momentum": {"name": "momentum", "lr": 1e-2, "momentum": 0.9},
              "adam": {"name": "adam", "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              "sign": {"name": "sign", "eps": 1e-8}}
EPS = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
EPS_NS = (16, 64, 256, 1024, 4096)
#: (lr, β1, β2) for Adam
BETAS = ((1e-3, 0.9, 0.999), (1e-3, 0.0, 0.999), (1e-3, 0.9, 0.99), (1e-3, 0.99, 0.999), (1e-2, 0.9, 0.999))
BETAS_NS = (64, 1024, 4096)
PARAMS = {"head": ["alpha3", "beta2", "gamma3"], "all": None}


def runs() -> list[dict]:
    base = {"system": "paper", "flow": "weights", "margin": MARGIN, "max_steps": 2_000_000}
    out = [dict(base, N=N, optimizer=opt, params=PARAMS[which])
           for opt in OPTIMIZERS.values() for which in PARAMS for N in NS]
    out += [dict(base, N=N, optimizer={"name": name, **({"lr": 1e-3, "beta1": 0.9, "beta2": 0.999} if name == "adam"
                                                        else {}), "eps": eps}, params=PARAMS["head"])
            for name in ("adam", "sign") for eps in EPS for N in EPS_NS if eps != 1e-8]
    out += [dict(base, N=N, optimizer={"name": "adam", "lr": lr, "beta1": b1, "beta2": b2, "eps": 1e-8},
                 params=PARAMS["head"]) for lr, b1, b2 in BETAS for N in BETAS_NS if (lr, b1, b2) != BETAS[0]]
    return out


def label(opt) -> str:
    """The optimizer of a run in words (its hyperparameters): :meth:`Optimizer.describe`."""
    return gf.optimizers.make(opt).describe()


def summarise(rows) -> list[dict]:
    out = []
    for row in rows:
        i, e = row["inputs"], row["emergence"]
        out.append({"optimizer": i["optimizer"], "label": label(i["optimizer"]), "N": i["N"],
                    "which": "head" if i.get("params") else "all", "status": row["status"], "order": row["order"],
                    "t_p": {n: e["t_p"][n]["0.5"] for n in HEAD}, "T_loss": e["T_loss"], "t_ICL": e["t_ICL"],
                    "nfev": row["stats"]["nfev"], "method": row["stats"]["method"], "seconds": row["wall_seconds"]})
    return out


def series(data, opt, which):
    rows = [r for r in data["rows"] if r["optimizer"] == opt and r["which"] == which]
    return sorted(rows, key=lambda r: r["N"])


def _cell(rows, k, get):
    v = get(rows[k])
    if v is None or not np.isfinite(v):
        return "–"
    if k == 0:
        return f"{v:.5g}"
    pv = get(rows[k - 1])
    if pv is None or not np.isfinite(pv) or pv <= 0:
        return f"{v:.5g}"
    return f"{v:.5g} ({np.log(v / pv) / np.log(rows[k]['N'] / rows[k - 1]['N']):.2f})"


def table(data) -> str:
    L = ["Weight flow (full-weight training, D = 2N + 2), time t = learning rate × steps, query last. "
         "In brackets: the local slope d ln T / d ln N from the previous N.", ""]
    for name, opt in OPTIMIZERS.items():
        for which in PARAMS:
            rows = series(data, opt, which)
            if not rows:
                continue
            L += [f"**{label(opt)}**, {'the head α3, β2, γ3 (3-parameter flow)' if which == 'head' else 'all 19 pseudo-parameters'}",
                  "", "| N | T_γ | T_β | T_α | T_loss | order | method, nfev | status |", "|---:|---:|---:|---:|---:|---|---|---|"]
            for k, r in enumerate(rows):
                cells = [_cell(rows, k, lambda x, n=n: x["t_p"][n]) for n in HEAD] + [_cell(rows, k, lambda x: x["T_loss"])]
                L.append(f"| {r['N']} | " + " | ".join(cells) + f" | {' → '.join(r['order']) or '–'} | "
                         f"{r['method']}, {r['nfev']} | {r['status']} |")
            L.append("")
    L += ["**ε**: T_β of the head (Adam at lr 1e-3, β 0.9, 0.999; sign descent), by ε", "",
          "| optimizer | ε | " + " | ".join(f"N = {N}" for N in EPS_NS) + " |", "|---|---:|" + "---:|" * len(EPS_NS)]
    for name in ("adam", "sign"):
        for eps in EPS:
            cells = []
            for N in EPS_NS:
                r = _find(data, name, N, eps=eps)
                cells.append(f"{r['t_p']['beta2']:.5g}" if r and r["t_p"]["beta2"] is not None else "–")
            L.append(f"| {name} | {eps:g} | " + " | ".join(cells) + " |")
    L += ["", "**β's and learning rate**: T_β and T_α of the head under Adam (ε 1e-8)", "",
          "| lr | β1 | β2 | " + " | ".join(f"N = {N}: T_β, T_α" for N in BETAS_NS) + " |", "|---:|---:|---:|" + "---|" * len(BETAS_NS)]
    for lr, b1, b2 in BETAS:
        cells = []
        for N in BETAS_NS:
            r = _find(data, "adam", N, lr=lr, beta1=b1, beta2=b2, eps=1e-8)
            cells.append(f"{r['t_p']['beta2']:.5g}, {r['t_p']['alpha3']:.5g}" if r else "–")
        L.append(f"| {lr:g} | {b1:g} | {b2:g} | " + " | ".join(cells) + " |")
    return "\n".join(L) + "\n"


def _find(data, name, N, **hyper):
    for r in data["rows"]:
        o = r["optimizer"]
        if r["which"] == "head" and r["N"] == N and isinstance(o, dict) and o["name"] == name and \
                all(o.get(k) == v for k, v in hyper.items()):
            return r
    return None


def figure(data, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    styles = {"gd": "o-", "momentum": "s--", "adam": "^-", "sign": "v:"}
    for ax, which in zip(axes[:2], PARAMS):
        for name, opt in OPTIMIZERS.items():
            rows = [r for r in series(data, opt, which) if r["t_p"]["beta2"] is not None]
            ax.loglog([r["N"] for r in rows], [r["t_p"]["beta2"] for r in rows], styles[name], label=label(opt))
        Ns = np.array(NS, float)
        ax.loglog(Ns, 0.5 * np.ones_like(Ns), "k:", lw=0.8, label="1/2: exact sign descent")
        ax.set_xlabel("N (item-label pairs)")
        ax.set_ylabel("T_β = t_β2(0.5)  [learning rate × steps]")
        ax.set_title(f"{'the head α3, β2, γ3' if which == 'head' else 'all 19 pseudo-parameters'}, weight flow",
                     fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[2]
    for name, style in (("adam", "^-"), ("sign", "v:")):
        for eps in EPS:
            rows = [r for N in EPS_NS for r in [_find(data, name, N, eps=eps)] if r and r["t_p"]["beta2"] is not None]
            if name == "adam":
                rows = [r for r in rows if r["optimizer"].get("lr") == 1e-3 and r["optimizer"].get("beta1") == 0.9
                        and r["optimizer"].get("beta2") == 0.999]
            ax.loglog([r["N"] for r in rows], [r["t_p"]["beta2"] for r in rows], style,
                      label=f"{name}, ε {eps:g}", alpha=0.85)
    ax.set_xlabel("N")
    ax.set_ylabel("T_β")
    ax.set_title("the head under Adam and sign descent, by ε", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.suptitle("paper system: emergence under each optimizer, full-weight time (lr × steps)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "laws.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--figures-only", action="store_true")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.figures_only:
        data = json.loads((args.out / "laws.json").read_text())
    else:
        start = time.perf_counter()
        rows = gf.sweep(runs(), args.out / "laws_store", workers=args.workers)
        data = json_ready({"meta": {"date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - start,
                                    "solve_seconds": sum(r["wall_seconds"] for r in rows)},
                           "rows": summarise(rows)})
        (args.out / "laws.json").write_text(json.dumps(data, indent=1))
    (args.out / "laws.md").write_text(table(data))
    figure(data, args.out)
    print(table(data))


if __name__ == "__main__":
    main()
