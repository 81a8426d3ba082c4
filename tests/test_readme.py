"""The README's numbers come from the benchmark JSON, and its usage example runs."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_results_block_matches_the_benchmark_json():
    from readme_block import assert_system_block_rendered
    assert_system_block_rendered("tokens")


def test_usage_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace = {}
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert namespace["order"] == ("gamma3", "beta2", "alpha3")
    assert namespace["T"] == pytest.approx(10180.9, rel=1e-5)      # the figure the README quotes
    assert namespace["off"] < 1e-12 and (tmp_path / "p64.png").exists()
    assert namespace["r"].system.name == "paper" and namespace["h"].order == ("gamma3", "beta2", "alpha3")


def test_mutation_and_sweep_blocks_match_their_results():
    from readme_block import readme_blocks
    readme = (ROOT / "README.md").read_text()
    for name in readme_blocks.BLOCKS:
        start, end = readme_blocks.markers(name)
        assert readme[readme.index(start):readme.index(end) + len(end)] == readme_blocks.render(name), \
            "run python tools/readme_blocks.py --write"