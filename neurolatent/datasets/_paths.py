"""Where the real recordings are: argument, ``$NEUROLATENT_DATA``, ``../shared/data``, download.

Resolution order for a dataset folder ``name`` (e.g. ``"fly_ellipsoid_body"``):

1. the ``path`` argument (a folder holding the files, or the data root holding ``name/``);
2. ``$NEUROLATENT_DATA/name``;
3. ``<repo>/../shared/data/name``, where ``<repo>`` is the folder that holds the ``neurolatent``
   package (so it works when run from a clone with ``shared/`` beside it);
4. a download through :mod:`pooch` into the user cache (``pooch.os_cache("neurolatent")``), from
   public copies pinned to a commit and checked against a SHA-256 -- only for datasets listed in
   ``_REMOTE`` (the fly matrix). For the others the error says where to get the data. Setting the
   environment variable ``NEUROLATENT_NO_DOWNLOAD=1`` switches downloads off (the test suite does).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..io.errors import RecordingNotFoundError

__all__ = ["data_root_candidates", "resolve_dataset_dir", "REPO_SHARED_DATA"]

#: ``../shared/data`` relative to the repository root (the parent of the package folder).
REPO_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# Exact (url, sha256) of each file, for pooch. Only verified URLs belong here: each is pinned to a
# commit of a public repository and its SHA-256 is that of the copy in ../shared/data (checked by
# tests/datasets/test_datasets.py when the copy is present).
#
# fly_ellipsoid_body: the authors of the mGPLVM paper published this exact matrix with their code.
# The 16 x 500 dF/F matrix is ``examples/fly/fly_data.tsv`` of tachukao/mgplvm-pytorch (byte-identical
# to fly1_trial1_light_Y.tsv) and the headings are ``fly_data/fly1_trial1_light_x.tsv`` of
# KrisJensen/mGPLVM_neurips. The Turner-Evans 2017 trials have no verified per-file address (the eLife
# data are a collection), so that loader explains where to get them instead of guessing one.
_GITHUB_RAW = "https://raw.githubusercontent.com"
_REMOTE: dict[str, dict[str, tuple[str, str]]] = {
    "fly_ellipsoid_body": {
        "fly1_trial1_light_Y.tsv": (
            f"{_GITHUB_RAW}/tachukao/mgplvm-pytorch/075c6182e4f34529f2b375c36c3ff5d2603b65eb/examples/fly/fly_data.tsv",
            "cbf49fdedb0568d3f025ff7d86981d3fb325a137b7afc9f72d150b0c9dbd5cf7",
        ),
        "fly1_trial1_light_x.tsv": (
            f"{_GITHUB_RAW}/KrisJensen/mGPLVM_neurips/414e72967fe66923cc4c46aad7a6f360476cf5e3/fly_data/fly1_trial1_light_x.tsv",
            "af996a96571e8557019cdc4fb78ca27dc36cc8429b167ad50d079f1c918ed1a9",
        ),
    },
}

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


def _where_to_get(name: str) -> str:
    return (f"Get {_WHERE_TO_GET.get(name, name)}; put the files in a folder <root>/{name}/ and pass "
            f"path=<root>/{name} or set the environment variable NEUROLATENT_DATA=<root>")


def _download(name: str, files: Sequence[str]) -> Path:
    """Fetch ``files`` of ``name`` into the pooch cache (hash-checked) and return that folder."""
    remote = _REMOTE.get(name, {})
    if not remote or any(f not in remote for f in files):
        raise RecordingNotFoundError(
            f"dataset {name!r} was not found locally and no verified download address is known. {_where_to_get(name)}"
        )
    if os.environ.get("NEUROLATENT_NO_DOWNLOAD"):
        raise RecordingNotFoundError(
            f"dataset {name!r} was not found locally and downloads are switched off "
            f"(NEUROLATENT_NO_DOWNLOAD is set). {_where_to_get(name)}"
        )
    import pooch  # a core dependency; imported here because only the download path needs it

    cache = Path(pooch.os_cache("neurolatent")) / name
    for fname in files:
        url, sha = remote[fname]
        try:
            pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=fname, path=cache, progressbar=False)
        except Exception as exc:  # network errors, HTTP errors, hash mismatch: all mean "not available"
            raise RecordingNotFoundError(
                f"dataset {name!r} was not found locally and downloading {fname} from {url} failed "
                f"({type(exc).__name__}: {exc}). {_where_to_get(name)}"
            ) from exc
    return cache


def resolve_dataset_dir(name: str, files: Sequence[str], path: str | os.PathLike | None = None,
                        *, download: bool = True) -> Path:
    """Folder holding all ``files`` of dataset ``name`` (see the module docstring for the order).

    Raises
    ------
    RecordingNotFoundError
        ``path`` was given but holds neither the files nor ``name/`` with them; or nothing was found
        and the download is impossible or failed (the message says where to get the data).
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
