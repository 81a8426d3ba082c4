"""Render the README's mutation and sweep blocks from benchmarks/results/mutation.md and
sweep_speed.md (written by tools/mutation.py and benchmarks/sweep_speed.py).

``python tools/readme_blocks.py --write`` updates README.md; tests/test_readme.py fails when they differ.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCKS = {"mutation": "mutation.md", "sweep": "sweep_speed.md"}


def markers(name: str):
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def render(name: str) -> str:
    start, end = markers(name)
    path = RESULTS / BLOCKS[name]
    body = path.read_text().strip() if path.exists() else f"(not measured yet: {path.relative_to(ROOT)} is missing)"
    return f"{start}\n{body}\n{end}"


def splice(readme: str, start: str, end: str, block: str) -> str:
    """``readme`` with the text from ``start`` to ``end`` (markers included) replaced by ``block``."""
    a, b = readme.index(start), readme.index(end) + len(end)
    return readme[:a] + block + readme[b:]


def cli(blocks, description: str, argv=None) -> None:
    """``--write``: splice every (start, end, block) into README.md; else print the blocks."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--write", action="store_true", help="update README.md in place")
    args = p.parse_args(argv)
    if args.write:
        readme = (ROOT / "README.md").read_text()
        for start, end, block in blocks:
            readme = splice(readme, start, end, block)
        (ROOT / "README.md").write_text(readme)
        print("updated README.md")
    else:
        print("\n\n".join(block for _, _, block in blocks))


def main(argv=None):
    cli([(*markers(n), render(n)) for n in BLOCKS], __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
