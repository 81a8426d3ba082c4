"""Say so while Numba compiles: the first call of a kernel in a fresh install takes seconds."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager, nullcontext

#: seconds a first call may take before it is announced (a cache load takes well under this)
ANNOUNCE_AFTER = 0.5
_done: set[str] = set()


_NOTHING = nullcontext()


def first_call(label: str):
    """Around the first call of the kernels named ``label`` in this process: if it takes longer
    than ANNOUNCE_AFTER seconds (compiling, not loading from Numba's disk cache), print one line to
    stderr when that time has passed and how long it took at the end. Later calls get a shared
    no-op context (these calls sit on the solver's hot path)."""
    return _NOTHING if label in _done else _announce(label)


@contextmanager
def _announce(label: str):
    start = time.perf_counter()
    said = threading.Event()

    def announce():
        said.set()
        print(f"gradflow: compiling {label} (first run only; cached on disk afterwards) ...",
              end="", file=sys.stderr, flush=True)
    timer = threading.Timer(ANNOUNCE_AFTER, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _done.add(label)
        if said.is_set():
            print(f" {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
