"""Write ``qm9like_smiles.txt``: 3000 QM9-like SMILES enumerated deterministically.

Run from the repository root (needs RDKit, the ``molecular`` extra)::

    python neurolatent/methods/molecular/data/make_smiles.py

The list depends only on the seed and on RDKit's canonical SMILES; the header records the RDKit
version that wrote it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rdkit import __version__ as rdkit_version

from neurolatent._utils import atomic_path
from neurolatent.methods.molecular.smiles import enumerate_smiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("qm9like_smiles.txt"))
    args = parser.parse_args()
    smiles = enumerate_smiles(args.n, seed=args.seed)
    header = (f"# {args.n} QM9-like SMILES (<= 9 heavy atoms, C/N/O/F), enumerate_smiles(n={args.n}, "
              f"seed={args.seed}), RDKit {rdkit_version}\n")
    with atomic_path(args.out) as tmp:
        tmp.write_text(header + "\n".join(smiles) + "\n")
    print(f"wrote {len(smiles)} SMILES to {args.out}")


if __name__ == "__main__":
    main()
