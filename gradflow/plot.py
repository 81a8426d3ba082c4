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


#: the loss curve of a system whose loss is expensive is drawn at this many log-spaced times (from
#: the dense output) unless the loss at every step is already known; the events are located exactly
#: whatever the curve's resolution
LOSS_POINTS = 32
#: one loss evaluation slower than this (seconds, measured on the last step) counts as expensive
SLOW_LOSS = 2e-3


def _title(result) -> str:
    """Which system and setting the figure shows, wrapped so that nothing is cut off."""
    import textwrap
    sys_ = result.system
    head = f"{sys_.name}: {sys_.describe()}"
    tail = f"{result.flow} flow, {len(result.params)} of {len(result.names)} {sys_.param_word}s free, {result.status}"
    return "\n".join(textwrap.wrap(head, 90) + [tail])


def plot_result(result, path=None):
    """Two panels against log t: the head's parameters (linear scale; ``t_p(order_level)`` or the
    event marked, every threshold line labelled) and the loss (the loss criteria dashed and
    labelled, the main event annotated). The title says which system and setting it shows. With
    ``path`` the figure is written there (Agg backend, no window) and closed. Returns the figure.
    A result with fewer than two steps has nothing to draw: ``ValueError``."""
    import matplotlib
    if len(result.t) < 2:
        raise ValueError(f"nothing to plot: the result has {len(result.t)} step ({result.status}: {result.message})")
    if path is not None:
        from .result import check_output_path
        path = check_output_path(path, figure=True)
        matplotlib.use("Agg")
    import time
    import matplotlib.pyplot as plt
    sys_, e = result.system, result.emergence
    crits = sys_.criteria()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 6),
                                      gridspec_kw={"height_ratios": [3, 2]})
    key = f"{sys_.order_level:g}"

    def head_time(n):
        return e[n] if n in e and n != "t_p" else e["t_p"].get(n, {}).get(key, np.nan)
    first = [head_time(n) for n in sys_.head if np.isfinite(head_time(n))]
    t_lo = min(first) / 30 if first else result.t[1]
    keep = result.t >= max(t_lo, result.t[1])
    t = result.t[keep]
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
        top.annotate(f"{level:g}" + (" (order level)" if f"{level:g}" == key else ""), (1.0, level),
                     xycoords=("axes fraction", "data"), xytext=(-4, 2), textcoords="offset points",
                     ha="right", fontsize=7, color="0.4")
    top.set_ylabel(f"{sys_.param_word}s (linear scale)")
    by = "the event" if all(n in e for n in sys_.head) else f"t_p({key}), reaching {key}"
    top.legend(fontsize=8, loc="upper left", title=f"dots: {by}", title_fontsize=7)
    # the loss: at every step if known or cheap, else at LOSS_POINTS log-spaced times
    start = time.perf_counter()
    last = result.final_loss()
    slow = time.perf_counter() - start > SLOW_LOSS
    if result._loss is None and slow and len(t) > LOSS_POINTS:
        tl = np.geomspace(t[0], t[-1], LOSS_POINTS)
        loss = np.array([sys_.loss(np.ascontiguousarray(th)) for th in result.theta_at(tl)])
        loss[-1] = last
    else:
        tl, loss = t, result.loss[keep]
    bottom.plot(tl, loss, color="k", lw=1.8)
    for c in crits:
        if isinstance(c, LossBelow):
            bottom.axhline(c.level, color="0.5", ls="--", lw=0.8)
            bottom.annotate(f"{c.key}: loss < {(c.label or f'{c.level:g}').replace('𝓛', 'L')}", (0.0, c.level),
                            xycoords=("axes fraction", "data"), xytext=(4, 2), textcoords="offset points",
                            ha="left", fontsize=7, color="0.4")
    T = e.get(sys_.primary_key, np.nan)
    if np.isfinite(T):
        for ax in (top, bottom):
            ax.axvline(T, color="k", ls="--", lw=0.8)
        bottom.annotate(f"emergence: {sys_.primary_key} = {T:.4g}", (T, 0.92), xycoords=("data", "axes fraction"),
                        textcoords="offset points", xytext=(-6, 0), ha="right", fontsize=8)
    bottom.set_xscale("log")
    bottom.set_xlabel("t (log scale)")
    bottom.set_ylabel("population loss")
    top.set_title(_title(result), fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
