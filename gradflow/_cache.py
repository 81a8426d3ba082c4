"""Keep Numba's on-disk cache consistent with the generated kernels.

Numba invalidates a cached function when *its own* source file changes, not when a function it
calls changes. The reduction in ``reduced.py`` inlines the generated kernels, so after
``python -m gradflow.derive`` rewrites ``_kernels.py`` its cached machine code would be stale.
``ensure_fresh`` keeps a digest of the compiled sources next to the cache and drops the
package's cache files when the digest changes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SOURCES = ("_kernels.py", "reduced.py")


def ensure_fresh() -> None:
    digest = hashlib.sha256(b"".join((PACKAGE / name).read_bytes() for name in SOURCES)).hexdigest()
    cache = PACKAGE / "__pycache__"
    stamp = cache / "numba-sources.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            f.unlink()
        stamp.write_text(digest)
    except OSError:                      # read-only install: Numba then caches elsewhere or not at all
        pass
