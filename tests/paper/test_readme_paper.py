"""The README's paper numbers are rendered from the benchmark JSON."""


def test_paper_block_matches_the_benchmark_json():
    from readme_block import assert_system_block_rendered
    assert_system_block_rendered("paper")
