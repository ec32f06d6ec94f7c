"""Sphinx configuration: pydata theme, numpydoc docstrings, tutorials through myst-nb + jupytext.

The build is offline (no intersphinx, no dataset downloads). The tutorials are *executed* at build
time so that the pages show their printed results and figures: in the quick mode the test suite
uses (``NEUROLATENT_QUICK=1``, smaller sizes and fewer steps), with results cached by
jupyter-cache under ``<build dir>/../.jupyter_cache`` so that a rebuild re-runs only the tutorials
whose code changed. A tutorial that raises fails the build. ``tests/test_docs.py`` builds this
site with warnings as errors and checks that the tutorial pages carry figures.

Environment (read by the notebook kernels, which inherit this process's environment):

``NEUROLATENT_QUICK``
    Set to ``1`` unless already set; set it to an empty string for the full-size tutorials
    (tens of minutes).
``NEUROLATENT_DATA``
    Folder of the real recordings; without it the tutorials fall back to synthetic data.
``NEUROLATENT_DOCS_EXECUTE``
    ``cache`` (default), ``force`` (re-run everything) or ``off`` (no outputs, seconds).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import neurolatent  # noqa: E402

project = "neurolatent"
author = "neurolatent developers"
copyright = "2026, neurolatent developers"
release = neurolatent.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

# Tutorials live in ../tutorials (jupytext percent scripts); copy them in at build time.
TUTORIAL_SRC = ROOT / "tutorials"
TUTORIAL_DST = HERE / "tutorials"
if TUTORIAL_DST.exists():
    shutil.rmtree(TUTORIAL_DST)
TUTORIAL_DST.mkdir()
for _src in sorted(TUTORIAL_SRC.glob("[0-9]*.py")):
    shutil.copy(_src, TUTORIAL_DST / _src.name)

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": "_nbreader.read_py_percent"}
# Execute the tutorials (see the module docstring); each notebook kernel inherits these variables.
os.environ.setdefault("NEUROLATENT_QUICK", "1")
os.environ.setdefault("NEUROLATENT_NO_DOWNLOAD", "1")
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures become cell outputs
os.environ.setdefault("OMP_NUM_THREADS", "1")
nb_execution_mode = os.environ.get("NEUROLATENT_DOCS_EXECUTE", "cache")
nb_execution_timeout = 900  # seconds per cell (a whole quick-mode tutorial takes at most about 1.5 min)
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True  # files a tutorial writes go to a temporary folder, not into docs/
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "conf.py", "_nbreader.py"]

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"
autodoc_mock_imports: list[str] = []
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

html_theme = "pydata_sphinx_theme"
html_title = f"neurolatent {release}"
html_theme_options = {"navigation_with_keys": False}
