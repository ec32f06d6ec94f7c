"""Trained networks shared by the sparsity claim tests (seeded, CPU, digits).

Recipe: digits (1348 train / 449 test), Adam lr 1e-3, batch 64; the network seed sets the
initialisation and the minibatch order.
"""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.common import MLP, load_digits, train
from neurolatent.methods.optim import FishLeg

SEEDS = (0, 1, 2)
LEVELS = (0.8, 0.9, 0.95)
GAMMA = 1e-2  # damping of the inverse Fisher, shared by OBS and FishLeg


@pytest.fixture(scope="session")
def digits():
    return load_digits(seed=0)


def trained_mlp_with_q(data, seed, *, width=32, epochs=30, q_steps=300):
    """A 64-width-10 ReLU MLP trained with Adam, and a FishLeg whose Q is fitted on it afterwards
    (``q_steps`` auxiliary steps on minibatches of 256 training inputs, aux_lr 0.02)."""
    net = MLP(data.x_train.shape[1], (width,), data.n_classes, seed=seed)
    train(net, data, epochs=epochs, lr=1e-3, seed=seed)
    fl = FishLeg(net, damping=GAMMA, aux_lr=0.02, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(q_steps):
        fl.update_q(data.x_train[torch.randint(0, data.x_train.shape[0], (256,), generator=gen)], steps=1)
    return net, fl


@pytest.fixture(scope="session")
def surgeon_runs(digits):
    """Per seed: one-shot test accuracy of each method at LEVELS, and the Q g / F^-1 g cosines."""
    from neurolatent.methods.sparsity import (FishLegSurgeon, MagnitudePruner, OBDPruner, OBSPruner,
                                              inverse_fisher_cosine, sparsity_curve)
    out = []
    for seed in SEEDS:
        net, fl = trained_mlp_with_q(digits, seed)
        gen = torch.Generator().manual_seed(seed)
        xf = digits.x_train[torch.randperm(digits.x_train.shape[0], generator=gen)[:512]]
        methods = {"magnitude": MagnitudePruner(), "obd": OBDPruner(xf),
                   "obs": OBSPruner(xf, damping=GAMMA, block="layer", chunk=0.02),
                   "fls": FishLegSurgeon(fl, n_steps=10), "fls_1step": FishLegSurgeon(fl)}
        acc = {k: [float(a) for a in sparsity_curve(net, digits, m, LEVELS).accuracy] for k, m in methods.items()}
        x, y = digits.x_train[:512], digits.y_train[:512]
        cos_q = inverse_fisher_cosine(fl, net, x, y)
        cos_id = inverse_fisher_cosine(FishLeg(net, damping=GAMMA), net, x, y)  # Q = I: the plain gradient
        out.append({"seed": seed, "acc": acc, "cos_q": cos_q, "cos_identity": cos_id})
        print(f"seed {seed}: " + ", ".join(f"{k} {[round(a, 3) for a in v]}" for k, v in acc.items())
              + f"; cos(Qg, F^-1 g) {cos_q:.3f} (Q = I: {cos_id:.3f})")
    return out


PP_ALPHAS = (1.0, 2.0, 3.0)
PP_LEVELS = (0.0, 0.9, 0.95, 0.98)


@pytest.fixture(scope="session")
def powerprop_runs(digits):
    """Per seed and alpha: test accuracy after magnitude pruning at PP_LEVELS, and the fraction of
    weights with |w| < 1e-2, for a 64-128-128-10 MLP trained 60 epochs with Adam (lr 3e-3) on v."""
    from neurolatent.methods.sparsity import powerpropagate, prunable_layers, remove_powerprop, sparsity_curve
    out = []
    for seed in SEEDS:
        for alpha in PP_ALPHAS:
            net = powerpropagate(MLP(64, (128, 128), 10, seed=seed), alpha)
            train(net, digits, epochs=60, lr=3e-3, seed=seed)
            remove_powerprop(net)
            w = torch.cat([m.weight.detach().abs().reshape(-1) for m in prunable_layers(net).values()])
            acc = [float(a) for a in sparsity_curve(net, digits, "magnitude", PP_LEVELS).accuracy]
            out.append({"seed": seed, "alpha": alpha, "acc": acc, "near_zero": float((w < 1e-2).double().mean())})
            print(f"powerprop seed {seed} alpha {alpha:g}: accuracy at {PP_LEVELS} = {[round(a, 3) for a in acc]}, "
                  f"fraction |w| < 1e-2 = {out[-1]['near_zero']:.3f}")
    return out


BN_SHAPES = ((64,), (64, 64), (64, 64, 64), (256, 256))


@pytest.fixture(scope="session")
def bn_only_runs(digits):
    """Per seed and hidden shape: test accuracy training only BatchNorm's gamma/beta, training as many
    randomly chosen other entries instead, and the fraction of |gamma| < 0.05 (Adam lr 1e-2, 30 epochs)."""
    from neurolatent.methods.common import evaluate
    from neurolatent.methods.sparsity import freeze_all_but_batchnorm, gamma_near_zero, random_parameter_subset
    out = []
    for seed in SEEDS:
        for hidden in BN_SHAPES:
            net = MLP(64, hidden, 10, batchnorm=True, seed=seed)
            params = freeze_all_but_batchnorm(net)
            n = sum(p.numel() for p in params)
            train(net, digits, params=params, epochs=30, lr=1e-2, seed=seed)
            base = MLP(64, hidden, 10, batchnorm=True, seed=seed)
            train(base, digits, params=random_parameter_subset(base, n, seed=seed), epochs=30, lr=1e-2, seed=seed)
            row = {"seed": seed, "hidden": hidden, "n": n,
                   "bn": evaluate(net, digits.x_test, digits.y_test)["accuracy"],
                   "random": evaluate(base, digits.x_test, digits.y_test)["accuracy"],
                   "gamma_off": gamma_near_zero(net, 0.05)}
            out.append(row)
            print(f"bn-only seed {seed} {hidden}: {n} parameters, BN-only {row['bn']:.3f}, random {row['random']:.3f}, "
                  f"|gamma| < 0.05: {row['gamma_off']:.3f}")
    return out


REWIND_KS = (0, 1, 3)


@pytest.fixture(scope="session")
def rewinding_runs(digits):
    """Per seed: IMP (5 rounds of 50 %, 96.9 % sparsity; 64-64-64-10 MLP, Adam lr 1e-3, 15 epochs) with
    rewinding to epochs REWIND_KS, and the perturbations of the weights rewound to k = 3."""
    from neurolatent.methods.common import evaluate
    from neurolatent.methods.sparsity import PERTURBATIONS, imp, retrain_masked
    out = []
    for seed in SEEDS:
        make = lambda s: MLP(64, (64, 64), 10, seed=s)  # noqa: E731
        row = {"seed": seed, "k": {}, "perturbed": {}}
        for k in REWIND_KS:
            res = imp(make(seed), digits, rounds=5, prune_fraction=0.5, rewind_epoch=k, epochs=15, seed=seed)
            row["k"][k] = res.accuracy[-1]
            row["sparsity"] = res.sparsity[-1]
            if k == REWIND_KS[-1]:
                for kind in PERTURBATIONS:
                    net = retrain_masked(make(seed), res.rewind_state, res.masks, digits, epochs=15 - k,
                                         perturbation=kind, init=make(seed + 100), perturb_seed=seed, seed=seed + k + 1)
                    row["perturbed"][kind] = evaluate(net, digits.x_test, digits.y_test)["accuracy"]
        out.append(row)
        print(f"rewinding seed {seed} (sparsity {row['sparsity']:.3f}): accuracy by k {row['k']}; "
              f"perturbed at k={REWIND_KS[-1]}: {row['perturbed']}")
    return out


@pytest.fixture(scope="session")
def gradual_runs(digits):
    """Per seed: gradual pruning (cubic schedule, 5 pruning steps 2 epochs apart, 15 epochs of Adam lr 1e-3
    in all) of the trained 64-32-10 MLP to 95 % and 98 %, by magnitude and by the FishLeg surgeon with Q
    refined (50 auxiliary steps on 512 training inputs) before every pruning step."""
    import copy

    from neurolatent.methods.sparsity import FishLegSurgeon, MagnitudePruner, gradual_prune
    out = []
    for seed in SEEDS:
        net, fl = trained_mlp_with_q(digits, seed)
        row = {"seed": seed}
        for final in (0.95, 0.98):
            for name in ("magnitude", "fls"):
                work = copy.deepcopy(net)
                if name == "fls":
                    own = FishLeg(work, damping=GAMMA, aux_lr=0.02, seed=seed)
                    own.load_state_dict(fl.state_dict())  # the Q fitted on the dense network
                    pruner = FishLegSurgeon(own, x=digits.x_train[:512], refine_steps=50)
                else:
                    pruner = MagnitudePruner()
                h = gradual_prune(work, digits, pruner, final, epochs=15, n_steps=5, every=2, lr=1e-3, seed=seed)
                row[(name, final)] = h["eval_accuracy"][-1]
        out.append(row)
        print(f"gradual seed {seed}: " + ", ".join(f"{k[0]} {k[1]:.0%} {v:.3f}" for k, v in row.items() if k != "seed"))
    return out


PRETRAIN_EPOCHS = 3


@pytest.fixture(scope="session")
def pretraining_runs(digits):
    """Per seed: IMP as in ``rewinding_runs`` (5 rounds of 50 %, 15 epochs) rewound to k = 0 of weights
    pre-trained for PRETRAIN_EPOCHS epochs on 2x2-blurred digits, or on rotation prediction (4x the
    inputs; the read-out restored to its initialisation); pre-training minibatches seeded seed + 1000."""
    from neurolatent.methods.sparsity import imp, pretrain
    out = []
    for seed in SEEDS:
        row = {"seed": seed}
        for kind in ("blur", "rotation"):
            net = pretrain(MLP(64, (64, 64), 10, seed=seed), digits, kind, epochs=PRETRAIN_EPOCHS,
                           image_shape=(1, 8, 8), seed=seed + 1000)
            res = imp(net, digits, rounds=5, prune_fraction=0.5, rewind_epoch=0, epochs=15, seed=seed)
            row[kind] = res.accuracy[-1]
        out.append(row)
        print(f"pre-training seed {seed} (IMP k=0 of the pre-trained weights): blur {row['blur']:.3f}, "
              f"rotation {row['rotation']:.3f}")
    return out


@pytest.fixture(scope="session")
def packing_runs(digits):
    """Per seed and alpha in PP_ALPHAS: pack_tasks on 5 permuted-digit tasks (the first unpermuted), 20 % of
    the weights per task, MLP 64-128-128-10, 15 epochs of Adam lr 1e-2 per task, no fine-tuning."""
    from neurolatent.methods.common import permuted_tasks
    from neurolatent.methods.sparsity import pack_tasks
    tasks = permuted_tasks(digits, 5, seed=0)
    out = []
    for seed in SEEDS:
        for alpha in PP_ALPHAS:
            r = pack_tasks(MLP(64, (128, 128), 10, seed=seed), tasks, alpha=alpha, capacity=0.2, epochs=15, lr=1e-2,
                           seed=seed).results
            out.append({"seed": seed, "alpha": alpha, "final": r.final_accuracy.values,
                        "dense": r.dense_accuracy.values, "mean": float(r.average_accuracy)})
            print(f"packing seed {seed} alpha {alpha:g}: final {out[-1]['final'].round(3)}, "
                  f"before the cut {out[-1]['dense'].round(3)}, mean {out[-1]['mean']:.3f}")
    return out
