"""study.md and joint_run.png from study.json (and the README block: readme_markov.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "markov"


def fmt_set(R) -> str:
    return "{" + ", ".join(map(str, R)) + "}"


def selection_table(d: dict) -> str:
    rows = d["selection"]["rows"]
    lines = ["| S | n | α | argmax Ĩ | runner-up | margin (z) | selected, ce_softmax | T_I flow / law | "
             "selected, nll | T_I flow / law | g⁰ argmax, exact copier |", "|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(x):
        mark = "" if x["agree"] else " **≠**"
        return (f"{fmt_set(x['flow_selected'])}{mark}", f"{x['T_flow']:.4g} / {x['T_law']:.4g}")
    for r in rows:
        ce, nll = cell(r["ce_softmax"]), cell(r["nll"])
        lines.append(f"| {r['S']} | {r['n']} | {r['alpha']:g} | {fmt_set(r['argmax_mi'])} | {fmt_set(r['runner_up'])} | "
                     f"{r['mi_best'] - r['mi_runner_up']:.3g} ({r['z_margin']:.1f}) | {ce[0]} | {ce[1]} | {nll[0]} | {nll[1]} | "
                     f"{fmt_set(r['exact_copier_winner'])} |")
    return "\n".join(lines)


def authors_table(d: dict, rec: dict) -> str:
    j, g = d["joint"], d.get("gd")
    extra = " a (our GD, lr 1) |" if g else ""
    extra_l = " loss (our GD) |" if g else ""
    lines = [f"| epoch = t | a (authors, GD lr 1) |{extra} a (flow) | train loss (authors) |{extra_l} loss (flow) |",
             "|---|---|---|---|---|" + ("---|---|" if g else "")]
    for e in rec["epochs"]:
        e = str(e)
        ga = f" {g['a'][e]:.3f} |" if g else ""
        gl = f" {g['loss'][e]:.4f} |" if g else ""
        lines.append(f"| {e} | {rec['a'][e]:.3f} |{ga} {j['a'][e]:.3f} | {rec['train_loss'][e]:.4f} |{gl} {j['loss'][e]:.4f} |")
    lines += ["", f"| t | share of c² on {{1, 2}} (authors) |{' (our GD) |' if g else ''} (flow) |",
              "|---|---|---|" + ("---|" if g else "")]
    for e in rec["share_true_parents"]:
        gs = f" {g['share_true_parents'][e]:.4f} |" if g else ""
        lines.append(f"| {e} | {rec['share_true_parents'][e]:.4f} |{gs} {j['share_true_parents'][e]:.4f} |")
    return "\n".join(lines)


def figure(d: dict, rec: dict) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    run = np.load(OUT / "joint_run.npz")
    t, theta, loss = run["t"], run["theta"], run["loss"]
    from gradflow.systems.markov.params import Layout
    lay = Layout(3, 2)
    c = theta[:, lay.c_slice]
    shares = c ** 2 / np.sum(c ** 2, axis=1, keepdims=True)
    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    for k, R in enumerate(lay.subsets):
        ax[0, 0].plot(t, shares[:, k], label=fmt_set(R), lw=2 if R == (1, 2) else 1)
    ax[0, 0].set_xscale("log"); ax[0, 0].set_xlabel("t (= epochs at lr 1)"); ax[0, 0].set_ylabel("c_R² / Σ c²")
    ax[0, 0].legend(fontsize=7, ncol=2, title="R (components)", title_fontsize=7)
    ax[0, 0].set_title("selector shares (joint flow)", fontsize=9)
    both = np.concatenate([run["band0"], run["band_end"]], axis=1)
    im = ax[0, 1].imshow(both, cmap="RdBu_r", vmin=-np.max(np.abs(both)), vmax=np.max(np.abs(both)))
    ax[0, 1].set_xticks(range(6), [f"k={j + 1}" for j in range(3)] * 0 + ["+1", "+2", "+3", "+1", "+2", "+3"])
    ax[0, 1].set_yticks(range(3), ["head 0", "head 1", "head 2"])
    ax[0, 1].axvline(2.5, color="k")
    ax[0, 1].set_title("layer-1 band: before | after t = 10⁴ (offset h + j)", fontsize=9)
    for (i, j), v in np.ndenumerate(both):
        ax[0, 1].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax[0, 1], shrink=0.7)
    ax[1, 0].plot(t, theta[:, -1], "k", label="flow")
    ep = np.array(rec["epochs"], float)
    ax[1, 0].plot(ep, [rec["a"][str(int(e))] for e in ep], "o", color="C3", label="authors (GD, lr 1)")
    ax[1, 0].set_xscale("log"); ax[1, 0].set_xlabel("t"); ax[1, 0].set_ylabel("a")
    ax[1, 0].set_title(f"a against ln t (slope {d['joint']['a_slope_ln_t_100_10000']:.2f} on [10², 10⁴])", fontsize=9)
    ax[1, 0].legend(fontsize=8)
    ax[1, 1].plot(t, loss, "k", label="flow (ce_softmax)")
    ax[1, 1].plot(ep, [rec["train_loss"][str(int(e))] for e in ep], "o", color="C3", label="authors' train loss")
    ax[1, 1].set_xscale("log"); ax[1, 1].set_xlabel("t"); ax[1, 1].set_ylabel("loss")
    ax[1, 1].legend(fontsize=8)
    ax[1, 1].set_title("loss (fresh data: 9000 sequences)", fontsize=9)
    fig.tight_layout()
    path = OUT / "joint_run.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(d: dict) -> None:
    rec = json.loads((OUT / "authors_record.json").read_text())
    parts = ["# markov study (benchmarks/markov/study.py)", ""]
    if "selection" in d:
        parts += ["## Selection: the stage-I flow against argmax Ĩ", "", selection_table(d), ""]
    if "joint" in d:
        parts += ["## The authors' recorded joint run, from fresh data", "", authors_table(d, rec), "",
                  f"order: {' -> '.join(d['joint']['order'])}; stages {d['joint']['stages']}", ""]
        figure(d, rec)
    if "limits" in d:
        parts += ["## Finite L against L → ∞ (fitness g⁰ at the authors' initialisation)", ""]
        for k, v in d["limits"].items():
            parts.append(f"* {k}: winner {fmt_set(v['winner'])}; g⁰ " +
                         ", ".join(f"{R}: {g:.4f}" for R, g in v["g0"].items()))
        parts.append("")
    if "speed" in d:
        s = d["speed"]
        parts += ["## Speed", "", f"* one gradient at 9000 × 100: reduced {s['reduced_grad_seconds_9000x100'] * 1e3:.0f} ms, "
                  f"reference {s['reference_grad_seconds_9000x100']:.1f} s ({s['speedup_per_gradient']:.0f}×)", ""]
    (OUT / "study.md").write_text("\n".join(parts) + "\n")
