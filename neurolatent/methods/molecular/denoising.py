"""Pre-training via denoising, fine-tuning on a property, and the force-field link.

Zaidi et al. ("Pre-training via denoising for molecular property prediction", ICLR 2023) perturb
equilibrium coordinates, :math:`\\tilde r = r + \\sigma \\epsilon` with
:math:`\\epsilon \\sim \\mathcal N(0, I)`, and train the network to predict :math:`\\epsilon`:

.. math::  \\mathcal L = \\mathbb E\\, \\tfrac{1}{n} \\textstyle\\sum_i |v_i(\\tilde r) - \\epsilon_i|^2 .

The minimiser is :math:`\\mathbb E[\\epsilon\\,|\\,\\tilde r] = -\\sigma \\nabla_{\\tilde r} \\log q_\\sigma(\\tilde r)`,
the score of the noised data. If the equilibrium structures are a Boltzmann sample and the
noise is small, :math:`\\log q_\\sigma \\approx -E/kT` near a minimum, so the predicted noise points
along :math:`\\nabla E = -F`: denoising learns a force field (up to scale). :func:`force_alignment`
measures this with MMFF94 forces as the reference.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from ..._utils import make_generator, resolve_device
from .conformers import TARGETS, Molecules, mmff_energy_forces
from .network import MolecularNet

__all__ = ["add_noise", "denoising_loss", "pretrain_denoising", "finetune", "property_mae", "force_alignment", "learning_curve"]


def add_noise(positions: torch.Tensor, mask: torch.Tensor, sigma: float, generator: torch.Generator | None = None):
    """Gaussian noise of scale ``sigma`` (Angstrom) on real atoms.

    Returns
    -------
    noisy : Tensor (B, N, 3)
        ``positions + sigma * eps``.
    eps : Tensor (B, N, 3)
        Standard normal, zero on padding.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 Angstrom, got {sigma}")
    eps = torch.randn(positions.shape, generator=generator, device=positions.device, dtype=positions.dtype)
    eps = eps * mask[..., None]
    return positions + sigma * eps, eps


@torch.no_grad()
def denoising_loss(model: MolecularNet, mols: Molecules, *, sigma: float = 0.1, seed: int = 0,
                   batch_size: int = 256, device=None) -> float:
    """The denoising objective on ``mols`` with seeded noise: mean squared error per real coordinate.

    The zero predictor scores 1.0 (the noise has unit variance); the same ``seed`` gives the same
    noise, so two models (or one before and after training) are compared on equal terms.
    """
    device = resolve_device(device, like=next(model.parameters()))
    data = mols.to(device, next(model.parameters()).dtype)
    gen = make_generator(seed, device)
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(data), batch_size):
        b = slice(s, s + batch_size)
        n = _width(data.mask[b])
        mask = data.mask[b, :n]
        noisy, eps = add_noise(data.positions[b, :n], mask, sigma, generator=gen)
        total += float(((model(data.numbers[b, :n], noisy, mask)["noise"] - eps) ** 2).sum())
        count += 3 * int(mask.sum())
    return total / count


def _width(mask: torch.Tensor) -> int:
    # Atoms are left-aligned, so a batch needs only as many columns as its largest molecule.
    return int(mask.sum(1).max())


def _loop(model, n, *, epochs, batch_size, lr, seed, device, progress, callback, step, desc):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    gen = make_generator(seed)
    history = {"epoch": [], "loss": []}
    callbacks = [] if callback is None else ([callback] if callable(callback) else list(callback))
    for epoch in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = step(idx, gen)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history["epoch"].append(epoch)
        history["loss"].append(total / n)
        state = {"epoch": epoch, "loss": history["loss"][-1], "model": model}
        if any([bool(cb(state)) for cb in callbacks]):
            break
    return history


def pretrain_denoising(model: MolecularNet, mols: Molecules, *, sigma: float = 0.1, epochs: int = 20,
                       batch_size: int = 64, lr: float = 1e-3, seed: int = 0, device=None,
                       progress: bool = False, callback=None) -> dict[str, list]:
    """Train ``model``'s noise head to predict the noise added to equilibrium coordinates.

    Parameters
    ----------
    model : MolecularNet
        Trained in place.
    mols : Molecules
        Equilibrium structures (``mols.positions``); no labels are used.
    sigma : float
        Noise scale (Angstrom), a small fraction of a bond length.
    epochs, batch_size, lr, seed :
        Adam, fresh noise every step from a generator seeded with ``seed``.
    device : optional
        Default: where the model lives.
    progress, callback :
        A tqdm bar over epochs; ``callback({"epoch", "loss", "model"})`` after each, True stops.

    Returns
    -------
    dict
        ``{"epoch": [...], "loss": [...]}``; the loss is the mean squared error per real atom and
        coordinate (1.0 for the zero predictor).
    """
    device = resolve_device(device, like=next(model.parameters()))
    dtype = next(model.parameters()).dtype
    data = mols.to(device, dtype)
    model.to(device).train()

    def step(idx, gen):
        n = _width(data.mask[idx])
        mask = data.mask[idx, :n]
        noisy, eps = add_noise(data.positions[idx, :n], mask, sigma, generator=gen)
        pred = model(data.numbers[idx, :n], noisy, mask)["noise"]
        return ((pred - eps) ** 2).sum() / (3 * mask.sum())

    return _loop(model, len(data), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                 progress=progress, callback=callback, step=step, desc="denoise")


def _inputs(mols: Molecules, target: str):
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; known: {sorted(TARGETS)}")
    return getattr(mols, TARGETS[target]), mols.targets[target]


def finetune(model: MolecularNet, mols: Molecules, target: str, *, epochs: int = 100, batch_size: int = 32,
             lr: float = 1e-3, seed: int = 0, device=None, progress: bool = False, callback=None) -> dict[str, list]:
    """Train all of ``model`` on a property of a (small) labelled set; standardises the target.

    The model's ``property_shift``/``property_scale`` are set to the labelled set's mean and
    standard deviation, and the loss is the mean squared error in those units.

    Parameters
    ----------
    model : MolecularNet
        From scratch or after :func:`pretrain_denoising`; trained in place.
    mols : Molecules
        The labelled set; ``target`` one of :data:`TARGETS` (``"strain"`` reads the perturbed
        geometry, the others the equilibrium one).

    Returns
    -------
    dict
        ``{"epoch", "loss"}``.
    """
    device = resolve_device(device, like=next(model.parameters()))
    dtype = next(model.parameters()).dtype
    data = mols.to(device, dtype)
    pos, y = _inputs(data, target)
    if len(data) < 2:
        raise ValueError(f"finetune needs at least 2 labelled molecules, got {len(data)}")
    with torch.no_grad():
        model.property_shift.fill_(float(y.mean()))
        model.property_scale.fill_(float(y.std()) or 1.0)
    model.to(device).train()
    scale = model.property_scale

    def step(idx, gen):
        n = _width(data.mask[idx])
        pred = model(data.numbers[idx, :n], pos[idx, :n], data.mask[idx, :n])["property"]
        return (((pred - y[idx]) / scale) ** 2).mean()

    return _loop(model, len(data), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                 progress=progress, callback=callback, step=step, desc=f"finetune {target}")


@torch.no_grad()
def property_mae(model: MolecularNet, mols: Molecules, target: str, *, batch_size: int = 256, device=None) -> float:
    """Mean absolute error of ``model``'s property head on ``target`` (the target's units)."""
    device = resolve_device(device, like=next(model.parameters()))
    data = mols.to(device, next(model.parameters()).dtype)
    pos, y = _inputs(data, target)
    model.eval()
    err = []
    for s in range(0, len(data), batch_size):
        b = slice(s, s + batch_size)
        n = _width(data.mask[b])
        err.append((model(data.numbers[b, :n], pos[b, :n], data.mask[b, :n])["property"] - y[b]).abs())
    return float(torch.cat(err).mean())


_COS = ("cos_model", "cos_noise", "cos_random")


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def force_alignment(model: MolecularNet, mols: Molecules, *, sigma: float = 0.1, seed: int = 0,
                    device=None) -> xr.Dataset:
    """Cosine between the predicted noise and the MMFF94 energy gradient at noised structures.

    For each molecule, :math:`\\tilde r = r + \\sigma\\epsilon`; with :math:`F` the MMFF94 force at
    :math:`\\tilde r` (so :math:`-F = \\nabla E` points away from the minimum, like the noise), the
    cosines over all ``3n`` coordinates are

    * ``cos_model``: :math:`\\cos(v(\\tilde r), -F)`, the network's denoising direction vs the force;
    * ``cos_noise``: :math:`\\cos(\\epsilon, -F)`, the true noise (what a perfect denoiser of one
      structure would predict);
    * ``cos_random``: :math:`\\cos(u, -F)`, ``u`` an independent Gaussian direction (the baseline,
      mean 0 and spread :math:`1/\\sqrt{3n}`).

    Returns
    -------
    xarray.Dataset
        The three cosines over dim ``molecule`` (coordinate: SMILES), ``attrs`` with ``sigma`` and
        the means.
    """
    device = resolve_device(device, like=next(model.parameters()))
    dtype = next(model.parameters()).dtype
    gen = np.random.default_rng(seed)
    model.eval()
    rows = []
    for k in range(len(mols)):
        n = int(mols.mask[k].sum())
        pos = mols.positions[k, :n].numpy()
        eps = gen.standard_normal((n, 3))
        noisy = pos + sigma * eps
        _, force = mmff_energy_forces(mols.smiles[k], noisy)
        with torch.no_grad():
            pred = model(mols.numbers[k:k + 1, :n].to(device),
                         torch.as_tensor(noisy, dtype=dtype, device=device)[None])["noise"][0].cpu().double().numpy()
        rows.append((_cos(pred, -force), _cos(eps, -force), _cos(gen.standard_normal((n, 3)), -force)))
    arr = np.array(rows)
    ds = xr.Dataset({name: ("molecule", arr[:, j]) for j, name in enumerate(["cos_model", "cos_noise", "cos_random"])},
                    coords={"molecule": list(mols.smiles)})
    ds.attrs.update(sigma=float(sigma), seed=int(seed),
                    **{f"mean_{name}": float(ds[name].mean()) for name in ["cos_model", "cos_noise", "cos_random"]})
    return ds


def learning_curve(pretrain_set: Molecules, labelled: Molecules, test: Molecules, *, target: str = "strain",
                   sizes: Sequence[int] = (25, 50, 100, 200), seeds: Sequence[int] = (0, 1, 2),
                   sigma: float = 0.1, pretrain_epochs: int = 20, finetune_steps: int = 300,
                   model_kwargs: dict | None = None, batch_size: int = 32, lr: float = 1e-3,
                   pretrain_batch_size: int = 64, pretrain_lr: float = 1e-3, device=None,
                   dtype: torch.dtype = torch.float32, alignment: Molecules | None = None, progress: bool = False,
                   callback: Callable[[dict], None] | None = None) -> xr.Dataset:
    """Test MAE after fine-tuning on ``size`` labels, from scratch vs after denoising pre-training.

    For each seed: one network is pre-trained by denoising on ``pretrain_set`` (no labels) and one
    is freshly initialised with the same seed; for each size, a copy of each is fine-tuned on the
    first ``size`` molecules of a seeded permutation of ``labelled`` and scored on ``test``. Every
    size gets about ``finetune_steps`` Adam steps (``epochs = steps / ceil(size / batch_size)``), so
    the small sets are not under-trained (``batch_size``, ``lr``: fine-tuning; ``pretrain_batch_size``,
    ``pretrain_lr``: pre-training). With ``alignment`` given, each seed's pre-trained network
    is also scored by :func:`force_alignment` on those molecules (before any fine-tuning).

    Returns
    -------
    xarray.Dataset
        ``mae`` over dims ``(init, size, seed)`` with ``init = ["scratch", "pretrained"]``, the
        target's units in ``attrs["units"]``; ``attrs`` also holds the settings and the final
        pre-training loss per seed. With ``alignment``: ``cos_model``, ``cos_noise``,
        ``cos_random`` over ``seed`` (means over the molecules).
    """
    import copy

    sizes = [int(s) for s in sizes]
    if target not in TARGETS:  # checked before the (long) pre-training
        raise ValueError(f"unknown target {target!r}; known: {sorted(TARGETS)}")
    if not sizes or min(sizes) < 2 or max(sizes) > len(labelled):
        raise ValueError(f"sizes must lie in 2..{len(labelled)} (the labelled set's size), got {sizes}")
    model_kwargs = dict(model_kwargs or {})
    mae = np.full((2, len(sizes), len(seeds)), np.nan)
    pre_loss = []
    cos = np.full((len(seeds), 3), np.nan)
    for b, seed in enumerate(seeds):
        base = _init(model_kwargs, seed, device, dtype)
        pre = copy.deepcopy(base)
        hist = pretrain_denoising(pre, pretrain_set, sigma=sigma, epochs=pretrain_epochs, batch_size=pretrain_batch_size,
                                  lr=pretrain_lr, seed=seed, device=device, progress=progress)
        pre_loss.append(hist["loss"][-1])
        if alignment is not None:
            fa = force_alignment(pre, alignment, sigma=sigma, seed=seed, device=device)
            cos[b] = [fa.attrs[f"mean_{name}"] for name in _COS]
            if callback is not None:
                callback({"seed": seed, **{name: fa.attrs[f"mean_{name}"] for name in _COS}})
        order = np.random.default_rng(seed).permutation(len(labelled))
        for a, size in enumerate(sizes):
            train_set = labelled.subset(order[:size])
            for i, start in enumerate((base, pre)):
                net = copy.deepcopy(start)
                epochs = max(1, round(finetune_steps / -(-size // batch_size)))
                finetune(net, train_set, target, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                         device=device, progress=progress)
                mae[i, a, b] = property_mae(net, test, target, device=device)
                if callback is not None:
                    callback({"seed": seed, "size": size, "init": ("scratch", "pretrained")[i], "mae": mae[i, a, b]})
    units = {"energy": "kcal/mol", "strain": "kcal/mol", "dipole": "D", "radius_of_gyration": "Angstrom"}
    variables = {"mae": (("init", "size", "seed"), mae)}
    if alignment is not None:
        variables.update({name: ("seed", cos[:, j]) for j, name in enumerate(_COS)})
    return xr.Dataset(variables,
                      coords={"init": ["scratch", "pretrained"], "size": sizes, "seed": list(seeds)},
                      attrs={"target": target, "units": units.get(target, "amu Angstrom^2"), "sigma": float(sigma),
                             "pretrain_epochs": int(pretrain_epochs), "finetune_steps": int(finetune_steps),
                             "n_pretrain": len(pretrain_set), "n_test": len(test), "batch_size": int(batch_size),
                             "lr": float(lr), "pretrain_batch_size": int(pretrain_batch_size),
                             "pretrain_lr": float(pretrain_lr),
                             "pretrain_final_loss": [float(x) for x in pre_loss]})


def _init(model_kwargs: dict, seed: int, device, dtype) -> MolecularNet:
    # Parameters drawn under a forked RNG state, so the caller's global torch RNG is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MolecularNet(**model_kwargs, device=resolve_device(device), dtype=dtype)
