"""Sphinx configuration: pydata theme, numpydoc docstrings, tutorials through myst-nb + jupytext.

The build is offline (no intersphinx) and does not execute notebooks: the test suite executes
every tutorial, and ``tests/test_docs.py`` builds this site with warnings as errors.
"""
from __future__ import annotations

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
nb_execution_mode = "off"
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
