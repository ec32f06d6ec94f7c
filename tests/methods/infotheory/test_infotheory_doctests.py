"""The runnable examples in the nl.methods.infotheory docstrings."""
from __future__ import annotations

import doctest

import pytest

from neurolatent.methods.infotheory import discrete_ib, double_descent, gaussian_ib, regression


@pytest.mark.parametrize("module", [gaussian_ib, discrete_ib, regression, double_descent], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
