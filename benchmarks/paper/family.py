"""What changes if … : the paper setting's family (mask, label position, loss, burstiness), measured.

For each question one member against the paper's setting, query last unless said: the head alone
(the setting's previous-token pseudo-parameter, β2, γ3) and every pseudo-parameter of its invariant
space, N = 4 … 128 and 256 where listed in ``ALL_ALSO`` (the generic reference-backed flow; the
paper's own setting on its kernels), the head alone to 4096 on the members' closed forms,
Definition-1 times at 0.5 of the head, the order, T_loss (𝓛 < ½𝓛(0)), the pseudo-parameters
largest at the end, local slopes. Questions:

* ``mask``: each token may attend to itself (layer 1 and the query in layer 2);
* ``labels``: label i at its item's position p_i (no M cue: 14 pseudo-parameters, α2 in α3's role);
* ``loss``: cross-entropy over the sequence's 2N contents, query last and uniform (N ≤ 16: one
  sequence per query); the head from θ = 0 is a stationary point, so it starts at 10⁻³;
* ``burst``: B = 2, 4, 8 occurrences of the query's item, T against N/B (placements summed exactly:
  every pseudo-parameter as far as the generic flow's enumeration allows, the head on its closed
  form, :mod:`gradflow.systems.paper.burst`, to N = 4096).

Runs through :func:`gradflow.sweep` into ``<out>/family_store`` (resumable; 2 workers), writes
``<out>/family.json``, ``.md`` and ``family.png``. Run: ``python benchmarks/paper/family.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.result import json_ready
from gradflow.sweeps import _write_atomic
from gradflow.systems.paper import PaperSystem
from gradflow.systems.paper.reduced import NAMES

OUT = Path(__file__).resolve().parents[1] / "results" / "paper"
#: question -> (options, query, N values)
QUESTIONS = {
    "paper": ({}, "last", (4, 8, 16, 32, 64, 128)),
    "mask=self": ({"mask": "self"}, "last", (4, 8, 16, 32, 64, 128)),
    "labels=same": ({"labels": "same"}, "last", (4, 8, 16, 32, 64, 128)),
    "loss=ce": ({"loss": "ce"}, "last", (4, 8, 16, 32, 64, 128)),
    "loss=ce, uniform": ({"loss": "ce"}, "uniform", (4, 8, 16, 32, 64)),
    "burst=2": ({"burst": 2}, "last", (4, 8, 16)),
    "burst=4": ({"burst": 4}, "last", (4, 8)),
    "burst=8": ({"burst": 8}, "last", (8,)),
}
#: question -> N values at which the head alone is solved as well (on a closed form where the member
#: has one: labels=same, mask=self, loss=ce (O(N²) with the uniform query), burst)
HEAD_ONLY = {"paper": (256, 512, 1024, 2048, 4096), "mask=self": (256, 512, 1024, 2048, 4096),
             "labels=same": (256, 512, 1024, 2048, 4096), "loss=ce": (256, 512, 1024, 2048, 4096),
             "loss=ce, uniform": (32, 64, 128, 256, 512, 1024, 2048),
             "burst=2": (32, 64, 128, 256, 512, 1024, 2048, 4096),
             "burst=4": (16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
             "burst=8": (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)}
#: question -> N values at which every pseudo-parameter is solved as well, beyond ``QUESTIONS`` (the
#: generic flow: about 0.4 s per evaluation at N = 256, a solve 30-60 min)
ALL_ALSO = {"paper": (256,), "mask=self": (256,), "labels=same": (256,), "loss=ce": (256,),
            "burst=2": (32,), "burst=4": (16,), "burst=8": (16,)}
#: cross-entropy's head from θ0 = ε on each head entry (θ = 0 is stationary): these ε besides the
#: tables' 10⁻³, at these N (at N = 1024, ε = 10⁻⁹ gives ‖∇𝓛‖∞ = 2.4e-16: a start the solver tells
#: from a stationary point by its Newton step, solver.STATIONARY_STEP)
CE_PERTURBATIONS = (1e-9, 1e-7, 1e-5, 1e-1)
CE_PERTURBATION_NS = (64, 1024)
#: their absolute tolerance, times ε: the default 1e-10 would leave a start of 10⁻⁹ unresolved
#: (T_β at N = 64, ε = 10⁻⁹ moves by 0.3 % from atol = 1e-10 to 1e-20, and by 2e-8 from 1e-20 to 1e-23)
CE_PERTURBATION_ATOL = 1e-11
#: members whose head has a closed form: one loss and gradient there against the generic path, at
#: these N (the burst members' generic path enumerates the placements, so smaller N)
SPEED = (("labels=same", {"labels": "same"}, "last", (64, 256)), ("mask=self", {"mask": "self"}, "last", (64, 256)),
         ("loss=ce", {"loss": "ce"}, "last", (64, 256)), ("loss=ce, uniform", {"loss": "ce"}, "uniform", (16, 64)),
         ("mask=self, uniform", {"mask": "self"}, "uniform", (16, 64)),
         ("burst=2", {"burst": 2}, "last", (16, 64)), ("burst=4", {"burst": 4}, "last", (8, 16)))


def speed() -> list[dict]:
    """Seconds per loss-and-gradient of each closed-form head (:data:`SPEED`) against the generic
    reference-backed flow at the same head point (the best of several repeats; the two agree to
    1e-12 there, tests/paper/test_family.py)."""
    import timeit
    from gradflow.systems.paper import generic
    out = []
    for label, opts, query, Ns in SPEED:
        for N in Ns:
            s = PaperSystem(N=N, query=query, **opts)
            head = np.array(sorted(s.names.index(n) for n in s.head))
            theta = np.zeros(len(s.names))
            theta[[s.names.index(n) for n in s.head]] = [0.3, 0.2, 0.5]
            s.loss_and_grad(theta, free=head)
            closed = min(timeit.repeat(lambda: s.loss_and_grad(theta, free=head), number=20, repeat=5)) / 20
            slow = min(timeit.repeat(lambda: generic.loss_and_grad(theta, s.setting, s.D), number=1, repeat=3))
            out.append({"member": label, "closed_form": s.head_closed_form, "N": N, "sequences": s.setting.n_sequences(),
                        "closed_form_seconds": closed, "generic_seconds": slow, "ratio": slow / closed})
    return out


#: an open-ended solve that has not emerged by this multiple of N² is stopped (a flow that runs off to
#: infinity without emerging, as cross-entropy's does, would otherwise never end)
T_LIMIT_PER_N2 = 2000.0


def _run(N: int, query: str, opts: dict, params=None, head_start=None, atol=None) -> dict:
    """One sweep row: ``params`` free (None: all), from θ0 = ``head_start`` on each of them (None: 0),
    at the solver's absolute tolerance ``atol`` (None: its default)."""
    run = {"system": "paper", "N": N, "query": query, **opts, "t_limit": T_LIMIT_PER_N2 * N * N,
           "params": None if params is None else list(params)}
    if atol is not None:
        run["atol"] = atol
    if head_start is not None:
        theta0 = np.zeros(19)
        theta0[[NAMES.index(n) for n in params]] = head_start
        run["theta0"] = theta0.tolist()
    return run


def runs() -> list[dict]:
    out = []
    for question, (opts, query, Ns) in QUESTIONS.items():
        for N in sorted(set(Ns + HEAD_ONLY.get(question, ()) + ALL_ALSO.get(question, ()))):
            head = PaperSystem(N=max(N, 2), **opts).head
            if N in Ns + HEAD_ONLY.get(question, ()):
                # θ = 0 is stationary for cross-entropy's head: it starts at 10⁻³
                out.append(_run(N, query, opts, head, 1e-3 if opts.get("loss") == "ce" else None))
            if N in Ns + ALL_ALSO.get(question, ()):
                out.append(_run(N, query, opts))
    for N in CE_PERTURBATION_NS:
        head = PaperSystem(N=N, loss="ce").head
        out.extend(_run(N, "last", {"loss": "ce"}, head, eps, CE_PERTURBATION_ATOL * eps) for eps in CE_PERTURBATIONS)
    return out


def question_of(inputs: dict) -> str:
    opts = {k: inputs[k] for k in ("mask", "labels", "loss", "burst") if k in inputs}
    for q, (o, query, _) in QUESTIONS.items():
        if o == opts and query == inputs["query"]:
            return q
    raise KeyError(inputs)


def summarise(rows) -> list[dict]:
    out = []
    for row in rows:
        i, e = row["inputs"], row["emergence"]
        s = PaperSystem(N=i["N"], query=i["query"], **{k: i[k] for k in ("mask", "labels", "loss", "burst") if k in i})
        final = row["final_theta"]
        top = sorted(final, key=lambda n: -abs(final[n]))[:4]
        theta0 = max(abs(x) for x in i["theta0"]) if i.get("theta0") else 0.0
        which = "head" if i.get("params") else "all"
        if i.get("loss") == "ce" and which == "head" and theta0 != 1e-3:
            which = "head from θ0"                     # the perturbation study, not the law's table
        out.append({"question": question_of(i), "N": i["N"], "which": which, "theta0": theta0,
                    "status": row["status"], "order": row["order"],
                    "t_p": {n: e["t_p"][n]["0.5"] for n in s.head}, "T_loss": e["T_loss"], "t_ICL": e["t_ICL"],
                    "head": list(s.head), "largest": {n: final[n] for n in top},
                    "final_head": {n: final[n] for n in s.head}, "final": final,
                    "seconds": row["wall_seconds"], "nfev": row["stats"]["nfev"]})
    return out


def _slope(a, b, key):
    x, y = a[key], b[key]
    if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)) or x <= 0:
        return None
    return float(np.log(y / x) / np.log(b["N"] / a["N"]))


def table(data) -> str:
    L = []
    for q in QUESTIONS:
        for which in ("head", "all"):
            rows = [r for r in data["rows"] if r["question"] == q and r["which"] == which]
            if not rows:
                continue
            h = rows[0]["head"]
            L += [f"**{q}**, {'the head ' + ', '.join(h) if which == 'head' else 'every pseudo-parameter'} "
                  f"(query {data['queries'][q]}); in brackets the local slope from the previous N", "",
                  f"| N | t_{h[0]}(0.5) | t_{h[1]}(0.5) | t_{h[2]}(0.5) | T_loss | order | largest at the end | status |",
                  "|---:|---:|---:|---:|---:|---|---|---|"]
            for k, r in enumerate(rows):
                def cell(key, sub=None):
                    v = r["t_p"][sub] if sub else r[key]
                    if v is None or not np.isfinite(v):
                        return "–"
                    if k == 0:
                        return f"{v:.5g}"
                    prev = rows[k - 1]
                    pv = prev["t_p"][sub] if sub else prev[key]
                    sl = (np.log(v / pv) / np.log(r["N"] / prev["N"])) if pv and np.isfinite(pv) and pv > 0 else None
                    return f"{v:.5g}" + (f" ({sl:.3f})" if sl is not None else "")
                big = ", ".join(f"{n} {v:+.3g}" for n, v in r["largest"].items())
                L.append(f"| {r['N']} | {cell(None, h[0])} | {cell(None, h[1])} | {cell(None, h[2])} | {cell('T_loss')} | "
                         f"{' → '.join(r['order']) or '–'} | {big} | {r['status']} |")
            L.append("")
    return "\n".join(L)


def speed_table(data) -> str:
    if "speed" not in data:
        return ""
    L = ["**Closed-form heads against the generic reference-backed flow**: one loss and gradient at the same "
         "head point (best of 5 × 20 against best of 3)", "",
         "| member | closed form | N | placements | closed form | generic path | ratio |",
         "|---|---|---:|---:|---:|---:|---:|"]
    for r in data["speed"]:
        L.append(f"| {r.get('member', 'labels=same')} | {r.get('closed_form', 'papers')} | {r['N']} | "
                 f"{r.get('sequences', 1)} | {r['closed_form_seconds'] * 1e6:.0f} µs | "
                 f"{r['generic_seconds'] * 1e3:.1f} ms | {r['ratio']:.0f} |")
    return "\n".join(L) + "\n"


def perturbation_table(data) -> str:
    rows = sorted((r for r in data["rows"] if r["question"] == "loss=ce" and r["which"] in ("head", "head from θ0")
                   and r["N"] in CE_PERTURBATION_NS), key=lambda r: (r["N"], r["theta0"]))
    if not any(r["which"] == "head from θ0" for r in rows):
        return ""
    L = ["**Cross-entropy's head from θ0 = ε** (θ = 0 is a stationary point of the head): each of α3, β2, γ3 "
         f"starts at ε (atol = {CE_PERTURBATION_ATOL:g} ε)", "", "| N | ε | t_γ3(0.5) | t_β2(0.5) | t_α3(0.5) | T_loss | order | status |",
         "|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        def fmt(v):
            return "–" if v is None or not np.isfinite(v) else f"{v:.5g}"
        L.append(f"| {r['N']} | {r['theta0']:.0e} | {fmt(r['t_p']['gamma3'])} | {fmt(r['t_p']['beta2'])} | "
                 f"{fmt(r['t_p']['alpha3'])} | {fmt(r['T_loss'])} | {' → '.join(r['order']) or '–'} | {r['status']} |")
    return "\n".join(L) + "\n"


def figure(data, out: Path) -> None:
    """One panel per question: the member's t_ICL against the paper's (the head, and every
    pseudo-parameter where solved); cross-entropy's T_loss with every parameter free (its head
    completes only alone); burst's t_ICL against N/B."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(q, which, key):
        rows = [r for r in data["rows"] if r["question"] == q and r["which"] == which]
        rows = [r for r in rows if r[key] is not None and np.isfinite(r[key])]
        return [r["N"] for r in rows], [r[key] for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, (q, title) in zip(axes[:3], (("mask=self", "… each token may attend to itself"),
                                         ("labels=same", "… a label sits at its item's position"),
                                         ("loss=ce", "… the loss is cross-entropy"))):
        key = "T_loss" if q == "loss=ce" else "t_ICL"
        for member, colour in (("paper", "C0"), (q, "C1")):
            for which, style in (("head", "-"), ("all", "--")):
                k = key if which == "all" else "t_ICL"
                x, y = series(member, which, k)
                ax.loglog(x, y, "o" + style if which == "head" else "s" + style, color=colour, ms=3,
                          label=f"{member}, {'head' if which == 'head' else 'all'}: {k}")
        ax.set_xlabel("N (item-label pairs)")
        ax.set_ylabel("time (θ-flow)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6)
    ax = axes[3]
    for B, style in ((1, "o-"), (2, "s--"), (4, "^--"), (8, "v:")):
        q = "paper" if B == 1 else f"burst={B}"
        x, y = series(q, "head", "t_ICL")
        ax.loglog(np.array(x) / B, y, style, ms=3, label=f"B = {B}")
    ax.set_xlabel("N / B (effective context length)")
    ax.set_ylabel("t_ICL (head α3, β2, γ3)")
    ax.set_title("… the query's item occurs B times", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle("paper family, what changes if …: emergence against N, query last (head: α3 or α2, β2, γ3 alone; "
                 "all: every pseudo-parameter)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "family.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--figures-only", action="store_true")
    args = p.parse_args(argv)
    if args.figures_only:
        data = json.loads((args.out / "family.json").read_text())
    else:
        start = time.perf_counter()
        rows = gf.sweep(runs(), args.out / "family_store", workers=args.workers)
        data = json_ready({"meta": {"date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - start,
                                    "solve_seconds": sum(r["wall_seconds"] for r in rows)},
                           "queries": {q: v[1] for q, v in QUESTIONS.items()}, "rows": summarise(rows),
                           "speed": speed()})
        _write_atomic(args.out / "family.json", data)
    (args.out / "family.md").write_text(table(data) + "\n" + perturbation_table(data) + "\n" + speed_table(data))
    figure(data, args.out)
    print(table(data))


if __name__ == "__main__":
    main()
