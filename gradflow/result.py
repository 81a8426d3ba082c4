"""The result of a solve: trajectory, emergence times, statistics, save/load, plot."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicHermiteSpline

from . import system as systems
from .criteria import Crosses, LossBelow, describe


@dataclass(repr=False)
class Result:
    """A solved flow. Arrays are at the solver's accepted steps.

    ``t`` (n_t), ``theta`` (n_t × n_params, in ``names`` order), ``loss`` (n_t, evaluated on first
    use), ``dtheta`` (dθ/dt, n_t × n_params), ``system`` (the configured system; ``task`` is its
    task), ``flow`` ("theta" or "weights"), ``params`` (the parameters that were free),
    ``emergence`` (``{key: time, "t_p": {param: {level: time}}}``, NaN for events that did not
    happen; see :mod:`gradflow.criteria`), ``order`` (the system's head sorted by
    ``t_p(order_level)``; those that never reach it are left out), ``stats`` (solver statistics
    and wall time), ``optimizer`` (None for gradient descent, else the optimizer's spec dict,
    :mod:`gradflow.optimizers`) with ``state`` (n_t × len(state_names), its state at each step,
    e.g. ``"m[beta2]"``: :meth:`state_of`), ``status`` ("emerged", "t_max", "not_emerged", "stationary", "failed",
    "max_steps" or "interrupted") and ``message``. ``log_params``: the parameters integrated as ln|θ_i|
    (:mod:`gradflow.flows`); their ln|θ_i| is kept exactly, also where θ_i underflows to 0:
    :meth:`log_abs`.
    """

    t: np.ndarray
    theta: np.ndarray
    system: systems.System
    flow: str
    params: tuple
    emergence: dict
    order: tuple
    stats: dict
    status: str
    message: str
    log_params: tuple = ()
    dense: object = field(default=None, repr=False)
    _dtheta: np.ndarray | None = field(default=None, repr=False)
    _derivative: object = field(default=None, repr=False)
    _loss: np.ndarray | None = field(default=None, repr=False)
    _log_abs: np.ndarray | None = field(default=None, repr=False)
    optimizer: dict | None = None
    state: np.ndarray | None = field(default=None, repr=False)
    state_names: tuple = ()

    @property
    def names(self) -> tuple:
        return self.system.names

    @property
    def task(self):
        """The system's task (its sizes and data law)."""
        return self.system.task

    @property
    def loss(self) -> np.ndarray:
        """Population loss at each step (n_t); evaluated on first use (the solver itself only
        evaluates it where it needs it, to find the emergence times)."""
        if self._loss is None:
            self._loss = np.array([self.system.loss(np.ascontiguousarray(th)) for th in self.theta])
        return self._loss

    @property
    def dtheta(self) -> np.ndarray:
        """dθ/dt at each step; evaluated on first use where the solver did not keep it."""
        if self._dtheta is None:
            self._dtheta = np.array([self._derivative(k) for k in range(len(self.t))]).reshape(self.theta.shape)
        return self._dtheta

    @property
    def log_abs_theta(self) -> np.ndarray:
        """ln|θ| at each step (n_t × n_params): the integrated coordinate for ``log_params``
        (exact however small θ_i gets), ln|θ| of the stored θ for the others."""
        if self._log_abs is not None:
            return self._log_abs
        with np.errstate(divide="ignore"):
            return np.log(np.abs(self.theta))

    def log_abs(self, name: str) -> np.ndarray:
        """ln|θ_name| at each step (see :attr:`log_abs_theta`)."""
        if name not in self.names:
            raise KeyError(f"unknown parameter {name!r}; allowed: {', '.join(self.names)}")
        return self.log_abs_theta[:, self.names.index(name)]

    def state_of(self, name: str) -> np.ndarray:
        """The optimizer's state entry ``name`` (e.g. ``"v[gamma3]"``) at each step."""
        if name not in self.state_names:
            raise KeyError(f"unknown state {name!r}; this result's optimizer state: "
                           f"{', '.join(self.state_names) or 'none (gradient descent)'}")
        return self.state[:, self.state_names.index(name)]

    @property
    def optimizer_label(self) -> str:
        """The optimizer in words ("gd" for gradient descent)."""
        if self.optimizer is None:
            return "gd"
        from .optimizers import make
        return make(self.optimizer).describe()

    @property
    def _flow_words(self) -> str:
        """"theta flow", or "weights flow under adam (lr 0.001, …)" for an optimizer other than gd."""
        return f"{self.flow} flow" + ("" if self.optimizer is None else f" under {self.optimizer_label}")

    @property
    def success(self) -> bool:
        return self.status in ("emerged", "t_max")

    def theta_at(self, t) -> np.ndarray:
        """θ at time(s) ``t`` from the solver's dense output (after :meth:`load`, from the C¹
        cubic Hermite interpolant of the saved steps and their exact derivatives)."""
        t = np.asarray(t, dtype=float)
        if np.any(t < self.t[0]) or np.any(t > self.t[-1]):
            raise ValueError(f"t must lie in [{self.t[0]}, {self.t[-1]}]")
        n = len(self.names)
        if self.dense is None:
            if len(self.t) < 2:
                return np.broadcast_to(self.theta[0], t.shape + (n,)).copy()
            self.dense = _HermiteDense(self.t, self.theta, self.dtheta)
        return np.moveaxis(np.asarray(self.dense(t)), 0, -1)

    def __getitem__(self, name: str) -> np.ndarray:
        """Trajectory of one parameter by name, e.g. ``result["beta2"]``."""
        if name not in self.names:
            raise KeyError(f"unknown parameter {name!r}; allowed: {', '.join(self.names)}")
        return self.theta[:, self.names.index(name)]

    def final_loss(self) -> float:
        """𝓛 at the last step (without evaluating the whole loss array)."""
        return float(self._loss[-1] if self._loss is not None
                     else self.system.loss(np.ascontiguousarray(self.theta[-1])))

    # -- the shared vocabulary of events ------------------------------------------------------
    #: every system's main event is reported under this name in :attr:`events`
    MAIN = "emergence"

    @property
    def events(self) -> dict:
        """Every event's time, one flat dict for every system: ``"emergence"`` (the system's main
        event, :attr:`main_event`), each criterion by its key, and each threshold of a free
        parameter as ``"t_<param>(<level>)"``. NaN: did not happen by the end."""
        out = {self.MAIN: self.emergence.get(self.system.primary_key, float("nan"))}
        out.update({k: v for k, v in self.emergence.items() if k != "t_p"})
        for name, levels in self.emergence.get("t_p", {}).items():
            if name in self.params:
                out.update({f"t_{name}({lev})": t for lev, t in levels.items()})
        return out

    @property
    def main_event(self) -> str:
        """The key of the system's main event (paper: t_ICL, tokens: T, markov: stages_done), what
        ``events["emergence"]`` and status ``"emerged"`` refer to."""
        return self.system.primary_key

    @property
    def order_by(self) -> str:
        """What :attr:`order` sorts the head by, in words: the time each reaches ``order_level``
        (for a head of parameters) or the time of each event (for a head of events)."""
        sys_ = self.system
        if all(n in self.emergence for n in sys_.head):
            return "the time of each event"
        return f"the time each reaches {sys_.order_level:g}, t_p({sys_.order_level:g})"

    def summary(self) -> str:
        """A short human-readable summary: what was solved, the main event and every other event
        with what it means, the head's order and by what, the end point and the solver's work."""
        e, sys_ = self.emergence, self.system
        crits = {getattr(c, "key", None): c for c in sys_.criteria()}
        lines = [f"{sys_.name}: {sys_.describe()}; {self._flow_words}, {len(self.params)} of {len(self.names)} "
                 f"{sys_.param_word}s free: {self.status} ({self.message})",
                 f"emergence = {self.events[self.MAIN]:.6g}   ({self.main_event}: {describe(crits[self.main_event])})"]
        others = [c for c in sys_.criteria() if isinstance(c, (LossBelow, Crosses)) and c.key != self.main_event]
        if others:
            lines.append("events: " + "; ".join(f"{c.key} = {e[c.key]:.6g} ({describe(c)})" for c in others))
        lines.append(f"order of the head (by {self.order_by}): " + (" -> ".join(self.order) or "none reached it"))
        for name in sys_.head:
            if name in self.params and name in e.get("t_p", {}):
                lines.append("  " + "   ".join(f"t_{name}({lev}) = {tp:.6g}" for lev, tp in e["t_p"][name].items()))
        extra = sys_.final_report(self.theta[-1])
        if extra:
            lines.append(extra)
        s = self.stats
        lines.append(f"loss at t = {self.t[-1]:.6g}: {self.final_loss():.6g}; "
                     f"{s['method']}: {s['n_steps']} steps, nfev {s['nfev']}, njev {s['njev']}, "
                     f"nlu {s['nlu']}" + (f", {s['wall_seconds']:.3g} s" if "wall_seconds" in s else ""))
        return "\n".join(lines)

    # -- labelled data out ----------------------------------------------------------------
    def __repr__(self) -> str:
        e = self.emergence
        main = e.get(self.system.primary_key, float("nan"))
        return (f"Result({self.system.name}: {self.system.describe()}; {self._flow_words}, {len(self.params)} of "
                f"{len(self.names)} {self.system.param_word}s free;\n"
                f"       status {self.status!r}, {self.system.primary_key} = {main:.6g}, "
                f"order {' -> '.join(self.order) or '(none)'};\n"
                f"       {len(self.t)} steps to t = {self.t[-1]:.6g})")

    def to_frame(self):
        """The trajectory as a pandas DataFrame: columns ``t``, ``loss`` and one per parameter
        (at the solver's steps); ``attrs`` holds the system, its sizes, the flow, the optimizer and
        the status.
        Needs pandas (``pip install 'gradflow[tables]'``)."""
        pd = _pandas()
        frame = pd.DataFrame(self.theta, columns=list(self.names))
        frame.insert(0, "loss", self.loss)
        frame.insert(0, "t", self.t)
        frame.attrs.update(system=self.system.name, sizes=self.system.sizes(), flow=self.flow, status=self.status,
                           optimizer=self.optimizer or "gd")
        return frame

    def events_table(self):
        """Every emergence event as a pandas DataFrame, one row each: ``event`` (its key),
        ``kind`` (loss / crosses / parameter), ``parameter`` and ``level`` (for a threshold of a
        free parameter), ``time`` (NaN: did not happen by the end), ``description``."""
        pd = _pandas()
        rows = []
        for c in self.system.criteria():
            if isinstance(c, LossBelow):
                rows.append(dict(event=c.key, kind="loss", parameter=None, level=c.level,
                                 time=self.emergence.get(c.key, np.nan), description=describe(c)))
            elif isinstance(c, Crosses):
                rows.append(dict(event=c.key, kind="crosses", parameter=None, level=np.nan,
                                 time=self.emergence.get(c.key, np.nan), description=describe(c)))
        for name, levels in self.emergence.get("t_p", {}).items():
            if name not in self.params:                  # held: it never moved
                continue
            for lev, time in levels.items():
                rows.append(dict(event=f"t_{name}({lev})", kind="parameter", parameter=name, level=float(lev),
                                 time=time, description=f"{name} reached {lev}"))
        return pd.DataFrame(rows, columns=["event", "kind", "parameter", "level", "time", "description"])

    def to_xarray(self):
        """The trajectory as an xarray Dataset: ``theta`` and ``dtheta`` (t × param), ``loss`` (t),
        for an optimizer with state also ``state`` (t × entry, e.g. ``"v[beta2]"``), with the names
        as coordinates and the system, sizes, optimizer, status and emergence times as attributes.
        Needs xarray (``pip install 'gradflow[tables]'``)."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError("to_xarray needs xarray: pip install 'gradflow[tables]'") from None
        attrs = {"system": self.system.name, "flow": self.flow, "status": self.status,
                 "optimizer": json.dumps(self.optimizer or "gd"),
                 "sizes": json.dumps(self.system.sizes()), "emergence": json.dumps(json_ready(self.emergence))}
        data = {"theta": (("t", "param"), self.theta), "dtheta": (("t", "param"), self.dtheta), "loss": ("t", self.loss)}
        coords = {"t": self.t, "param": list(self.names)}
        if self.state is not None:
            data["state"] = (("t", "entry"), self.state)
            coords["entry"] = list(self.state_names)
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def to_csv(self, path) -> Path:
        """Write ``t``, ``loss`` and every parameter at the solver's steps as CSV (no pandas
        needed); the path is checked before anything is computed or written."""
        path = check_output_path(path, ".csv")
        loss = self.loss
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w") as f:
                f.write(",".join(["t", "loss", *self.names]) + "\n")
                for k in range(len(self.t)):
                    f.write(",".join(repr(float(v)) for v in (self.t[k], loss[k], *self.theta[k])) + "\n")
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    # -- persistence ----------------------------------------------------------------------
    def metadata(self) -> dict:
        """Everything but the arrays, JSON-ready (NaN times become ``null``)."""
        meta = {"system": self.system.name, "sizes": self.system.sizes(), "flow": self.flow,
                "params": list(self.params), "names": list(self.names), "log_params": list(self.log_params),
                "emergence": json_ready(self.emergence), "order": list(self.order),
                "stats": self.stats, "status": self.status, "message": self.message}
        if self.optimizer is not None:                   # gradient descent's files stay as they were
            meta.update(optimizer=self.optimizer, state_names=list(self.state_names))
        return meta

    def save(self, path, timings: bool = False) -> Path:
        """Save to one ``.npz`` file (the arrays plus the JSON metadata ``meta_json``). ``path``
        must end in ``.npz`` (a missing suffix is added) and its folder must exist: ``OSError``
        / ``ValueError`` otherwise, before anything is written. The file is byte-for-byte the
        same for the same result (fixed zip dates; the wall time is left out unless
        ``timings``), so a checksum compares two runs. Written to a temporary file and renamed:
        an interrupted save leaves no half file under ``path``."""
        path = check_output_path(path, ".npz")
        meta = self.metadata()
        if not timings:
            meta["stats"] = {k: v for k, v in meta["stats"].items() if k != "wall_seconds"}
        arrays = {"t": self.t, "theta": self.theta, "loss": self.loss, "dtheta": self.dtheta}
        if self._log_abs is not None:
            arrays["log_abs"] = self._log_abs
        if self.state is not None:
            arrays["state"] = self.state
        arrays["meta_json"] = np.array(json.dumps(meta, indent=1, allow_nan=False))
        _write_npz(path, arrays)
        return path

    @classmethod
    def load(cls, path) -> "Result":
        """Inverse of :meth:`save`; also reads files saved before systems existed (tokens).
        A file that is not a saved Result raises ``ValueError`` naming it; a path without a
        suffix is read as ``.npz`` (as :meth:`save` writes it)."""
        path = Path(path)
        if path.suffix == "" and not path.exists():
            path = path.with_suffix(".npz")
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta_json"]))
                arrays = {"t": f["t"], "theta": f["theta"], "_loss": f["loss"], "_dtheta": f["dtheta"],
                          "_log_abs": f["log_abs"] if "log_abs" in f.files else None,
                          "state": f["state"] if "state" in f.files else None}
        except FileNotFoundError:
            raise
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a saved gradflow Result ({type(exc).__name__}: {exc})") from None
        name, sizes = meta.get("system", "tokens"), meta.get("sizes", meta.get("task"))
        sys_ = systems.get(name).from_sizes(**sizes)
        return cls(system=sys_, flow=meta["flow"], params=tuple(meta["params"]),
                   emergence=_none_to_nan(meta["emergence"]), order=tuple(meta["order"]),
                   stats=meta["stats"], status=meta["status"], message=meta["message"],
                   log_params=tuple(meta.get("log_params", ())), optimizer=meta.get("optimizer"),
                   state_names=tuple(meta.get("state_names", ())), **arrays)

    def plot(self, path=None):
        """Figure of the head's parameters and the loss against log t (see :mod:`gradflow.plot`).
        Saves to ``path`` if given (and closes the figure; returns None), else returns it."""
        from .plot import plot_result
        return plot_result(self, path)


def _write_npz(path: Path, arrays: dict) -> None:
    """``np.savez`` with fixed member dates (byte-identical files for identical arrays), through a
    temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, value in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("tables need pandas: pip install 'gradflow[tables]'") from None
    return pd


class PathError(OSError, ValueError):
    """An output path that cannot be written: both an ``OSError`` (what it is) and a
    ``ValueError`` (a bad argument, as every other argument error of the API)."""


def figure_formats() -> tuple:
    """The file suffixes matplotlib can write a figure as (``.png``, ``.pdf``, ``.svg`` …)."""
    from matplotlib.backend_bases import FigureCanvasBase
    return tuple(f".{k}" for k in FigureCanvasBase.get_supported_filetypes())


def check_output_path(path, suffix: str | None = None, figure: bool = False) -> Path:
    """``path`` as a Path that can be written, checked before any work: its folder exists and a
    test file can be created and removed there (else ``PathError``, an ``OSError`` and a
    ``ValueError``, naming the path: /proc
    passes a permission check and still refuses files). With ``suffix``, a path without a suffix
    gets it and one with another suffix is a ``ValueError``; with ``figure``, the suffix must be
    a format matplotlib writes (``ValueError`` listing them)."""
    path = Path(path)
    if path.is_dir():
        raise PathError(f"{path} is a directory, not a file name")
    if suffix is not None:
        if path.suffix == "":
            path = path.with_suffix(suffix)
        elif path.suffix != suffix:
            raise ValueError(f"path must end in {suffix}, got {str(path)!r}")
    if figure and path.suffix.lower() not in figure_formats():
        raise ValueError(f"a figure path must end in one of {', '.join(figure_formats())}; got {str(path)!r}")
    folder = path.parent
    if not folder.is_dir():
        raise PathError(f"folder {folder} does not exist (for {path})")
    probe = folder / f".gradflow-write-test.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PathError(f"folder {folder} is not writable (for {path}: {exc.strerror or exc})") from None
    return path


def json_ready(x):
    """``x`` with NaN/inf turned into ``None`` and NumPy scalars into Python ones, recursively
    through dicts, lists and tuples: ready for strict JSON."""
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    return None if isinstance(x, float) and not np.isfinite(x) else x


def _none_to_nan(d):
    if isinstance(d, dict):
        return {k: _none_to_nan(v) for k, v in d.items()}
    return float("nan") if d is None else d


class _HermiteDense:
    def __init__(self, t, y, dy):
        self._spline = CubicHermiteSpline(t, y, dy, axis=0)

    def __call__(self, t):
        return np.moveaxis(self._spline(t), -1, 0)
