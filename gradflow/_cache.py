"""Keep Numba's on-disk cache consistent with generated kernels.

Numba invalidates a cached function when *its own* source file changes, not when a function it
calls changes. A system's reduction inlines its generated kernels, so after
``python -m gradflow.derive`` rewrites them the cached machine code would be stale.
:func:`ensure_fresh` keeps a digest of the compiled sources next to the cache and drops that
folder's cache files when the digest changes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def ensure_fresh(folder, sources) -> None:
    """Drop the Numba cache files of ``folder`` unless the digest of ``sources`` (file names in
    ``folder``) matches the one stored with them."""
    folder = Path(folder)
    digest = hashlib.sha256(b"".join((folder / name).read_bytes() for name in sources)).hexdigest()
    cache = folder / "__pycache__"
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
