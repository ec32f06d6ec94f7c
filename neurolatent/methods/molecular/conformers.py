"""Equilibrium conformers, MMFF94 energies and forces, and RDKit targets, as padded tensors.

Each SMILES becomes a molecule with explicit hydrogens, one 3-D conformer from ETKDG (Riniker &
Landrum, *J. Chem. Inf. Model.* 2015) minimised with MMFF94 (Halgren, *J. Comput. Chem.* 1996):
the equilibrium structure that the denoising objective perturbs. The atom order is the one of
``Chem.AddHs(Chem.MolFromSmiles(smiles))``, so a molecule is rebuilt from its SMILES alone
(:func:`mmff_energy_forces` evaluates the force field at any geometry that way).

Targets per molecule (all from RDKit or from RDKit's charges, in the units given):

* ``energy``: MMFF94 energy of the equilibrium structure (kcal/mol);
* ``strain``: MMFF94 energy of a perturbed geometry minus the equilibrium one (kcal/mol); the
  perturbation is Gaussian, ``sigma`` drawn per molecule uniformly in ``strain_sigma``, and the
  perturbed geometry is stored as ``perturbed`` (the input for this target);
* ``dipole``: norm of the Gasteiger-charge dipole ``sum_i q_i (r_i - c)`` (Debye; ``c`` the
  centroid, so a charged molecule's value depends on it);
* ``radius_of_gyration`` (Angstrom), ``pmi1 <= pmi2 <= pmi3`` principal moments of inertia
  (amu Angstrom^2), RDKit's mass-weighted 3-D descriptors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..._utils import atomic_path
from .smiles import parse_smiles, require_rdkit

__all__ = ["Molecules", "TARGETS", "build_molecules", "mmff_energy_forces", "embed_molecule"]

#: Targets stored by :func:`build_molecules`, with the geometry each is a property of.
TARGETS = {"energy": "positions", "strain": "perturbed", "dipole": "positions",
           "radius_of_gyration": "positions", "pmi1": "positions", "pmi2": "positions", "pmi3": "positions"}
_E_ANGSTROM_TO_DEBYE = 4.80320471
_FORMAT = 1


@dataclass
class Molecules:
    """A padded batch of molecules with equilibrium conformers, MMFF forces and targets.

    Attributes
    ----------
    smiles : list of str, length M
    numbers : LongTensor (M, N)
        Atomic numbers, 0 where padded (``N`` the largest atom count, hydrogens included).
    positions : Tensor (M, N, 3)
        MMFF94-minimised coordinates (Angstrom), zero where padded.
    perturbed : Tensor (M, N, 3)
        The perturbed geometry behind the ``strain`` target.
    forces : Tensor (M, N, 3)
        MMFF94 forces ``-dE/dr`` at ``positions`` (kcal/mol/Angstrom; near zero at a minimum).
    targets : dict of str -> Tensor (M,)
        See :data:`TARGETS`.
    attrs : dict
        How the set was built (seed, RDKit version, settings), JSON-safe.
    """

    smiles: list[str]
    numbers: torch.Tensor
    positions: torch.Tensor
    perturbed: torch.Tensor
    forces: torch.Tensor
    targets: dict[str, torch.Tensor]
    attrs: dict = field(default_factory=dict)

    @property
    def mask(self) -> torch.Tensor:
        """BoolTensor (M, N): real atoms."""
        return self.numbers > 0

    def __len__(self) -> int:
        return len(self.smiles)

    def subset(self, index) -> "Molecules":
        """The molecules at ``index`` (a slice, list or tensor of indices)."""
        idx = torch.as_tensor(np.arange(len(self))[index] if isinstance(index, slice) else index, dtype=torch.long)
        return Molecules([self.smiles[i] for i in idx.tolist()], self.numbers[idx], self.positions[idx],
                         self.perturbed[idx], self.forces[idx], {k: v[idx] for k, v in self.targets.items()},
                         dict(self.attrs))

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Molecules":
        """Move tensors to ``device`` and cast the floating ones to ``dtype``."""
        def f(t):
            return t.to(device=device, dtype=dtype if (dtype is not None and t.is_floating_point()) else t.dtype)
        return Molecules(list(self.smiles), self.numbers.to(device), f(self.positions), f(self.perturbed),
                         f(self.forces), {k: f(v) for k, v in self.targets.items()}, dict(self.attrs))

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` file atomically; read it back with :meth:`load`."""
        path = Path(path)
        arrays = {"numbers": self.numbers.numpy(), "positions": self.positions.numpy(),
                  "perturbed": self.perturbed.numpy(), "forces": self.forces.numpy(),
                  "smiles": np.array(self.smiles, dtype=str),
                  "attrs": np.array(json.dumps(self.attrs))}
        arrays.update({f"target_{k}": v.numpy() for k, v in self.targets.items()})
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Molecules":
        """Read a file written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as z:
            missing = {"numbers", "positions", "perturbed", "forces", "smiles", "attrs"} - set(z.files)
            if missing:
                raise ValueError(f"{str(path)!r} is not a Molecules file: missing {sorted(missing)}; "
                                 "delete it so it is rebuilt")
            targets = {k[7:]: torch.from_numpy(z[k]) for k in z.files if k.startswith("target_")}
            return cls([str(s) for s in z["smiles"]], torch.from_numpy(z["numbers"]),
                       torch.from_numpy(z["positions"]), torch.from_numpy(z["perturbed"]),
                       torch.from_numpy(z["forces"]), targets, json.loads(str(z["attrs"])))


def _mmff(mol):
    from rdkit.Chem import AllChem

    props = AllChem.MMFFGetMoleculeProperties(mol)
    if props is None:
        return None
    return AllChem.MMFFGetMoleculeForceField(mol, props)


def embed_molecule(smiles: str, *, seed: int = 0, max_iters: int = 2000):
    """One MMFF94-minimised ETKDG conformer of ``smiles`` (hydrogens added), or ``None`` on failure.

    Failure means: the SMILES does not parse, ETKDG cannot embed it, MMFF94 has no parameters for
    it, or the minimiser does not converge in ``max_iters`` steps.
    """
    Chem = require_rdkit()
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(mol, params) < 0:
        return None
    ff = _mmff(mol)
    if ff is None or ff.Minimize(maxIts=max_iters) != 0:
        return None
    return mol


def mmff_energy_forces(smiles: str, positions) -> tuple[float, np.ndarray]:
    """MMFF94 energy (kcal/mol) and forces ``-dE/dr`` (kcal/mol/Angstrom) of ``smiles`` at ``positions``.

    Parameters
    ----------
    smiles : str
        Rebuilt as ``Chem.AddHs(Chem.MolFromSmiles(smiles))`` (the atom order of :class:`Molecules`).
    positions : array (n_atoms, 3) or (N, 3) padded
        Angstrom; rows beyond the molecule's atom count (padding) are ignored.

    Returns
    -------
    energy : float
    forces : ndarray (n_atoms, 3)
    """
    Chem = require_rdkit()
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}: RDKit cannot parse it")
    mol = Chem.AddHs(mol)
    n = mol.GetNumAtoms()
    pos = np.asarray(positions.detach().cpu() if torch.is_tensor(positions) else positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < n:
        raise ValueError(f"positions for {smiles!r} must have shape ({n}, 3) (or padded beyond {n} rows), "
                         f"got {pos.shape}")
    conf = Chem.Conformer(n)
    for i in range(n):
        conf.SetAtomPosition(i, pos[i].tolist())
    mol.AddConformer(conf, assignId=True)
    ff = _mmff(mol)
    if ff is None:
        raise ValueError(f"MMFF94 has no parameters for {smiles!r}")
    flat = pos[:n].ravel().tolist()
    return float(ff.CalcEnergy(flat)), -np.asarray(ff.CalcGrad(flat)).reshape(n, 3)


def _targets(mol, pos: np.ndarray, energy: float, strain: float) -> dict[str, float] | None:
    from rdkit.Chem import rdMolDescriptors, rdPartialCharges

    rdPartialCharges.ComputeGasteigerCharges(mol)
    q = np.array([a.GetDoubleProp("_GasteigerCharge") for a in mol.GetAtoms()])
    if not np.all(np.isfinite(q)):
        return None
    dip = np.linalg.norm((q[:, None] * (pos - pos.mean(0))).sum(0)) * _E_ANGSTROM_TO_DEBYE
    return {"energy": energy, "strain": strain, "dipole": float(dip),
            "radius_of_gyration": rdMolDescriptors.CalcRadiusOfGyration(mol),
            "pmi1": rdMolDescriptors.CalcPMI1(mol), "pmi2": rdMolDescriptors.CalcPMI2(mol),
            "pmi3": rdMolDescriptors.CalcPMI3(mol)}


def build_molecules(smiles: Sequence[str], *, seed: int = 0, errors: str = "skip",
                    strain_sigma: tuple[float, float] = (0.02, 0.15), max_iters: int = 2000,
                    cache: str | Path | None = None, progress: bool = False,
                    callback: Callable[[dict], None] | None = None) -> Molecules:
    """Conformers, MMFF94 forces and targets for ``smiles``, optionally cached to an ``.npz`` file.

    Parameters
    ----------
    smiles : sequence of str
    seed : int
        ETKDG seed and seed of the ``strain`` perturbations.
    errors : {"skip", "raise"}
        What to do with SMILES that do not parse, whose conformer/force field fails, or that have
        more than 64 atoms with hydrogens (far beyond QM9's 29) or undefined Gasteiger charges: drop them
        (their names are in ``attrs["skipped"]``) or raise a ``ValueError`` naming them.
    strain_sigma : (float, float)
        Range of the per-molecule perturbation scale (Angstrom) behind the ``strain`` target.
    max_iters : int
        MMFF minimiser iterations.
    cache : path, optional
        An ``.npz`` file: loaded when it holds the same SMILES and settings, otherwise (re)built
        and written atomically.
    progress : bool
        A tqdm bar over molecules.
    callback : callable, optional
        Called after each molecule with ``{"index", "smiles", "ok"}``.

    Returns
    -------
    Molecules
        Positions in float64; ``attrs`` records the settings and the RDKit version.

    Examples
    --------
    >>> mols = build_molecules(["CCO", "C1CC1"])  # doctest: +SKIP
    >>> mols.positions.shape  # doctest: +SKIP
    torch.Size([2, 9, 3])
    """
    Chem = require_rdkit()
    from rdkit import __version__ as rdkit_version

    smiles = list(smiles)
    if not smiles:
        raise ValueError("build_molecules got no SMILES; pass a non-empty list (e.g. load_smiles(500))")
    _, bad = parse_smiles(smiles, errors=errors)
    settings = {"seed": int(seed), "strain_sigma": [float(s) for s in strain_sigma], "max_iters": int(max_iters),
                "rdkit": rdkit_version, "format": _FORMAT}
    key = {"n_input": len(smiles), "input_hash": _hash(smiles), **settings}
    if cache is not None and Path(cache).exists():
        try:
            cached = Molecules.load(cache)
        except (ValueError, OSError, KeyError):
            cached = None
        if cached is not None and all(cached.attrs.get(k) == v for k, v in key.items()):
            return cached
    rng = np.random.default_rng(seed)
    rows, skipped = [], list(bad)
    bad_set = set(bad)
    for index, s in enumerate(tqdm(smiles, desc="conformers", disable=not progress, leave=False)):
        sig = rng.uniform(*strain_sigma)
        noise = rng.standard_normal((64, 3))  # enough rows for any <= 9 heavy-atom molecule
        row = None
        if s not in bad_set:
            mol = embed_molecule(s, seed=seed, max_iters=max_iters)
            if mol is not None and mol.GetNumAtoms() <= noise.shape[0]:
                pos = mol.GetConformer().GetPositions()
                e0, f0 = mmff_energy_forces(s, pos)
                pert = pos + sig * noise[: len(pos)]
                e1, _ = mmff_energy_forces(s, pert)
                t = _targets(mol, pos, e0, e1 - e0)
                if t is not None:
                    row = (s, np.array([a.GetAtomicNum() for a in mol.GetAtoms()]), pos, pert, f0, t)
        if row is None:
            if s not in bad_set:
                skipped.append(s)
        else:
            rows.append(row)
        if callback is not None:
            callback({"index": index, "smiles": s, "ok": row is not None})
    if skipped and errors == "raise":
        raise ValueError(f"{len(skipped)} SMILES failed (parse, ETKDG embedding or MMFF94): {skipped[:10]!r}; "
                         "pass errors='skip' to drop them")
    if not rows:
        raise ValueError(f"no conformer could be built for any of the {len(smiles)} SMILES")
    n_max = max(len(r[1]) for r in rows)
    m = len(rows)
    numbers = np.zeros((m, n_max), dtype=np.int64)
    pos, pert, forces = (np.zeros((m, n_max, 3)) for _ in range(3))
    for k, (_, z, p, q, f, _) in enumerate(rows):
        numbers[k, : len(z)], pos[k, : len(z)], pert[k, : len(z)], forces[k, : len(z)] = z, p, q, f
    targets = {name: torch.tensor([r[5][name] for r in rows], dtype=torch.float64) for name in TARGETS}
    out = Molecules([r[0] for r in rows], torch.from_numpy(numbers), torch.from_numpy(pos), torch.from_numpy(pert),
                    torch.from_numpy(forces), targets, {**key, "skipped": skipped})
    if cache is not None:
        out.save(cache)
    return out


def _hash(smiles: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(smiles).encode()).hexdigest()[:16]
