"""One check for every rendered block: the text between its markers equals what its renderer
produces from the committed results, with links relative to its page (tools/readme_blocks.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import readme_blocks  # noqa: E402
sys.path.pop(0)


def assert_system_block_rendered(system: str) -> None:
    r = readme_blocks.renderer(system)
    current, wanted, page = readme_blocks.current_and_wanted(r.START, r.END, r.render())
    assert current == wanted, f"{page}: run python tools/readme_blocks.py --write"
