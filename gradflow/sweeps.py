"""``sweep``: many solves, on this machine or a cluster, resumable, each finished run stored at once.

A sweep is a list of ``solve`` keyword dicts (or a grid: a dict of lists, expanded to every
combination). Each run is keyed by a hash of its inputs and the gradflow version; its row — inputs,
status, emergence times, order, solver statistics, wall time, or the error it raised — is written to
``<store>/runs/<key>.json`` the moment it finishes, through a temporary file and a rename, so an
interrupted sweep (Ctrl-C, a killed worker or machine) loses no finished run and leaves no
half-written file. Running the same sweep again skips every run already stored.

The store is plain JSON, one file per run: ``json.load`` reads it without gradflow.

Local workers are started with ``spawn``: a script that calls ``sweep`` must do so under
``if __name__ == "__main__":`` (as with any ``multiprocessing`` pool).

Executors. Default: local worker processes (``workers``, default the cores, at most 2), each with
one kernel thread (``GRADFLOW_THREADS=1``, ``NUMBA_NUM_THREADS=1``): on a small machine several
processes that each spin up their own threads would fight over the same cores. Any
``concurrent.futures.Executor`` is accepted, and so is a ``dask.distributed`` Client (the optional
extra ``gradflow[dask]``): ``sweep(runs, store, executor=Client("tcp://scheduler:8786"))``.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from . import system as systems

#: solve() arguments a run may carry besides the system's size arguments
_SOLVE_ARGS = None


def _solve_args() -> set:
    global _SOLVE_ARGS
    if _SOLVE_ARGS is None:
        from .solver import solve
        _SOLVE_ARGS = set(inspect.signature(solve).parameters) - {"progress", "criteria", "threads"}
    return _SOLVE_ARGS


def expand(runs) -> list[dict]:
    """A list of run dicts from a grid (dict of lists or scalars) or a list of dicts; each checked
    (``ValueError`` naming the bad argument) before anything runs."""
    if isinstance(runs, dict):
        keys = list(runs)
        values = [v if isinstance(v, (list, tuple)) else [v] for v in runs.values()]
        runs = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    elif not isinstance(runs, (list, tuple)) or not all(isinstance(r, dict) for r in runs):
        raise ValueError("runs must be a dict of lists (a grid) or a list of dicts of solve arguments")
    if not runs:
        raise ValueError("runs must hold at least one run")
    from .solver import validate
    out = []
    for run in runs:
        run = {k: (list(v) if isinstance(v, tuple) else v) for k, v in run.items()}
        if "optimizer" in run and not isinstance(run["optimizer"], (str, dict)):   # an instance: its JSON form
            from .optimizers import make
            run["optimizer"] = make(run["optimizer"]).spec()
        name = run.get("system", systems.DEFAULT_SYSTEM)
        cls = systems.get(name)
        sizes = {k: v for k, v in run.items() if k in {s.name for s in cls.sizes_spec}}
        unknown = set(run) - set(sizes) - _solve_args()
        if unknown:
            raise ValueError(f"unknown run argument(s) {', '.join(sorted(unknown))}; allowed: solve()'s "
                             f"arguments and the sizes of system {name!r}")
        # every argument, sizes beyond the machine included, checked now, not in a worker
        validate(**dict(run, system=name))
        out.append(dict(run, system=name))
    return out


def run_key(run: dict) -> str:
    """Hash of a run's inputs and the gradflow version (16 hex digits)."""
    from . import __version__
    text = json.dumps({"run": run, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def execute(run: dict) -> dict:
    """Solve one run in this process (one kernel thread) and return its row; errors are recorded."""
    from .result import json_ready
    from .solver import solve
    start = time.perf_counter()
    row = {"store_version": STORE_VERSION, "key": run_key(run), "inputs": run, "pid": os.getpid()}
    try:
        params = run.get("params")
        r = solve(**{k: v for k, v in run.items() if k != "params"}, params=params, threads=1)
        row.update(status=r.status, message=r.message, emergence=json_ready(r.emergence), order=list(r.order),
                   stats=r.stats, final_loss=r.final_loss(),
                   final_theta=dict(zip(r.names, r.theta[-1].tolist())), **_trajectory_facts(r))
    except Exception as exc:                                   # recorded; the sweep goes on
        row.update(status="error", message=f"{type(exc).__name__}: {exc}")
    row["wall_seconds"] = time.perf_counter() - start
    return row


def _trajectory_facts(r) -> dict:
    """Which parameters moved (max |θ_k| above 1e-9 of the largest) and the rank of the trajectory
    (singular values above 1e-10 of the largest): the dimension of the set the flow reached."""
    import numpy as np
    scale = float(np.max(np.abs(r.theta)))
    if scale == 0:
        return {"moved": [], "rank": 0}
    moved = [n for k, n in enumerate(r.names) if np.max(np.abs(r.theta[:, k])) > 1e-9 * scale]
    s = np.linalg.svd(r.theta, compute_uv=False)
    return {"moved": moved, "rank": int(np.sum(s > 1e-10 * s[0]))}


#: the layout of a stored row; a row of another version is set aside and recomputed
STORE_VERSION = 1
#: what every stored row holds (and their types)
_ROW_FIELDS = {"key": str, "inputs": dict, "status": str, "wall_seconds": (int, float)}
#: where damaged or foreign files of a store are moved (``<store>/set_aside/``)
SET_ASIDE = "set_aside"


def _write_atomic(path: Path, row: dict) -> None:
    """Write ``row`` as JSON to ``path`` through a temporary file, flushed to disk, and a rename:
    a reader (or an interrupted writer) never sees half a file under the final name."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(row, indent=1, allow_nan=False))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_row(path: Path):
    """(row, None) for a valid stored row, else (None, what is wrong with the file)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    if not text.strip():
        return None, "empty file"
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON, truncated or damaged ({exc})"
    if not isinstance(row, dict):
        return None, f"not a run row (a JSON {type(row).__name__})"
    version = row.get("store_version", STORE_VERSION)     # rows written before versions existed: 1
    if version != STORE_VERSION:
        return None, f"store version {version!r}, this gradflow reads {STORE_VERSION}"
    for name, kind in _ROW_FIELDS.items():
        if not isinstance(row.get(name), kind):
            return None, f"not a run row (its {name!r} is missing or of the wrong type)"
    if row["key"] != path.stem:
        return None, f"its key {row['key']!r} does not match its file name"
    return row, None


def scan(store) -> tuple[list[dict], list[tuple[Path, str]]]:
    """The valid rows of a store in key order, and the files that are not valid rows with what is
    wrong with each (nothing is moved)."""
    folder = Path(store) / "runs"
    valid, problems = [], []
    if folder.is_dir():
        for p in sorted(folder.glob("*.json")):
            row, problem = read_row(p)
            if problem:
                problems.append((p, problem))
            else:
                valid.append(row)
    return valid, problems


def rows(store) -> list[dict]:
    """Every valid stored row of a sweep (plain dicts, as stored), in key order; files that are
    not valid rows are reported on stderr by name and skipped (:func:`scan` returns them)."""
    valid, problems = scan(store)
    for p, problem in problems:
        print(f"gradflow: skipping {p}: {problem}", file=sys.stderr)
    return valid


def load(store):
    """The store as a pandas DataFrame, one row per run: ``key``, ``system``, every input of the
    run (its sizes and solve arguments; absent ones are NaN/None), ``status``, ``message``, every
    emergence time (``t_p`` thresholds as ``t_<param>(<level>)``), ``order`` (the head's order as
    ``a -> b -> c``), ``final_loss``, ``nfev``, ``wall_seconds``. Damaged files are skipped and
    named on stderr. Needs pandas (``pip install 'gradflow[tables]'``)."""
    from .result import _pandas
    pd = _pandas()
    out = []
    for row in rows(store):
        flat = {"key": row["key"], "system": row["inputs"].get("system")}
        flat.update({k: (",".join(v) if isinstance(v, list) else v) for k, v in row["inputs"].items()
                     if k != "system"})
        flat.update(status=row["status"], message=row.get("message", ""))
        for k, v in (row.get("emergence") or {}).items():
            if k == "t_p":
                for name, levels in v.items():
                    for lev, when in levels.items():
                        flat[f"t_{name}({lev})"] = float("nan") if when is None else when
            else:
                flat[k] = float("nan") if v is None else v
        flat.update(order=" -> ".join(row.get("order") or []), final_loss=row.get("final_loss"),
                    nfev=(row.get("stats") or {}).get("nfev"), wall_seconds=row["wall_seconds"])
        out.append(flat)
    return pd.DataFrame(out)


def set_aside(store, problems) -> list[Path]:
    """Move the damaged files ``problems`` (from :func:`scan`) to ``<store>/set_aside/`` so that
    their runs are recomputed; says so on stderr, one line each. Returns the new paths."""
    folder = Path(store) / SET_ASIDE
    moved = []
    for p, problem in problems:
        folder.mkdir(exist_ok=True)
        target = folder / p.name
        k = 1
        while target.exists():
            target, k = folder / f"{p.name}.{k}", k + 1
        os.replace(p, target)
        moved.append(target)
        print(f"gradflow: set aside {p} ({problem}) as {target}; its run will be recomputed", file=sys.stderr)
    return moved


def check_store(store) -> Path:
    """The store's ``runs`` folder, created if needed and proven writable by a test write, else
    ``ValueError`` naming ``store`` (before any run starts)."""
    folder = Path(store) / "runs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"store {str(store)!r} is not a writable folder ({type(exc).__name__}: {exc})") from None
    return folder


def _worker_init():
    import signal
    os.environ["GRADFLOW_THREADS"] = "1"
    os.environ["NUMBA_NUM_THREADS"] = "1"
    # Ctrl-C reaches the whole process group: the parent alone handles it (and ends the workers)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM under the CLI) during :func:`sweep`: every finished run is stored;
    ``stored`` and ``remaining`` count the sweep's runs, ``store`` is where they are."""

    def __init__(self, store, stored: int, remaining: int):
        self.store, self.stored, self.remaining = store, stored, remaining
        super().__init__(f"sweep interrupted: {stored} runs stored in {store}, {remaining} to run; "
                         "run the same sweep again to resume")


def _stop_workers(executor) -> None:
    """End a local process pool now: cancel what has not started, terminate the running solves."""
    executor.shutdown(wait=False, cancel_futures=True)
    for p in list((getattr(executor, "_processes", None) or {}).values()):
        if p.is_alive():
            p.terminate()


class _Progress:
    """done / failed / remaining with an ETA: one line rewritten on a terminal, plain lines else."""

    def __init__(self, total: int, skipped: int, stream=sys.stderr, enabled: bool = True):
        self.total, self.skipped, self.stream, self.enabled = total, skipped, stream, enabled
        self.done = self.failed = 0
        self.start = time.perf_counter()
        self.tty = enabled and getattr(stream, "isatty", lambda: False)()

    def update(self, row: dict) -> None:
        self.done += 1
        self.failed += row["status"] in ("error", "failed")
        if not self.enabled:
            return
        remaining = self.total - self.skipped - self.done
        rate = (time.perf_counter() - self.start) / self.done
        eta = f"{rate * remaining:.0f} s" if remaining else "0 s"
        if self.tty:
            width = 30
            filled = int(width * (self.skipped + self.done) / max(self.total, 1))
            print(f"\r[{'#' * filled}{'.' * (width - filled)}] done {self.skipped + self.done}/{self.total}  "
                  f"failed {self.failed}  remaining {remaining}  ETA {eta}", end="", file=self.stream, flush=True)
            if not remaining:
                print(file=self.stream)
        else:
            print(f"done {self.skipped + self.done}/{self.total}  failed {self.failed}  remaining {remaining}  "
                  f"ETA {eta}  ({row['inputs']} -> {row['status']}, {row['wall_seconds']:.1f} s)",
                  file=self.stream, flush=True)


def sweep(runs, store, executor=None, *, workers: int | None = None, retry_failed: bool = False,
          progress: bool = True) -> list[dict]:
    """Run every run not yet in ``store`` and return the table of all of them (one row per run,
    in the order given). See the module docstring for executors and the store."""
    runs = expand(runs)
    if workers is not None:
        from ._validate import check_int
        workers = check_int("workers", workers, 1)
    folder = check_store(store)
    valid, problems = scan(store)
    set_aside(store, problems)
    keys = [run_key(r) for r in runs]
    stored = {row["key"]: row for row in valid}
    todo = [(k, r) for k, r in zip(keys, runs)
            if k not in stored or (retry_failed and stored[k]["status"] in ("error", "failed"))]
    todo = list(dict(todo).items())                              # a run listed twice runs once
    total = len(set(keys))
    if progress:
        print(f"{total - len(todo)} stored, {len(todo)} to run ({folder})", file=sys.stderr, flush=True)
    bar = _Progress(total, total - len(todo), enabled=progress)
    if todo:
        own = executor is None
        if own:
            n = workers or min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
            from multiprocessing import get_context
            executor = ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"), initializer=_worker_init)
        try:
            for row in _results(executor, todo):
                _write_atomic(folder / f"{row['key']}.json", row)
                stored[row["key"]] = row
                bar.update(row)
        except BrokenProcessPool as exc:
            raise RuntimeError(f"a sweep worker died ({exc}); the {bar.done} runs it finished are stored in "
                               f"{folder}: run the same sweep again to resume") from None
        except KeyboardInterrupt:
            if own:
                _stop_workers(executor)
                own = False
            if bar.tty:
                print(file=sys.stderr)
            done = sum(k in stored for k in set(keys))
            raise SweepInterrupted(store, done, total - done) from None
        finally:
            if own:
                executor.shutdown(wait=False, cancel_futures=True)
    return [stored[k] for k in keys]


def _results(executor, todo):
    """Rows as they finish, from a concurrent.futures executor or a dask.distributed Client."""
    if type(executor).__module__.split(".")[0] == "distributed":
        from distributed import as_completed
        futures = [executor.submit(execute, run, key=f"gradflow-{key}", pure=False) for key, run in todo]
        for f in as_completed(futures):
            yield f.result()
        return
    pending = {executor.submit(execute, run) for _, run in todo}
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in finished:
            yield f.result()


def status(store, y: str | None = None, x: str = "N") -> str:
    """A short summary of a store: runs by status and system, total wall time, the quantity ``y``
    against the swept input ``x`` (:func:`table`), and the files that are not valid rows (by
    name). ``ValueError`` if ``store`` is not a store."""
    if not (Path(store) / "runs").is_dir():
        raise ValueError(f"store {str(store)!r} has no runs folder: not a sweep store (mistyped?)")
    valid, problems = scan(store)
    damaged = [f"  damaged: {p}: {problem} (set aside and recomputed by the next run)" for p, problem in problems]
    if not valid:
        return "\n".join([f"{store}: no valid runs stored"] + damaged)
    by = {}
    for r in valid:
        k = (r["inputs"].get("system", "?"), r["status"])
        by[k] = by.get(k, 0) + 1
    lines = [f"{store}: {len(valid)} runs, {sum(r['wall_seconds'] for r in valid):.1f} s of solving"]
    lines += [f"  {system:8s} {st:12s} {n}" for (system, st), n in sorted(by.items())]
    errors = [r for r in valid if r["status"] == "error"]
    lines += [f"  error: {r['inputs']}: {r['message']}" for r in errors[:5]]
    return "\n".join(lines + [table(store, y, x)] + damaged)


def parse_values(text: str):
    """CLI values: ``a,b,c``; ``lo:hi:xk`` (geometric, factor k) or ``lo:hi:+k`` (arithmetic), ends
    included; numbers become ints or floats, everything else stays a word."""
    def one(v):
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
        return v
    if text.count(":") == 2:
        lo, hi, step = text.split(":")
        lo, hi = one(lo), one(hi)
        if step[:1] not in ("x", "+") or not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
            raise ValueError(f"range must be lo:hi:xK or lo:hi:+K, got {text!r}")
        k = one(step[1:])
        if not isinstance(k, (int, float)) or k <= (1 if step[0] == "x" else 0):
            raise ValueError(f"range step must be > {1 if step[0] == 'x' else 0}, got {text!r}")
        if hi < lo:
            raise ValueError(f"range must have lo <= hi, got {text!r}")
        if step[0] == "x" and not lo > 0:
            raise ValueError(f"a geometric range must start above 0, got {text!r}")
        out, v = [], lo
        while v <= hi:
            out.append(v)
            v = v * k if step[0] == "x" else v + k
        return out
    return [one(v) for v in text.split(",") if v]


def _value(row: dict, path: str):
    """``row["emergence"]`` at a path like ``"t_ICL"`` or ``"t_p/beta2/0.5"`` (None if absent)."""
    x = row.get("emergence") or {}
    for part in path.split("/"):
        if not isinstance(x, dict) or part not in x:
            return None
        x = x[part]
    return x


def _finished(store, y: str | None):
    """(the store's finished rows, ``y`` or the first one's system's main event)."""
    finished = [r for r in rows(store) if r["status"] in ("emerged", "t_max")]
    if finished and y is None:
        y = systems.get(finished[0]["inputs"]["system"]).primary_key
    return finished, y


def _series(finished: list, y: str, x: str) -> dict:
    """{configuration (JSON of every input but x): [(x, y), ...]} over rows with both, y finite."""
    groups = {}
    for r in finished:
        config = json.dumps({k: v for k, v in r["inputs"].items() if k != x}, sort_keys=True)
        value = _value(r, y)
        if value is not None and x in r["inputs"]:
            groups.setdefault(config, []).append((r["inputs"][x], value))
    return {k: sorted(v) for k, v in groups.items()}


def table(store, y: str | None = None, x: str = "N") -> str:
    """The quantity ``y`` (default: the first run's system's primary event) against the swept
    input ``x``, one column per configuration (every other input), as text."""
    finished, y = _finished(store, y)
    if not finished:
        return "no finished runs"
    groups = _series(finished, y, x)
    if not groups:
        return f"no finished run has both {x!r} and {y!r}"
    configs = sorted(groups)
    show = lambda v: ",".join(map(str, v)) if isinstance(v, list) else v
    labels = [", ".join(f"{k}={show(v)}" for k, v in json.loads(c).items() if k != "system") or "-" for c in configs]
    xs = sorted({px for c in configs for px, _ in groups[c]})
    width = max(12, *(len(lab) for lab in labels))
    lines = [f"{y} against {x}:", f"{x:>10s}  " + "  ".join(f"{lab:>{width}s}" for lab in labels)]
    for value in xs:
        cells = []
        for c in configs:
            got = dict(groups[c]).get(value)
            cells.append(f"{got:>{width}.6g}" if got is not None else f"{'':>{width}s}")
        lines.append(f"{value:>10g}  " + "  ".join(cells))
    return "\n".join(lines)


def plot(store, path, y: str | None = None, x: str = "N"):
    """T against N for every configuration in the store (all inputs but ``x`` equal), log-log, with
    local slopes d ln T / d ln N in a second panel; redrawn from the stored rows, no solving.
    ``y``: an emergence path (default: the first system's primary key)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from .result import check_output_path
    path = check_output_path(path, figure=True)
    finished, y = _finished(store, y)
    if not finished:
        raise ValueError(f"no finished runs in {store} to plot")
    groups = _series(finished, y, x)
    if not groups:
        raise ValueError(f"nothing to plot: no finished run in {store} has both the input {x!r} and the "
                         f"emergence time {y!r} (y: an emergence key or a path like t_p/beta2/0.5)")
    cls = systems.get(finished[0]["inputs"]["system"])
    fig, (ax, sx) = plt.subplots(1, 2, figsize=(11, 4.6))
    show = lambda v: ",".join(map(str, v)) if isinstance(v, list) else v
    ends = []
    for k, (config, pts) in enumerate(sorted(groups.items())):
        X, Y = np.array(pts, dtype=float).T
        label = ", ".join(f"{a}={show(b)}" for a, b in json.loads(config).items() if a != "system")
        ax.loglog(X, Y, "o-", ms=3, color=f"C{k}", label=label or "all runs")
        ends.append((X[-1], Y[-1]))
        if len(X) > 1:
            sx.semilogx(np.sqrt(X[1:] * X[:-1]), np.diff(np.log(Y)) / np.diff(np.log(X)), "o-", ms=3, color=f"C{k}")
    if cls.expected_slope is not None and x == "N":
        slope, why = cls.expected_slope
        X0, Y0 = max(ends)
        xs = np.geomspace(min(p[0] for pts in groups.values() for p in pts), X0, 20)
        ax.loglog(xs, Y0 * (xs / X0) ** slope, color="0.5", ls=":", lw=1.2, label=f"slope {slope:.3g} ({why})")
        sx.axhline(slope, color="0.5", ls=":", lw=1.2, label=f"{slope:.3g}: {why}")
        sx.legend(fontsize=8)
    ax.set_xlabel(f"{x} (log scale)")
    ax.set_ylabel(f"{y} (log scale)")
    ax.legend(fontsize=8)
    sx.set_xlabel(f"{x} (geometric midpoint, log scale)")
    sx.set_ylabel(f"local slope d ln {y} / d ln {x}")
    fig.suptitle(f"{cls.name} system: {y} against {x}, {len(finished)} runs from {Path(store).name or store}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
