"""The README's paper numbers are rendered from the benchmark JSON."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_paper_block_matches_the_benchmark_json():
    sys.path.insert(0, str(ROOT / "benchmarks" / "paper"))
    try:
        import readme_paper
    finally:
        sys.path.pop(0)
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(readme_paper.START):readme.index(readme_paper.END) + len(readme_paper.END)]
    assert block == readme_paper.render(), "run python benchmarks/paper/readme_paper.py --write"
