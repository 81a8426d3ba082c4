"""``python -m gradflow.derive [--check] [--system NAME]``: regenerate every system's derived files.

Each registered system whose class names a ``derivation`` module contributes that module's
``generate() -> {path: text}`` (paths relative to the repository). Without ``--check`` the files are
written; with it they are regenerated in memory and the command exits 1, naming the stale files,
if anything committed differs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from . import system as systems

ROOT = Path(__file__).resolve().parent.parent


def generate(names=None) -> dict[Path, str]:
    """Every generated file of the systems ``names`` (default: all registered ones)."""
    files = {}
    for name in names or systems.available():
        module = systems.get(name).derivation
        if module:
            files.update(importlib.import_module(module).generate())
    return files


def stale(files: dict[Path, str], root: Path) -> list[str]:
    """The paths among ``files`` whose committed text under ``root`` differs (or is missing)."""
    return [str(path) for path, text in files.items()
            if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gradflow.derive", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the committed files are stale")
    p.add_argument("--system", choices=systems.available(), action="append",
                   help="only this system (repeatable; default: every system)")
    p.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    files = generate(args.system)
    seconds = time.perf_counter() - start
    if args.check:
        bad = stale(files, args.root)
        if bad:
            print(f"stale generated files: {', '.join(bad)} (run python -m gradflow.derive)", file=sys.stderr)
            return 1
        print(f"generated files are up to date ({seconds:.1f} s)")
        return 0
    for path, text in files.items():
        (args.root / path).parent.mkdir(parents=True, exist_ok=True)
        (args.root / path).write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    print(f"derivation took {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
