"""Denoising pre-training, fine-tuning, the force-alignment measurement and the learning curve (tiny runs)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.molecular import (
    MolecularNet,
    denoising_loss,
    finetune,
    force_alignment,
    learning_curve,
    pretrain_denoising,
    property_mae,
)


def _net(seed=0):
    torch.manual_seed(seed)
    return MolecularNet(hidden=16, n_layers=1, n_rbf=12)


def test_pretraining_lowers_the_denoising_loss(mols):
    net = _net()
    train = mols.subset(slice(0, 32))
    before = denoising_loss(net, train, sigma=0.1, seed=5)
    seen = []
    hist = pretrain_denoising(net, train, sigma=0.1, epochs=8, batch_size=8, lr=3e-3,
                              callback=lambda s: seen.append(s["epoch"]))
    assert seen == list(range(8)) and len(hist["loss"]) == 8
    # the zero predictor scores 1.0 (unit-variance noise); 32 Adam steps already do better, on fresh noise
    after = denoising_loss(net, train, sigma=0.1, seed=5)
    assert after < before and after < 1.0, (before, after)
    stopped = pretrain_denoising(_net(), mols.subset(slice(0, 8)), epochs=5, callback=lambda s: s["epoch"] == 1)
    assert len(stopped["loss"]) == 2


def test_finetune_standardises_and_fits(mols):
    train = mols.subset(slice(0, 32))
    net = _net()
    mae0 = property_mae(net, train, "radius_of_gyration")
    hist = finetune(net, train, "radius_of_gyration", epochs=15, batch_size=16, lr=3e-3)
    y = train.targets["radius_of_gyration"]
    assert float(net.property_shift) == pytest.approx(float(y.mean()), rel=1e-5)
    assert float(net.property_scale) == pytest.approx(float(y.std()), rel=1e-5)
    assert hist["loss"][-1] < hist["loss"][0]
    assert property_mae(net, train, "radius_of_gyration") < mae0
    with pytest.raises(ValueError, match="known"):
        finetune(net, train, "homo_lumo_gap")
    with pytest.raises(ValueError, match="at least 2"):
        finetune(net, train.subset([0]), "dipole")


def test_true_noise_aligns_with_mmff_gradient_at_small_sigma(mols):
    # Independent of any network: at a minimum, -F(r + s*eps) ~ s * H eps with H positive semi-definite,
    # so cos(eps, -F) > 0 for every molecule; a random direction averages ~0 (sd 1/sqrt(3n) <= 0.33 per
    # molecule, so the mean of 30 is within ~0.2 of 0).
    fa = force_alignment(_net(), mols.subset(slice(0, 30)), sigma=0.01, seed=0)
    assert fa.sizes["molecule"] == 30 and set(fa.data_vars) == {"cos_model", "cos_noise", "cos_random"}
    assert float(fa.cos_noise.min()) > 0.0
    assert abs(fa.attrs["mean_cos_random"]) < 0.2 and fa.attrs["mean_cos_noise"] > 0.4


def test_learning_curve_shapes(mols):
    curve = learning_curve(mols.subset(slice(0, 24)), mols.subset(slice(24, 44)), mols.subset(slice(44, 60)),
                           target="dipole", sizes=(4, 8), seeds=(0,), pretrain_epochs=1, finetune_steps=2,
                           model_kwargs={"hidden": 8, "n_layers": 1, "n_rbf": 8}, batch_size=8,
                           alignment=mols.subset(slice(60, 64)))
    assert curve.mae.dims == ("init", "size", "seed") and curve.mae.shape == (2, 2, 1)
    assert bool(np.isfinite(curve.mae).all()) and curve.attrs["units"] == "D"
    assert curve.cos_model.dims == ("seed",)
    with pytest.raises(ValueError, match="labelled set"):
        learning_curve(mols.subset(slice(0, 8)), mols.subset(slice(8, 12)), mols.subset(slice(12, 16)), sizes=(10,))
    with pytest.raises(ValueError, match="known"):
        learning_curve(mols.subset(slice(0, 8)), mols.subset(slice(8, 12)), mols.subset(slice(12, 16)),
                       target="gap", sizes=(4,))
