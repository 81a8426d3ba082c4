"""Render every generated block of the README: the mutation and sweep blocks from
benchmarks/results/mutation.md and sweep_speed.md, and each system's Results block from its
renderer (benchmarks/<system>/readme_*.py, reading benchmarks/results/<system>/).

``python tools/readme_blocks.py --write`` updates README.md (without it, prints the blocks); the
tests fail when a block differs from what its renderer produces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCKS = {"mutation": "mutation.md", "sweep": "sweep_speed.md"}
#: each system's Results block: (folder, renderer module); the module has START, END and render()
RENDERERS = {"paper": ("benchmarks/paper", "readme_paper"), "tokens": ("benchmarks/tokens", "readme_results"),
             "markov": ("benchmarks/markov", "readme_markov")}


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


def renderer(system: str):
    """The renderer module of ``system``'s Results block."""
    import importlib
    import sys
    folder, module = RENDERERS[system]
    sys.path.insert(0, str(ROOT / folder))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.pop(0)


def main(argv=None):
    blocks = [(*markers(n), render(n)) for n in BLOCKS]
    for system in RENDERERS:
        r = renderer(system)
        blocks.append((r.START, r.END, r.render()))
    cli(blocks, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
