"""The documentation site builds offline with warnings as errors, tutorials executed (slow: a full Sphinx build).

The tutorials run at build time in quick mode (``docs/conf.py``); the test checks that every tutorial
page that draws a figure carries it as an output image, and that no cell output is an error.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="sphinx is part of the [docs] extra")
pytest.importorskip("myst_nb", reason="myst-nb is part of the [docs] extra")
pytest.importorskip("jupyter_cache", reason="jupyter-cache is part of the [docs] extra (tutorial execution)")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9]*.py"))
_DRAWS = re.compile(r"^\s*[^#\n]*\b(plt\.|plot_\w+\(|\.plot\(|fig, )", re.MULTILINE)


def _docs_env() -> dict:
    env = dict(os.environ, NEUROLATENT_QUICK="1", PYTHONHASHSEED="0")
    env.pop("NEUROLATENT_DOCS_EXECUTE", None)
    repo_data = ROOT.parent / "shared" / "data"
    if "NEUROLATENT_DATA" not in env and repo_data.is_dir():
        env["NEUROLATENT_DATA"] = str(repo_data)
    return env


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True, text=True, timeout=1800, env=_docs_env(),
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    print(f"docs build with executed tutorials: {seconds:.0f} s")
    assert (out / "api.html").exists()

    drawing = [p for p in TUTORIALS if _DRAWS.search(p.read_text())]
    assert drawing, "no tutorial draws a figure: the check below would be empty"
    for src in TUTORIALS:
        page = (out / "tutorials" / f"{src.stem}.html").read_text()
        outputs = re.findall(r'<div class="cell_output[^"]*">(.*?)</div>\s*</div>', page, re.DOTALL)
        assert outputs, f"{src.name}: the page has no cell outputs (were the tutorials executed?)"
        assert "Traceback" not in page and 'class="output traceback' not in page, f"{src.name}: an error output"
        if src in drawing:
            images = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+\.png)"', page)
            assert images, f"{src.name} draws figures but its page shows no output image"
            for rel in images:
                assert (out / "tutorials" / rel).resolve().is_file(), f"{src.name}: missing image {rel}"
