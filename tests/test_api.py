"""The curated public API: every name in every ``__all__`` exists and is documented."""
from __future__ import annotations

import importlib
import inspect

import pytest
import torch

import neurolatent as nl

PUBLIC_MODULES = [
    "neurolatent",
    "neurolatent.io",
    "neurolatent.preprocessing",
    "neurolatent.datasets",
    "neurolatent.manifolds",
    "neurolatent.kernels",
    "neurolatent.distributions",
    "neurolatent.likelihoods",
    "neurolatent.models",
    "neurolatent.inference",
    "neurolatent.theory",
    "neurolatent.linalg",
    "neurolatent.plotting",
] + [f"neurolatent.methods.{family}" for family in importlib.import_module("neurolatent.methods").__all__]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist_and_have_docstrings(name):
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no module docstring"
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} defines no __all__"
    missing_doc = []
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which does not exist"
        obj = getattr(module, attr)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            if not (obj.__doc__ and obj.__doc__.strip()):
                missing_doc.append(attr)
    assert not missing_doc, f"{name}: public objects without a docstring: {missing_doc}"


def test_import_does_not_change_torch_default_dtype():
    # geomstats changes the global default dtype on import; we never do (STYLE.md habit 7).
    assert torch.get_default_dtype() == torch.float32
    for name in PUBLIC_MODULES:
        importlib.import_module(name)
    assert torch.get_default_dtype() == torch.float32


def test_version_string():
    assert isinstance(nl.__version__, str) and nl.__version__.count(".") >= 2
