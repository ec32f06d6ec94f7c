"""Trained networks shared by the re-basin claim tests (trained once per session, seeded, CPU).

Recipe for every network: digits (1348 train / 449 test), SGD with momentum 0.9, lr 0.05,
batch 64, 20 epochs; the network seed sets both the initialisation and the minibatch order.
"""
from __future__ import annotations

import copy

import pytest

from neurolatent.methods.common import MLP, SmallCNN, load_digits, train

RECIPE = dict(epochs=20, lr=0.05, optimizer="sgd", batch_size=64)


def trained(make, data, seed):
    """``(initialisation, trained network)`` for one seed."""
    init = make(seed)
    net = copy.deepcopy(init)
    train(net, data, seed=seed, **RECIPE)
    return init, net


@pytest.fixture(scope="session")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="session")
def digits_images():
    return load_digits(seed=0, image=True)


@pytest.fixture(scope="session")
def mlp_trio(digits):
    """Three 64-256-256-10 ReLU MLPs from seeds 0, 1, 2: list of (init, trained)."""
    return [trained(lambda s: MLP(64, (256, 256), 10, seed=s), digits, s) for s in (0, 1, 2)]


@pytest.fixture(scope="session")
def cnn_pair(digits_images):
    """Two small CNNs (conv 16 -> pool -> conv 32 -> pool -> mean -> linear) from seeds 0, 1."""
    return [trained(lambda s: SmallCNN(1, (16, 32), 10, seed=s), digits_images, s) for s in (0, 1)]


@pytest.fixture(scope="session")
def deep_mlp_pair(digits):
    """Two 64-64-64-64-10 MLPs (three hidden layers to stitch at) from seeds 0, 1."""
    return [trained(lambda s: MLP(64, (64, 64, 64), 10, seed=s), digits, s)[1] for s in (0, 1)]


@pytest.fixture(scope="session")
def trainer():
    """The :func:`trained` helper, for tests that train their own networks."""
    return trained
