"""How many threads a system's kernels may use, and a pool that runs GIL-free kernels on them.

The count is, in order: the ``threads`` argument of :func:`gradflow.solve` (for that solve), the
environment variable ``GRADFLOW_THREADS``, else the number of cores this process may use (at
most 2; more threads do not pay for the sizes gradflow solves, see
benchmarks/results/tokens/first_hour.md). Workers are plain Python threads that block while they wait,
so they never spin against other processes on a busy machine; a kernel must release the GIL
(Numba ``nogil=True``) for them to run at the same time.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ._validate import check_int

ENV = "GRADFLOW_THREADS"
MAX_DEFAULT = 2
_override: int | None = None
_pool: ThreadPoolExecutor | None = None


def default() -> int:
    """The count from ``GRADFLOW_THREADS`` or the cores available (at most MAX_DEFAULT)."""
    text = os.environ.get(ENV)
    if text is not None:
        try:
            return check_int(ENV, int(text), 1)
        except ValueError:
            raise ValueError(f"{ENV} must be an integer >= 1, got {text!r}") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                          # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT, cores))


def count() -> int:
    """The number of threads kernels may use now."""
    return _override if _override is not None else default()


@contextmanager
def using(n: int | None):
    """Within the block, kernels use ``n`` threads (None: the default)."""
    global _override
    previous = _override
    _override = None if n is None else check_int("threads", n, 1)
    try:
        yield
    finally:
        _override = previous


def run(tasks) -> None:
    """Run ``[(function, args), ...]`` on the pool, the first in this thread; wait for all and
    re-raise the first error."""
    global _pool
    if len(tasks) == 1:
        fn, args = tasks[0]
        fn(*args)
        return
    if _pool is None or _pool._max_workers < len(tasks) - 1:
        _pool = ThreadPoolExecutor(max_workers=len(tasks) - 1, thread_name_prefix="gradflow")
    futures = [_pool.submit(fn, *args) for fn, args in tasks[1:]]
    fn, args = tasks[0]
    fn(*args)
    for f in futures:
        f.result()
