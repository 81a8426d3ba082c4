"""The README is a landing page whose examples run and whose links work in a clone; the getting-
started page's example runs and its comments hold; every rendered block matches its results."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "getting-started.md"


def _run_block(page: Path, index: int, tmp_path) -> dict:
    code = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)[index]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace = {}
        exec(compile(code, str(page), "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_results_block_matches_the_benchmark_json():
    from readme_block import assert_system_block_rendered
    assert_system_block_rendered("tokens")


def test_usage_example_runs(tmp_path):
    namespace = _run_block(GUIDE, 0, tmp_path)
    assert namespace["order"] == ("gamma3", "beta2", "alpha3")
    assert namespace["T"] == pytest.approx(10180.9, rel=1e-5)      # the figure the page quotes
    assert namespace["off"] < 1e-12 and (tmp_path / "p64.png").exists()
    assert namespace["r"].system.name == "paper" and namespace["h"].order == ("gamma3", "beta2", "alpha3")
    assert namespace["ev"]["emergence"] == namespace["r"].emergence["t_ICL"] and (tmp_path / "p64.csv").exists()


def test_the_readme_examples_run(tmp_path):
    namespace = _run_block(ROOT / "README.md", 0, tmp_path)
    assert namespace["r"].main_event == "t_ICL" and namespace["r"].order == ("gamma3", "alpha3", "beta2")
    assert list(namespace["frame"].columns[:2]) == ["t", "loss"] and len(namespace["frame"]) == len(namespace["m"].t)
    assert namespace["a"].optimizer["name"] == "adam" and namespace["a"].status == "emerged"


def test_the_guides_optimizer_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    index = next(k for k, b in enumerate(blocks) if "optimizer=Adam" in b)
    namespace = _run_block(GUIDE, index, tmp_path)
    assert namespace["a"].state_names[-1] == "v[gamma3]" and namespace["a"].status == "emerged"


def _links(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"^(https?:|#|mailto:)", target):
            yield target.split("#")[0]


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
                                  *sorted((ROOT / "derivations").rglob("*.md")), *sorted((ROOT / "specs").glob("*.md"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_works_in_a_clone(page):
    """Each relative link of the page points at a file or folder of the repository."""
    broken = [t for t in _links(page) if t and not (page.parent / t).resolve().exists()]
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_mutation_and_sweep_blocks_match_their_results():
    from readme_block import readme_blocks
    for name in readme_blocks.BLOCKS:
        current, wanted, page = readme_blocks.current_and_wanted(*readme_blocks.markers(name),
                                                                 readme_blocks.render(name))
        assert current == wanted, f"{page}: run python tools/readme_blocks.py --write"
