"""Every tutorial in ``tutorials/`` is a jupytext notebook that runs top to bottom in quick mode.

Each file is first read by jupytext (so it is a valid percent-format notebook), then executed as a
script in a fresh interpreter with ``NEUROLATENT_QUICK=1`` and the Agg backend, in a temporary
working directory. The I/O tutorial is quick and runs by default; the model-fitting ones are
``slow`` (CI runs them).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is part of the [test] extra")

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9]*.py"))
QUICK_BY_DEFAULT = {"01_loading_recordings.py"}
# Tutorials that need an optional extra: skipped (with the extra named) where it is not installed.
REQUIRES = {
    "11_self_supervised.py": ("skimage", "neurolatent[ssl]"),
    "14_molecular_denoising.py": ("rdkit", "neurolatent[molecular]"),
}


def _params():
    for path in TUTORIALS:
        marks = [] if path.name in QUICK_BY_DEFAULT else [pytest.mark.slow]
        yield pytest.param(path, marks=marks, id=path.stem)


def test_tutorials_exist():
    assert TUTORIALS, "tutorials/ holds no numbered notebooks"


@pytest.mark.parametrize("path", list(_params()))
def test_tutorial_runs(path: Path, tmp_path: Path):
    if path.name in REQUIRES:
        module, extra = REQUIRES[path.name]
        pytest.importorskip(module, reason=f"{path.name} needs {extra}")
    notebook = jupytext.read(path)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells, f"{path.name} has no code cells: is it in jupytext percent format?"
    env = dict(os.environ, NEUROLATENT_QUICK="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    repo_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if "NEUROLATENT_DATA" not in env and repo_data.is_dir():
        env["NEUROLATENT_DATA"] = str(repo_data)
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
