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


def splice(readme: str, name: str) -> str:
    start, end = markers(name)
    a, b = readme.index(start), readme.index(end) + len(end)
    return readme[:a] + render(name) + readme[b:]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true")
    args = p.parse_args(argv)
    readme = (ROOT / "README.md").read_text()
    for name in BLOCKS:
        readme = splice(readme, name)
    if args.write:
        (ROOT / "README.md").write_text(readme)
        print("updated README.md")
    else:
        print("\n\n".join(render(n) for n in BLOCKS))


if __name__ == "__main__":
    main()
