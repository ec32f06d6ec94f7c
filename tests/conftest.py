"""Shared fixtures: seeds and the location of the real recordings in ``../shared/data``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests never download: a dataset that is absent locally must skip or fail with the loader's message,
# here and in the subprocesses the tests start (tutorials, CLI), which inherit the environment.
os.environ["NEUROLATENT_NO_DOWNLOAD"] = "1"


def _shared_data_dir() -> Path | None:
    env = os.environ.get("NEUROLATENT_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture
def seed() -> int:
    """The seed every random test uses; torch and numpy global generators are seeded too."""
    torch.manual_seed(0)
    np.random.seed(0)
    return 0


@pytest.fixture
def rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real recordings (``$NEUROLATENT_DATA`` or ``../shared/data``); skips when absent."""
    d = _shared_data_dir()
    if d is None:
        pytest.skip("real recordings not found: set NEUROLATENT_DATA or place ../shared/data beside the repo")
    return d


@pytest.fixture(scope="session")
def suite2p_plane0(shared_data) -> Path:
    p = shared_data / "suite2p_example" / "plane0"
    if not p.is_dir():
        pytest.skip(f"{p} is absent")
    return p


@pytest.fixture(scope="session")
def fly_dir(shared_data) -> Path:
    p = shared_data / "fly_ellipsoid_body"
    if not p.is_dir():
        pytest.skip(f"{p} is absent")
    return p
