"""Pre-training via denoising on 3-D molecules (``nl.methods.molecular``).

* QM9-like SMILES (<= 9 heavy atoms, C/N/O/F): a deterministic enumerator and the bundled list it
  wrote (:mod:`.smiles`); invalid SMILES are named, skipped or raised as the caller chooses;
* equilibrium conformers (ETKDG + MMFF94 minimisation), MMFF94 energies and forces, and targets
  from RDKit -- perturbed-geometry strain energy, Gasteiger dipole, radius of gyration, principal
  moments of inertia -- as padded tensors cached to an ``.npz`` file (:mod:`.conformers`);
* a SchNet-like dense message-passing network with an equivariant noise head and an invariant
  property head (:mod:`.network`);
* denoising pre-training, fine-tuning, the learning curve scratch vs pre-trained, and the cosine
  between the predicted denoising direction and the MMFF94 force (Zaidi et al., ICLR 2023)
  (:mod:`.denoising`).

RDKit is the ``molecular`` extra (``pip install 'neurolatent[molecular]'``); it is imported only by
the functions that need it, so this module imports without it. Nothing here imports
:mod:`neurolatent.models`.
"""
from .conformers import TARGETS, Molecules, build_molecules, embed_molecule, mmff_energy_forces
from .denoising import add_noise, denoising_loss, finetune, force_alignment, learning_curve, pretrain_denoising, property_mae
from .network import MolecularNet, pairwise_geometry
from .smiles import ELEMENTS, enumerate_smiles, load_smiles, parse_smiles, require_rdkit

__all__ = [
    "ELEMENTS",
    "require_rdkit",
    "enumerate_smiles",
    "load_smiles",
    "parse_smiles",
    "Molecules",
    "TARGETS",
    "build_molecules",
    "embed_molecule",
    "mmff_energy_forces",
    "MolecularNet",
    "pairwise_geometry",
    "add_noise",
    "denoising_loss",
    "pretrain_denoising",
    "finetune",
    "property_mae",
    "force_alignment",
    "learning_curve",
]
