"""SMILES enumeration, conformers, MMFF94 forces and targets, checked against independent references."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import neurolatent.methods.molecular as mol_pkg
from neurolatent.methods.molecular import Molecules, build_molecules, load_smiles, mmff_energy_forces

from .conftest import INVALID

rdkit = pytest.importorskip("rdkit", reason="RDKit is the `molecular` extra: pip install 'neurolatent[molecular]'")
from rdkit import Chem  # noqa: E402
from rdkit.Chem import GetPeriodicTable  # noqa: E402

from neurolatent.methods.molecular import enumerate_smiles, parse_smiles  # noqa: E402


def test_no_module_level_rdkit_import():
    # The package must import without RDKit: no `import rdkit` outside a function body.
    for path in Path(mol_pkg.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "rdkit" for n in names), f"{path.name} imports rdkit at module level"


def test_missing_rdkit_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "rdkit", None)
    with pytest.raises(ImportError, match=r"neurolatent\[molecular\]"):
        parse_smiles(["CCO"])


def test_enumeration_is_deterministic_and_qm9_like():
    a, b = enumerate_smiles(40, seed=3), enumerate_smiles(40, seed=3)
    assert a == b and len(set(a)) == 40
    for s in a:
        m = Chem.MolFromSmiles(s)
        assert m is not None and m.GetNumAtoms() <= 9
        assert {atom.GetSymbol() for atom in m.GetAtoms()} <= {"C", "N", "O", "F"}
        assert Chem.MolToSmiles(m) == s  # canonical
    assert enumerate_smiles(40, seed=4) != a


def test_bundled_list_is_what_the_script_writes():
    # The bundled file was written by data/make_smiles.py with enumerate_smiles(3000, seed=0); the first
    # entries regenerate exactly. Both sides are re-canonicalised by the installed RDKit, so a newer
    # canonical-SMILES convention than the one that wrote the file does not matter.
    bundled = load_smiles()
    assert len(bundled) == 3000 and len(set(bundled)) == 3000

    def canon(smiles):
        return [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles]

    assert canon(enumerate_smiles(30, seed=0)) == canon(bundled[:30])


def test_invalid_smiles_named_or_skipped():
    with pytest.raises(ValueError, match=r"C1CC\(N"):
        parse_smiles(["CCO", INVALID])
    mols, bad = parse_smiles(["CCO", INVALID, ""], errors="skip")
    assert len(mols) == 1 and bad == [INVALID, ""]
    with pytest.raises(ValueError, match=r"C1CC\(N"):
        build_molecules(["CCO", INVALID], errors="raise")
    with pytest.raises(ValueError, match="no SMILES"):
        build_molecules([])


def test_build_skips_and_caches(mols, cache_path):
    assert INVALID in mols.attrs["skipped"] and INVALID not in mols.smiles
    assert len(mols) >= 70  # a few of 80 may fail ETKDG/MMFF; they are listed in attrs["skipped"]
    again = build_molecules(load_smiles(80) + [INVALID], seed=0, cache=cache_path)
    assert again.smiles == mols.smiles and torch.equal(again.positions, mols.positions)
    loaded = Molecules.load(cache_path)
    for name, value in mols.targets.items():
        assert torch.equal(loaded.targets[name], value)
    # the heavy-atom count of each row agrees with RDKit
    for k in range(0, len(mols), 7):
        heavy = int((mols.numbers[k] > 1).sum())
        assert heavy == Chem.MolFromSmiles(mols.smiles[k]).GetNumAtoms()


def test_mmff_forces_are_minus_energy_gradient(mols):
    # Central finite differences of CalcEnergy in float64; h = 1e-4 A gives O(h^2) ~ 1e-6 relative error,
    # the tolerance 1e-3 kcal/mol/A allows for the energy's own rounding.
    k = 5
    n = int(mols.mask[k].sum())
    pos = mols.perturbed[k, :n].numpy()
    _, force = mmff_energy_forces(mols.smiles[k], pos)
    h = 1e-4
    fd = np.zeros_like(pos)
    for i in range(n):
        for d in range(3):
            p, m = pos.copy(), pos.copy()
            p[i, d] += h
            m[i, d] -= h
            fd[i, d] = -(mmff_energy_forces(mols.smiles[k], p)[0] - mmff_energy_forces(mols.smiles[k], m)[0]) / (2 * h)
    np.testing.assert_allclose(force, fd, atol=1e-3)


def test_equilibrium_is_a_minimum_and_strain_is_positive(mols):
    # MMFF minimisation converged: forces near zero (RDKit's gradient tolerance ~1e-4 per step, 0.05 safe);
    # a perturbation raises the energy, and the stored strain matches a fresh evaluation.
    assert float(mols.forces.abs().max()) < 0.05
    assert bool((mols.targets["strain"] > 0).all())
    for k in (0, 11, 23):
        n = int(mols.mask[k].sum())
        e1, _ = mmff_energy_forces(mols.smiles[k], mols.perturbed[k, :n])
        assert e1 - float(mols.targets["energy"][k]) == pytest.approx(float(mols.targets["strain"][k]), abs=1e-6)


def test_shape_targets_match_numpy(mols):
    # Radius of gyration and principal moments recomputed from positions and RDKit's atomic masses;
    # float64 eigen-decomposition, tolerance 1e-6 relative.
    table = GetPeriodicTable()
    for k in range(0, len(mols), 9):
        n = int(mols.mask[k].sum())
        r = mols.positions[k, :n].numpy()
        w = np.array([table.GetAtomicWeight(int(z)) for z in mols.numbers[k, :n]])
        c = r - (w[:, None] * r).sum(0) / w.sum()
        rg = np.sqrt((w * (c ** 2).sum(1)).sum() / w.sum())
        inertia = (w * (c ** 2).sum(1)).sum() * np.eye(3) - np.einsum("i,ij,ik->jk", w, c, c)
        pmi = np.sort(np.linalg.eigvalsh(inertia))
        assert float(mols.targets["radius_of_gyration"][k]) == pytest.approx(rg, rel=1e-6)
        got = [float(mols.targets[f"pmi{j}"][k]) for j in (1, 2, 3)]
        np.testing.assert_allclose(got, pmi, rtol=1e-6, atol=1e-6)


def test_dipole_of_a_neutral_molecule_is_translation_free(mols):
    # Gasteiger charges of a neutral molecule sum to zero, so the dipole does not depend on the origin;
    # recompute it independently with a shifted origin.
    from rdkit.Chem import rdPartialCharges

    k = 3
    n = int(mols.mask[k].sum())
    m = Chem.AddHs(Chem.MolFromSmiles(mols.smiles[k]))
    rdPartialCharges.ComputeGasteigerCharges(m)
    q = np.array([a.GetDoubleProp("_GasteigerCharge") for a in m.GetAtoms()])
    assert abs(q.sum()) < 1e-6
    r = mols.positions[k, :n].numpy() + np.array([3.0, -2.0, 7.0])
    mu = np.linalg.norm((q[:, None] * r).sum(0)) * 4.80320471  # e*A -> Debye
    assert float(mols.targets["dipole"][k]) == pytest.approx(mu, rel=1e-6)


def test_stale_or_foreign_cache_is_rebuilt(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, something=np.zeros(3))  # not a Molecules file
    a = build_molecules(["CCO"], cache=path)
    assert Molecules.load(path).smiles == ["CCO"]
    b = build_molecules(["CCO"], seed=1, cache=path)  # other settings: rebuilt, not the cached seed-0 set
    assert b.attrs["seed"] == 1 and Molecules.load(path).attrs["seed"] == 1
    assert a.to(dtype=torch.float32).positions.dtype == torch.float32 and a.numbers.dtype == torch.int64
    with pytest.raises(ValueError, match="errors must be"):
        build_molecules(["CCO"], errors="ignore")
