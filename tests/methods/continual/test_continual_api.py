"""The family's public API: every exported name documented, and the docstring examples run."""
from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import neurolatent.methods as methods
from neurolatent.methods import continual

# the package re-exports functions named like their modules (importance, run): load the modules by name
MODULES = [importlib.import_module(f"neurolatent.methods.continual.{m}")
           for m in ("importance", "path_integral", "methods", "registry", "metrics", "run", "cognitive", "rnn", "ncl", "subspace")]


def test_exports_exist_and_are_documented():
    assert "continual" in methods.__all__
    for name in continual.__all__:
        obj = getattr(continual, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"continual.{name} has no docstring"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
