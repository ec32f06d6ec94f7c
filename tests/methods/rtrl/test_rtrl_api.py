"""The family's public API follows the package rules of ``tests/test_api.py`` (docstrings, ``__all__``,
no change of torch's default dtype, nothing imported from ``neurolatent.models``)."""
from __future__ import annotations

import inspect
import torch

import neurolatent.methods.rtrl as rtrl


def test_all_names_exist_and_have_docstrings():
    assert rtrl.__doc__ and rtrl.__all__
    for name in rtrl.__all__:
        obj = getattr(rtrl, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
    assert "rtrl" in __import__("neurolatent.methods", fromlist=["__all__"]).__all__


def test_default_dtype_untouched_and_no_models_import():
    assert torch.get_default_dtype() == torch.float32
    # the package's top level imports neurolatent.models anyway, so check the family's own sources
    modules = (rtrl.base, rtrl.cells, rtrl.exact, rtrl.kronecker, rtrl.tasks, rtrl.tbptt, rtrl.training, rtrl.uoro,
               rtrl.variance)
    for module in modules:
        src = inspect.getsource(module)
        assert "neurolatent.models" not in src and "from ...models" not in src, module.__name__
