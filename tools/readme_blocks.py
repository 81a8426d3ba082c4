"""Render every generated block of the documentation: the mutation and sweep blocks from
benchmarks/results/mutation.md and sweep_speed.md, and each system's Results block from its
renderer (benchmarks/<system>/readme_*.py, reading benchmarks/results/<system>/).

A block lives between ``<!-- name:start -->`` and ``<!-- name:end -->`` in one of the pages
(README.md and docs/**/*.md); renderers write links relative to the repository's root, and a block
is spliced in with its links made relative to the page that holds it, so they work in a clone and
on the built site alike.

``python tools/readme_blocks.py --write`` updates the pages (without it, prints the blocks); the
tests fail when a block differs from what its renderer produces.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCKS = {"mutation": "mutation.md", "sweep": "sweep_speed.md"}
#: each system's Results block: (folder, renderer module); the module has START, END and render()
RENDERERS = {"paper": ("benchmarks/paper", "readme_paper"), "tokens": ("benchmarks/tokens", "readme_results"),
             "markov": ("benchmarks/markov", "readme_markov"),
             "optimizers": ("benchmarks/optimizers", "readme_optimizers")}


def pages() -> list:
    """Every page a block may live in."""
    return [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))


def markers(name: str):
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def render(name: str) -> str:
    start, end = markers(name)
    path = RESULTS / BLOCKS[name]
    body = path.read_text().strip() if path.exists() else f"(not measured yet: {path.relative_to(ROOT)} is missing)"
    return f"{start}\n{body}\n{end}"


def relink(text: str, page: Path) -> str:
    """``text`` with every relative markdown link (written from the repository's root) made
    relative to ``page``."""
    prefix = "../" * (len(page.relative_to(ROOT).parts) - 1)
    if not prefix:
        return text

    def fix(m):
        label, target = m.group(1), m.group(2)
        if re.match(r"^(https?:|#|mailto:|/)", target):
            return m.group(0)
        return f"[{label}]({prefix}{target})"
    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", fix, text)


def locate(start: str):
    """(page, its text) of the page that holds the block starting with ``start``."""
    found = [(p, p.read_text()) for p in pages() if start in p.read_text()]
    if len(found) != 1:
        raise LookupError(f"{start} is in {len(found)} pages, not one: {[str(p) for p, _ in found]}")
    return found[0]


def current_and_wanted(start: str, end: str, block: str):
    """(the block as it stands in its page, the block as rendered for that page, the page)."""
    page, text = locate(start)
    return text[text.index(start):text.index(end) + len(end)], relink(block, page), page


def splice(text: str, start: str, end: str, block: str) -> str:
    """``text`` with the part from ``start`` to ``end`` (markers included) replaced by ``block``."""
    a, b = text.index(start), text.index(end) + len(end)
    return text[:a] + block + text[b:]


def cli(blocks, description: str, argv=None) -> None:
    """``--write``: splice every (start, end, block) into the page that holds it; else print them."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--write", action="store_true", help="update the pages in place")
    args = p.parse_args(argv)
    if args.write:
        changed = set()
        for start, end, block in blocks:
            page, text = locate(start)
            new = splice(text, start, end, relink(block, page))
            if new != text:
                page.write_text(new)
                changed.add(page.relative_to(ROOT))
        print("updated " + (", ".join(map(str, sorted(changed))) or "nothing (every block was current)"))
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
