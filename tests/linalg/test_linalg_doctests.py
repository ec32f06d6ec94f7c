"""The runnable examples in the nl.linalg docstrings."""
from __future__ import annotations

import doctest

import pytest

from neurolatent.linalg import lyapunov, riccati, sylvester


@pytest.mark.parametrize("module", [sylvester, lyapunov, riccati], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
