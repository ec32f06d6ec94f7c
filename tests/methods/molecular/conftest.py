"""Shared molecules for the molecular tests: the first 80 bundled SMILES plus one invalid one.

Conformers (ETKDG seed 0 + MMFF94) are built once per session into a temporary ``.npz`` cache.
"""
from __future__ import annotations

import pytest

INVALID = "C1CC(N"  # unclosed ring and branch: RDKit cannot parse it


@pytest.fixture(scope="session")
def cache_path(tmp_path_factory):
    return tmp_path_factory.mktemp("molecular") / "mols.npz"


@pytest.fixture(scope="session")
def mols(cache_path):
    pytest.importorskip("rdkit", reason="RDKit is the `molecular` extra: pip install 'neurolatent[molecular]'")
    from neurolatent.methods.molecular import build_molecules, load_smiles

    return build_molecules(load_smiles(80) + [INVALID], seed=0, errors="skip", cache=cache_path)
