"""One check for every rendered README block: the text between its markers equals what its
renderer produces from the committed results (tools/readme_blocks.py renders them all)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import readme_blocks  # noqa: E402
sys.path.pop(0)


def assert_system_block_rendered(system: str) -> None:
    r = readme_blocks.renderer(system)
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(r.START):readme.index(r.END) + len(r.END)]
    assert block == r.render(), "run python tools/readme_blocks.py --write"
