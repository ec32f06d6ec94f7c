"""Where the real recordings are: argument, ``$NEUROLATENT_DATA``, ``../shared/data``, download.

Resolution order for a dataset folder ``name`` (e.g. ``"fly_ellipsoid_body"``):

1. the ``path`` argument (a folder holding the files, or the data root holding ``name/``);
2. ``$NEUROLATENT_DATA/name``;
3. ``<repo>/../shared/data/name``, where ``<repo>`` is the folder that holds the ``neurolatent``
   package (so it works when run from a clone with ``shared/`` beside it);
4. a download from the original public source through :mod:`pooch` -- only for datasets whose
   exact file URLs and hashes are known (none at present: the error says where to get the data).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..io.errors import RecordingNotFoundError

__all__ = ["data_root_candidates", "resolve_dataset_dir", "REPO_SHARED_DATA"]

#: ``../shared/data`` relative to the repository root (the parent of the package folder).
REPO_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# Exact (url, sha256) of each file, for pooch. Only verified URLs belong here; the published
# releases below are figshare/eLife collections whose per-file URLs were not verified, so the
# loaders explain where to get the data instead of downloading from a guessed address.
_REMOTE: dict[str, dict[str, tuple[str, str]]] = {}

_WHERE_TO_GET = {
    "fly_ellipsoid_body": (
        "the Drosophila ellipsoid-body matrix of Jensen, Kao, Tripodi & Hennequin (NeurIPS 2020, mGPLVM), "
        "from Turner-Evans et al. (2020, Neuron), dataset DOI 10.25378/janelia.12490325.v1 (fly 1, trial 1, "
        "light epoch): files fly1_trial1_light_Y.tsv (16 x 500 dF/F) and fly1_trial1_light_x.tsv (500 headings)"
    ),
    "turner_evans_2017": (
        "the MATLAB v5 trials of Turner-Evans et al. (2017) 'Angular velocity integration in a fly heading "
        "circuit', eLife 6:e23496 (data linked from the paper), e.g. Fly1_9day_6fx37F06_jRGC1ax60D05_1x_00001.mat"
    ),
}


def data_root_candidates() -> list[Path]:
    """Data roots searched after the ``path`` argument: ``$NEUROLATENT_DATA`` then ``../shared/data``."""
    out = []
    env = os.environ.get("NEUROLATENT_DATA")
    if env:
        out.append(Path(env))
    out.append(REPO_SHARED_DATA)
    return out


def _download(name: str, files: Sequence[str]) -> Path:
    remote = _REMOTE.get(name)
    if remote:
        import pooch  # a core dependency; imported here because only the download path needs it

        cache = Path(pooch.os_cache("neurolatent")) / name
        for fname in files:
            url, sha = remote[fname]
            pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=fname, path=cache)
        return cache
    raise RecordingNotFoundError(
        f"dataset {name!r} was not found locally and no verified download address is known. Get "
        f"{_WHERE_TO_GET.get(name, name)}; put the files in a folder <root>/{name}/ and pass path=<root>/{name} "
        "or set the environment variable NEUROLATENT_DATA=<root>"
    )


def resolve_dataset_dir(name: str, files: Sequence[str], path: str | os.PathLike | None = None,
                        *, download: bool = True) -> Path:
    """Folder holding all ``files`` of dataset ``name`` (see the module docstring for the order).

    Raises
    ------
    RecordingNotFoundError
        ``path`` was given but holds neither the files nor ``name/`` with them; or nothing was found
        and no download is possible (the message says where to get the data).
    """
    def has_all(d: Path) -> bool:
        return d.is_dir() and all((d / f).is_file() for f in files)

    if path is not None:
        p = Path(path)
        for d in (p, p / name):
            if has_all(d):
                return d
        raise RecordingNotFoundError(
            f"{str(p)!r} does not hold the {name} files {list(files)} (nor a subfolder {name}/ with them); "
            "pass the folder that contains them"
        )
    for root in data_root_candidates():
        if has_all(root / name):
            return root / name
    if not download:
        raise RecordingNotFoundError(f"dataset {name!r} not found in {[str(r) for r in data_root_candidates()]}")
    return _download(name, files)
