"""Figure of a solved flow: the head's parameters and the loss against log t."""

from __future__ import annotations

import numpy as np

from .criteria import LossBelow, ParamReaches

GREEK = {"alpha": "α", "beta": "β", "gamma": "γ"}


def pretty(name: str) -> str:
    """``"alpha3"`` -> ``"α3"``; other names unchanged."""
    for word, letter in GREEK.items():
        if name.startswith(word) and name[len(word):].isdigit():
            return letter + name[len(word):]
    return name


def plot_result(result, path=None):
    """Two panels against log t: the head's parameters (symlog scale, ``t_p(order_level)``
    marked, the parameter thresholds dotted) and the loss (the loss criteria dashed, the primary
    time annotated). With ``path`` the figure is written there (Agg backend, no window) and
    closed. Returns the figure."""
    import matplotlib
    if path is not None:
        from .result import check_output_path
        path = check_output_path(path, figure=True)
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sys_, e = result.system, result.emergence
    crits = sys_.criteria()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 5.5),
                                      gridspec_kw={"height_ratios": [3, 2]})
    key = f"{sys_.order_level:g}"

    def head_time(n):
        return e[n] if n in e and n != "t_p" else e["t_p"].get(n, {}).get(key, np.nan)
    first = [head_time(n) for n in sys_.head if np.isfinite(head_time(n))]
    if len(result.t) < 2:
        keep = np.ones(len(result.t), dtype=bool)
    else:
        t_lo = min(first) / 30 if first else result.t[1]
        keep = result.t >= t_lo
    t = np.maximum(result.t[keep], np.finfo(float).tiny)
    series = sys_.plot_series(result.theta[keep])
    for k, (name, (label, values)) in enumerate(zip(sys_.head, series)):
        colour = f"C{k}"
        top.plot(t, values, color=colour, label=label)
        tp = head_time(name)
        if np.isfinite(tp) and tp >= t[0]:
            top.plot([tp], [np.interp(tp, t, values)], "o", color=colour, ms=5)
    levels = sorted({c.level for c in crits if isinstance(c, ParamReaches)})
    for level in levels:
        top.axhline(level, color="0.6", lw=0.7, ls=":")
    top.set_yscale("symlog", linthresh=min([lv for lv in levels if lv > 0], default=1.0) / 10)
    low = min(min(float(np.min(v)) for _, v in series), 0.0)
    top.set_ylim(bottom=1.5 * low - 0.02)
    top.set_ylabel(sys_.param_word)
    by = "event" if all(n in e for n in sys_.head) else f"t_p({key})"
    top.legend(fontsize=8, loc="upper left", title=f"dots: {by}", title_fontsize=7)
    bottom.plot(t, result.loss[keep], color="k", lw=1.8)
    for c in crits:
        if isinstance(c, LossBelow):
            bottom.axhline(c.level, color="0.5", ls="--", lw=0.8)
    T = e.get(sys_.primary_key, np.nan)
    if np.isfinite(T):
        primary = next(c for c in crits if getattr(c, "key", None) == sys_.primary_key)
        level = primary.level if isinstance(primary, LossBelow) else float(np.interp(T, result.t, result.loss))
        for ax in (top, bottom):
            ax.axvline(T, color="k", ls="--", lw=0.8)
        bottom.annotate(f"{sys_.primary_key} = {T:.4g}", (T, level), textcoords="offset points",
                        xytext=(6, 6), fontsize=8)
    bottom.set_xscale("log")
    bottom.set_xlabel("t")
    bottom.set_ylabel("population loss")
    top.set_title(f"{sys_.name}: {result.flow} flow, {sys_.describe()}, {len(result.params)} parameters",
                  fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
