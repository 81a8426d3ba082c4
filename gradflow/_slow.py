"""Say so while something slow runs: one line on stderr once a step has taken SAY_AFTER seconds
(and, if given, a condition holds), finished with its duration; nothing for a step that is quick
(plots, table renders). :mod:`gradflow._compile` announces Numba's compilations through it."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

#: seconds a step may take before it is announced
SAY_AFTER = 2.0
#: how often the watcher looks
POLL = 0.05


@contextmanager
def notice(label: str, after: float | None = None, condition=None):
    """Around a step that can take seconds: once it has taken ``after`` seconds (default
    SAY_AFTER) and ``condition()`` holds (default: always), print ``gradflow: {label} ...`` to
    stderr, and at the end how long it took."""
    wait = SAY_AFTER if after is None else after
    start = time.perf_counter()
    said, finished = threading.Event(), threading.Event()

    def watch():
        while not finished.wait(POLL):
            if time.perf_counter() - start >= wait and (condition is None or condition()):
                said.set()
                print(f"gradflow: {label} ...", end="", file=sys.stderr, flush=True)
                return
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()
        if said.is_set():
            print(f" {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
