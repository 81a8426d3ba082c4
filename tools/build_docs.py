"""Build the documentation site: ``python tools/build_docs.py [--out build/site]``.

The site mirrors the repository, so that every page's relative links work in a clone and on the
site alike: README.md is the home page, then docs/ (getting started, the tutorials — executed at
build time —, the results pages rendered from benchmarks/results/, the API reference generated
from the docstrings, how to cite), derivations/, specs/ and the figures and tables of
benchmarks/results/. MkDocs builds it with ``--strict`` (a warning, e.g. a broken link or a failing
notebook cell, fails the build). Needs the optional extra ``gradflow[docs]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: folders mirrored into the site's source, and the file types taken from each
MIRROR = {"docs": ("*.md", "*.ipynb", "*.png"), "derivations": ("*.md", "*.png"), "specs": ("*.md",),
          "benchmarks/results": ("*.md", "*.png", "*.json")}
#: results folders that are sweep stores (thousands of JSON rows, linked from no page)
SKIP = ("_store",)


def nav() -> list:
    tutorials = [{p.stem: f"docs/tutorials/{p.name}"} for p in sorted((ROOT / "docs/tutorials").glob("*.ipynb"))]
    results = [{p.stem: f"docs/results/{p.name}"} for p in sorted((ROOT / "docs/results").glob("*.md"))]
    derivations = [{f"{p.parent.name}: {p.stem}": str(p.relative_to(ROOT))}
                   for p in sorted((ROOT / "derivations").rglob("*.md"))]
    specs = [{p.stem: f"specs/{p.name}"} for p in sorted((ROOT / "specs").glob("*.md"))]
    return [{"Home": "README.md"}, {"Getting started": "docs/getting-started.md"}, {"Tutorials": tutorials},
            {"Results": results}, {"Derivations": derivations}, {"Specifications": specs},
            {"API reference": "docs/api.md"}, {"Developing": "docs/developing.md"}, {"How to cite": "docs/cite.md"}]


def config(src: Path, out: Path) -> dict:
    return {"site_name": "gradflow", "site_description": "Exact gradient flow of induction-head emergence",
            "docs_dir": str(src), "site_dir": str(out), "strict": True, "use_directory_urls": False,
            "theme": {"name": "mkdocs"}, "nav": nav(),
            "markdown_extensions": ["tables", "fenced_code", "toc"],
            "validation": {"links": {"not_found": "warn", "anchors": "ignore", "unrecognized_links": "info"}},
            "plugins": ["search",
                        {"mkdocs-jupyter": {"execute": True, "cache": False, "allow_errors": False, "include_source": True,
                                            "kernel_name": "python3"}},
                        {"mkdocstrings": {"handlers": {"python": {"paths": [str(ROOT)], "options": {
                            "docstring_style": None, "show_source": False, "heading_level": 3,
                            "members_order": "source", "show_root_heading": True}}}}}]}


def build(out: Path, src: Path) -> Path:
    import yaml
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy(ROOT / "README.md", src / "README.md")
    for folder, patterns in MIRROR.items():
        for pattern in patterns:
            for p in (ROOT / folder).rglob(pattern):
                if any(part.endswith(SKIP) for part in p.relative_to(ROOT).parts):
                    continue
                target = src / p.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(p, target)
    cfg = src.parent / "mkdocs.yml"
    cfg.write_text(yaml.safe_dump(config(src, out), sort_keys=False, allow_unicode=True))
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(cfg)], cwd=ROOT,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"mkdocs build failed:\n{run.stdout}\n{run.stderr}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="where the site is written")
    args = p.parse_args(argv)
    out = args.out.resolve()
    print(f"built {build(out, out.parent / 'site_src')}/index.html")


if __name__ == "__main__":
    main()
