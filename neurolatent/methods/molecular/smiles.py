"""QM9-like SMILES: a deterministic enumerator, the bundled list, and parsing with named failures.

QM9 (Ramakrishnan et al., *Scientific Data* 2014) holds the small organic molecules with at most
nine heavy atoms among C, N, O and F. Nothing here downloads: :func:`enumerate_smiles` grows random
molecular graphs under valence rules (a seeded tree of single, double and triple bonds, then ring
closures), lets RDKit sanitise them and keeps the unique canonical SMILES. The list bundled with the
package (:func:`load_smiles`) was written by ``data/make_smiles.py`` in this folder with the
defaults below.

RDKit (the ``molecular`` extra) is imported inside the functions, so the package imports without it.
"""
from __future__ import annotations

from importlib import resources
from typing import Sequence

import numpy as np

__all__ = ["ELEMENTS", "require_rdkit", "enumerate_smiles", "load_smiles", "parse_smiles"]

#: The heavy elements allowed, with their usual valences.
ELEMENTS = {"C": 4, "N": 3, "O": 2, "F": 1}
_ELEMENT_WEIGHTS = {"C": 0.62, "N": 0.14, "O": 0.19, "F": 0.05}
_BUNDLED = "qm9like_smiles.txt"


def require_rdkit():
    """Import RDKit or fail with the ``pip install`` to run.

    Returns
    -------
    module
        ``rdkit.Chem``.
    """
    try:
        from rdkit import Chem, RDLogger
    except ImportError as err:  # pragma: no cover - exercised only where RDKit is absent
        raise ImportError(
            "neurolatent.methods.molecular needs RDKit for conformers, force fields and SMILES; "
            "install it with `pip install 'neurolatent[molecular]'` (or `pip install rdkit`)"
        ) from err
    RDLogger.DisableLog("rdApp.*")
    return Chem


def _random_molecule(rng: np.random.Generator, max_heavy: int, ring_prob: float):
    Chem = require_rdkit()
    symbols = list(_ELEMENT_WEIGHTS)
    probs = np.array([_ELEMENT_WEIGHTS[s] for s in symbols])
    n_atoms = int(rng.integers(2, max_heavy + 1))
    elems = [symbols[int(rng.choice(len(symbols), p=probs))] for _ in range(n_atoms)]
    if elems[0] == "F":
        elems[0] = "C"
    free = [ELEMENTS[e] for e in elems]
    bonds: dict[tuple[int, int], int] = {}
    for i in range(1, n_atoms):
        hosts = [j for j in range(i) if free[j] > 0]
        if not hosts or free[i] == 0:
            return None
        j = int(rng.choice(hosts))
        cap = min(free[i], free[j], 3)
        order = 1
        u = rng.random()
        if cap >= 3 and u < 0.04:
            order = 3
        elif cap >= 2 and u < 0.18:
            order = 2
        bonds[(j, i)] = order
        free[i] -= order
        free[j] -= order
    while rng.random() < ring_prob:
        cands = [k for k in range(n_atoms) if free[k] > 0]
        if len(cands) < 2:
            break
        a, b = sorted(int(x) for x in rng.choice(cands, size=2, replace=False))
        if (a, b) in bonds:
            break
        bonds[(a, b)] = 1
        free[a] -= 1
        free[b] -= 1
        ring_prob *= 0.5
    mol = Chem.RWMol()
    for e in elems:
        mol.AddAtom(Chem.Atom(e))
    kinds = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
    for (a, b), order in bonds.items():
        mol.AddBond(a, b, kinds[order])
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises several sanitisation errors; any of them rejects the graph
        return None
    return mol


def _acceptable(mol) -> bool:
    # No heteroatom-heteroatom single bonds between O/F (peroxides, hypofluorites) and no 3-rings
    # holding a multiple bond: rare in QM9 and often rejected by the force field.
    for bond in mol.GetBonds():
        pair = {bond.GetBeginAtom().GetSymbol(), bond.GetEndAtom().GetSymbol()}
        if pair <= {"O", "F"} or pair == {"N", "F"} or pair == {"O", "N"} and bond.GetBondTypeAsDouble() == 1:
            return False
    for ring in mol.GetRingInfo().BondRings():
        orders = [mol.GetBondWithIdx(k).GetBondTypeAsDouble() for k in ring]
        if max(orders) >= 3 or (len(ring) == 3 and max(orders) > 1):
            return False
    for atom in mol.GetAtoms():  # cumulated double bonds on a ring atom (strained allenes)
        doubles = sum(b.GetBondTypeAsDouble() == 2 for b in atom.GetBonds())
        if doubles >= 2 and atom.IsInRing():
            return False
    return True


def enumerate_smiles(n: int, *, max_heavy: int = 9, seed: int = 0, ring_prob: float = 0.45,
                     max_tries: int | None = None) -> list[str]:
    """``n`` unique canonical SMILES of random QM9-like molecules, deterministically from ``seed``.

    Each molecule is a random tree on 2..``max_heavy`` heavy atoms drawn from C, N, O, F (weights
    0.62/0.14/0.19/0.05) with single, double (p=0.14) and triple (p=0.04) bonds within the valences
    of :data:`ELEMENTS`, plus ring closures (probability ``ring_prob``, halved for each further
    ring); hydrogens fill the remaining valences. Graphs RDKit cannot sanitise, O-O/O-F/N-F/N-O
    single bonds, triple bonds in rings, 3-rings with a double bond and ring atoms with two double
    bonds are rejected.

    Parameters
    ----------
    n : int
        How many unique SMILES to return.
    max_heavy : int
        Largest number of heavy atoms (QM9: 9).
    seed : int
        Seed of the private ``numpy`` generator.
    ring_prob : float
        Probability of a first ring closure.
    max_tries : int, optional
        Random graphs to try before giving up (default ``200 * n``).

    Returns
    -------
    list of str
        Canonical SMILES, in the order they were first generated.

    Examples
    --------
    >>> smi = enumerate_smiles(5, seed=1)  # doctest: +SKIP
    >>> len(smi), len(set(smi))  # doctest: +SKIP
    (5, 5)
    """
    Chem = require_rdkit()
    if n < 1 or max_heavy < 2:
        raise ValueError(f"enumerate_smiles needs n >= 1 and max_heavy >= 2, got n={n}, max_heavy={max_heavy}")
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    tries = 0
    limit = 200 * n if max_tries is None else int(max_tries)
    while len(seen) < n:
        tries += 1
        if tries > limit:
            raise RuntimeError(f"enumerate_smiles found only {len(seen)} of {n} molecules in {limit} tries; "
                               "lower n or raise max_tries")
        mol = _random_molecule(rng, max_heavy, ring_prob)
        if mol is None or not _acceptable(mol):
            continue
        seen.setdefault(Chem.MolToSmiles(mol), None)
    return list(seen)


def load_smiles(n: int | None = None) -> list[str]:
    """The bundled list of 3000 QM9-like SMILES (first ``n`` if given).

    Written by ``neurolatent/methods/molecular/data/make_smiles.py`` with
    ``enumerate_smiles(3000, seed=0)``; reading it does not need RDKit.

    Examples
    --------
    >>> smiles = load_smiles(3)
    >>> len(smiles)
    3
    """
    text = resources.files(__package__).joinpath("data").joinpath(_BUNDLED).read_text()
    smiles = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if n is not None:
        if n < 0:
            raise ValueError(f"load_smiles: n must be >= 0, got {n}")
        smiles = smiles[:n]
    return smiles


def parse_smiles(smiles: Sequence[str], *, errors: str = "raise") -> tuple[list, list[str]]:
    """Parse SMILES into RDKit molecules; invalid ones are named.

    Parameters
    ----------
    smiles : sequence of str
    errors : {"raise", "skip"}
        ``"raise"``: a ``ValueError`` naming every invalid SMILES; ``"skip"``: drop them.

    Returns
    -------
    mols : list of rdkit.Chem.Mol
        The molecules that parsed.
    bad : list of str
        The SMILES that did not parse (empty with ``errors="raise"``).
    """
    Chem = require_rdkit()
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    if isinstance(smiles, str):
        raise TypeError("parse_smiles takes a sequence of SMILES strings, got a single str; wrap it in a list")
    mols, bad = [], []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None
        if mol is None:
            bad.append(s)
        else:
            mols.append(mol)
    if bad and errors == "raise":
        raise ValueError(f"{len(bad)} invalid SMILES: {bad[:10]!r}{' ...' if len(bad) > 10 else ''}; "
                         "fix them or pass errors='skip' to drop them")
    return mols, bad
