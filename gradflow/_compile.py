"""Say so while Numba compiles: the first call of a kernel in a fresh install takes seconds.

Only a real compilation is announced. Numba fires its ``numba:compile`` event when it compiles a
function, never when it loads one from its disk cache, so a cache load that is slow because the
machine is busy stays silent.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

from numba.core import event as _event

from . import _slow

#: seconds a first call may take before a compilation is announced
ANNOUNCE_AFTER = 0.5
_done: set[str] = set()
_compiles = [0]                 # compilations started in this process (Numba's compile events)


class _CompileCounter(_event.Listener):
    def on_start(self, event):
        _compiles[0] += 1

    def on_end(self, event):
        pass


_event.register("numba:compile", _CompileCounter())

_NOTHING = nullcontext()


def compiles_started() -> int:
    """How many Numba compilations have started in this process."""
    return _compiles[0]


def first_call(label: str):
    """Around the first call of the kernels named ``label`` in this process: if Numba compiles
    during it and it has taken ANNOUNCE_AFTER seconds, print one line to stderr, and at the end
    how long it took. Later calls get a shared no-op context (these calls sit on the solver's
    hot path)."""
    return _NOTHING if label in _done else _announce(label)


@contextmanager
def _announce(label: str):
    before = compiles_started()
    try:
        with _slow.notice(f"compiling {label} (first run only; cached on disk afterwards)", after=ANNOUNCE_AFTER,
                          condition=lambda: compiles_started() > before):
            yield
    finally:
        _done.add(label)
