# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Second-order and memory-augmented optimisers
#
# `neurolatent.methods.optim` holds the optimisers of four papers, all usable as
# `torch.optim.Optimizer`s in an ordinary `loss.backward(); opt.step()` loop:
#
# 1. **KFAC and FOOF** (Benzing 2022): Kronecker-factored curvature from layer statistics. FOOF keeps
#    only the input factor, ΔW = −η ∇W (A + λI)⁻¹, and performs about as well as KFAC; both are far
#    ahead of SGD per step, and the *exact* natural gradient is no better than KFAC.
# 2. **RLLC** (Szegedy et al.): k memory units with linear updates combined by a learning law L that is
#    corrected retrospectively, L ← L + c₂ M⁺ g.
# 3. **FishLeg** (Garcia et al.): a Kronecker-structured Q(λ) ≈ (F + γI)⁻¹ learned from Fisher-vector
#    products.
# 4. **Exact Gauss-Newton in reversible networks** (Buffelli et al. 2024).
#
# All runs use scikit-learn's bundled 8×8 digits (no download) and the shared harness of
# `neurolatent.methods.common`. Quick mode (`NEUROLATENT_QUICK=1`) shrinks every run.

# %%
import copy
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from neurolatent.methods.common import (MLP, ClassificationData, evaluate, linear_cka, load_digits,
                                       make_teacher_classification)
from neurolatent.methods.optim import (FOOF, KFAC, RLLC, ExactNaturalGradient, FishLeg, ReversibleMLP,
                                       exact_gauss_newton, fisher_matrix, gauss_newton_kernel, onehot_mse)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
out_dir = Path("_output") if Path("_output").is_dir() else Path(tempfile.mkdtemp(prefix="nl_tutorial07_"))
torch.manual_seed(0)
digits = load_digits(seed=0)


def run(model, opt, data, steps, *, batch_size=64, loss_fn=F.cross_entropy, every=1, seed=0):
    """Minibatch training for ``steps`` steps; full-training-set loss every ``every`` steps."""
    gen = torch.Generator().manual_seed(seed)
    x, y = data.x_train, data.y_train
    curve, order, pos = [], torch.randperm(len(y), generator=gen), 0
    for t in range(steps):
        if pos + batch_size > len(y):
            order, pos = torch.randperm(len(y), generator=gen), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        model.train()
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
        if t % every == every - 1:
            curve.append(evaluate(model, x, y, loss_fn=loss_fn)["loss"])
    return curve


# %% [markdown]
# ## 1. KFAC, FOOF, exact natural gradient and SGD, per step
# An MLP 64-32-10 on digits; each optimiser gets the same three learning rates and we keep the best.
# The exact natural gradient forms the full Fisher of each batch through `torch.func` (1.2k parameters
# here) and is the reference that KFAC approximates.

# %%
steps = 20 if QUICK else 60
small = MLP(64, (16,), 10, seed=0) if QUICK else MLP(64, (32,), 10, seed=0)
factories = {
    "SGD": lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr),
    "KFAC": lambda m, lr: KFAC(m, lr=lr, damping=1e-2),
    "FOOF": lambda m, lr: FOOF(m, lr=lr, damping=1e-2),
    "exact NG": lambda m, lr: ExactNaturalGradient(m, lr=lr, damping=1e-2),
}
grids = {"SGD": [0.1, 0.3, 1.0], "KFAC": [0.1, 0.3], "FOOF": [0.3, 1.0], "exact NG": [0.1, 0.3]}
curves = {}
for name, make in factories.items():
    best = None
    for lr in grids[name]:
        model = copy.deepcopy(small)
        c = run(model, make(model, lr), digits, steps, batch_size=32 if name == "exact NG" else 64)
        if best is None or c[-1] < best[1][-1]:
            best = (lr, c)
    curves[name] = best
    print(f"{name:9s} best lr {best[0]:<4}  training loss after {steps} steps: {best[1][-1]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, (lr, c) in curves.items():
    ax.semilogy(range(1, steps + 1), c, label=f"{name} (lr {lr})")
ax.set(xlabel="step", ylabel="training loss", title="Per-step progress (digits MLP)")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "07_kfac_foof.png", dpi=90)

# %% [markdown]
# FOOF tracks KFAC closely, both are an order of magnitude ahead of SGD, and the exact natural gradient
# (with the *same* damping, and a smaller batch for cost) is not ahead of KFAC — Benzing's point that
# KFAC's success is not explained by it being a good approximation of the natural gradient.
#
# ## 2. RLLC at an equal tuning budget
# Four learning rates each; RLLC uses k = 3 memory units (EMAs with β = 0, 0.9, 0.99) and c₂ = 0.2.

# %%
steps = 40 if QUICK else 63
mlp = MLP(64, (64, 64), 10, seed=0)
budget = {
    "SGD": (lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr), [0.1, 0.3, 1.0, 3.0]),
    "momentum": (lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9), [0.01, 0.03, 0.1, 0.3]),
    "Adam": (lambda m, lr: torch.optim.Adam(m.parameters(), lr=lr), [3e-3, 1e-2, 3e-2, 1e-1]),
    "RLLC": (lambda m, lr: RLLC(m.parameters(), lr=lr, law_lr=0.2), [0.1, 0.3, 1.0, 3.0]),
}
rllc_curves, laws = {}, None
for name, (make, lrs) in budget.items():
    best = None
    for lr in lrs[:2] if QUICK else lrs:
        model = copy.deepcopy(mlp)
        opt = make(model, lr)
        try:
            c = run(model, opt, digits, steps, every=3)
        except FloatingPointError:
            continue
        if c[-1] == c[-1] and (best is None or c[-1] < best[1][-1]):
            best = (lr, c)
            if name == "RLLC":
                laws = torch.stack(opt.law_history)
    rllc_curves[name] = best
    print(f"{name:9s} best lr {best[0]:<5} training loss {best[1][-1]:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for name, (lr, c) in rllc_curves.items():
    axes[0].semilogy([3 * (i + 1) for i in range(len(c))], c, label=f"{name} (lr {lr})")
axes[0].set(xlabel="step", ylabel="training loss", title="Equal tuning budget")
axes[0].legend()
axes[1].plot(laws.numpy())
axes[1].set(xlabel="step", ylabel="learning law L", title="RLLC law (stays bounded)")
fig.tight_layout()
fig.savefig(out_dir / "07_rllc.png", dpi=90)

# %% [markdown]
# RLLC clearly beats SGD and momentum here. Against Adam the paper's claim did not hold robustly in
# our checks: over 3 epochs on digits RLLC won for two seeds out of three, whatever the memory size
# (k = 2, 3, 4), law step c₂ or pseudo-inverse ridge; over 10 epochs Adam won on every seed, by 2-6×;
# and on a teacher-network task Adam won (see the test docstrings for the numbers).
#
# ## 3. FishLeg's Q against the exact inverse damped Fisher
# For a softmax-regression layer the Fisher is a single 18×18 block that we can invert exactly; Q is
# fitted by the auxiliary loss ½uᵀQ(F+γI)Qu − uᵀQu from Fisher-vector products only.

# %%
torch.manual_seed(0)
lin = torch.nn.Linear(5, 3).double()
x = torch.randn(200, 5, dtype=torch.float64)
gamma = 0.05
f_inv = torch.linalg.inv(fisher_matrix(lin, x) + gamma * torch.eye(18, dtype=torch.float64))
fl = FishLeg(lin, damping=gamma, aux_lr=0.02, seed=0)
errors = []
for _ in range(10 if QUICK else 30):
    fl.update_q(x, steps=25)
    errors.append(float(torch.linalg.norm(fl.q_matrix(lin) - f_inv) / torch.linalg.norm(f_inv)))
print(f"relative error of Q: {errors[0]:.3f} after 25 aux steps, {errors[-1]:.3f} at the end")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
vmax = float(f_inv.abs().max())
axes[0].imshow(f_inv.numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
axes[0].set_title("exact (F + γI)⁻¹")
axes[1].imshow(fl.q_matrix(lin).numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
axes[1].set_title("FishLeg Q (Kronecker)")
axes[2].plot([25 * (i + 1) for i in range(len(errors))], errors)
axes[2].set(xlabel="auxiliary steps", ylabel="relative Frobenius error", yscale="log")
fig.tight_layout()
fig.savefig(out_dir / "07_fishleg.png", dpi=90)

# %% [markdown]
# ## 4. Exact Gauss-Newton in a reversible MLP
# A reversible MLP (2 additive-coupling blocks) trained with one-hot squared error. The GN step
# Δθ = −η J⁺ r is exact: `exact_gauss_newton` builds the batch's tangent kernel K = J Jᵀ from each
# layer's inputs and back-propagated sensitivities (C backward passes, no Jacobian) and solves an
# (NC × NC) system, so hidden widths of 1024 train in seconds on a CPU.
#
# First the mechanism Buffelli et al. invoke for laziness: one full step (η = 1, which fits the
# minibatch) moves the coupling weights of a wider network less.

# %%
x32, y32 = digits.x_train[:32], digits.y_train[:32]
widths = [16, 64, 256] if QUICK else [16, 64, 256, 1024, 4096]
one_step = []
for h in widths:
    net = ReversibleMLP(64, 10, n_blocks=2, hidden=h, seed=0)
    net0 = copy.deepcopy(net)
    opt = exact_gauss_newton(net, lr=1.0)
    opt.zero_grad()
    onehot_mse(net(x32), y32).backward()
    opt.step()
    p = torch.cat([q.detach().reshape(-1) for q in net.blocks.parameters()])
    p0 = torch.cat([q.detach().reshape(-1) for q in net0.blocks.parameters()])
    one_step.append(float((p - p0).norm() / p0.norm()))
    print(f"hidden {h:5d}: one GN step changes the coupling weights by {100 * one_step[-1]:.1f}%")

# %% [markdown]
# Then whole training runs on a teacher task (32 Gaussian features, 4 classes from a 4-unit tanh
# teacher), where features matter. GN takes the paper's full step (η = 1); Adam and SGD keep the best
# test accuracy of three learning rates. We record the test accuracy, how far the weights, the tangent
# kernel K (on 32 test inputs) and the block representations (linear CKA) move from initialisation.

# %%
teacher = make_teacher_classification(800 if QUICK else 1600, 32, 4, hidden=4, seed=0)
hidden, epochs = (256, 3) if QUICK else (1024, 10)
steps = epochs * (len(teacher.y_train) // 32)
rev0 = ReversibleMLP(32, 4, n_blocks=2, hidden=hidden, seed=0)
rev_opts = {"exact GN (lr 1)": [lambda m: exact_gauss_newton(m, lr=1.0)],
            "Adam": [lambda m, lr=lr: torch.optim.Adam(m.parameters(), lr=lr) for lr in (3e-4, 1e-3, 3e-3)],
            "SGD": [lambda m, lr=lr: torch.optim.SGD(m.parameters(), lr=lr) for lr in (0.01, 0.03, 0.1)]}
if QUICK:
    rev_opts = {k: v[:2] for k, v in rev_opts.items()}
probe = teacher.x_test[:32]
k0 = gauss_newton_kernel(rev0, probe)
rev_curves, summary = {}, {}
for name, makers in rev_opts.items():
    for make in makers:
        net = copy.deepcopy(rev0)
        curve = run(net, make(net), teacher, steps, batch_size=32, loss_fn=onehot_mse, every=10)
        acc = evaluate(net, teacher.x_test, teacher.y_test)["accuracy"]
        if name in summary and acc <= summary[name]["test_acc"]:
            continue
        with torch.no_grad():
            cka = min(float(linear_cka(a, b)) for a, b in
                      zip(net.block_outputs(teacher.x_test), rev0.block_outputs(teacher.x_test)))
            p = torch.cat([q.reshape(-1) for q in net.blocks.parameters()])
            p0 = torch.cat([q.reshape(-1) for q in rev0.blocks.parameters()])
        ntk = float((gauss_newton_kernel(net, probe) - k0).norm() / k0.norm())
        rev_curves[name] = curve
        summary[name] = dict(train=curve[-1], test_acc=acc, cka=cka, rel=float((p - p0).norm() / p0.norm()), ntk=ntk)
for name, r in summary.items():
    print(f"{name:16s} train loss {r['train']:.3f}  test acc {r['test_acc']:.3f}  weights moved {100 * r['rel']:.0f}%  "
          f"kernel moved {100 * r['ntk']:.0f}%  min block CKA to init {r['cka']:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
axes[0].loglog(widths, one_step, "o-")
axes[0].set(xlabel="hidden width", ylabel="relative weight change", title="One full GN step")
for name, c in rev_curves.items():
    axes[1].semilogy([10 * (i + 1) for i in range(len(c))], c, label=name)
axes[1].set(xlabel="step", ylabel="training loss (one-hot MSE)", title="Teacher task, reversible MLP")
axes[1].legend()
fig.tight_layout()
fig.savefig(out_dir / "07_reversible_gn.png", dpi=90)

# %% [markdown]
# Laziness depends on the regime. Buffelli et al. start from small weights and use learning rates of
# 0.1 and below; with the coupling weights scaled by 0.1 at initialisation and η = 0.1, GN on digits leaves
# the tangent kernel and the coupling MLPs' hidden representations where they started, while Adam moves them.

# %%
n_sub, hidden, epochs = (320, 256, 3) if QUICK else (600, 1024, 10)
sub = ClassificationData(digits.x_train[:n_sub], digits.y_train[:n_sub], digits.x_test, digits.y_test, 10, "digits")
small0 = ReversibleMLP(64, 10, n_blocks=2, hidden=hidden, seed=0, init_scale=0.1)
probe = sub.x_test[:32]
k0 = gauss_newton_kernel(small0, probe)
for name, make in {"exact GN (lr 0.1)": lambda m: exact_gauss_newton(m, lr=0.1),
                   "Adam (lr 3e-3)": lambda m: torch.optim.Adam(m.parameters(), lr=3e-3)}.items():
    net = copy.deepcopy(small0)
    run(net, make(net), sub, epochs * (n_sub // 32), batch_size=32, loss_fn=onehot_mse, every=10 ** 9)
    hid = lambda m: torch.tanh(m.blocks[0].f[0](sub.x_test[:, 32:]))  # noqa: E731  first coupling's hidden layer
    with torch.no_grad():
        cka = float(linear_cka(hid(net), hid(small0)))
    ntk = float((gauss_newton_kernel(net, probe) - k0).norm() / k0.norm())
    print(f"{name:18s} test acc {evaluate(net, sub.x_test, sub.y_test)['accuracy']:.3f}  kernel moved {100 * ntk:.0f}%  "
          f"hidden-layer CKA to init {cka:.3f}")

# %% [markdown]
# What reproduces and what does not (full-mode numbers, hidden 1024, seeds 0 and 1; see
# `tests/methods/optim/test_optim_reversible.py`):
#
# * **Faster at first, then saturating**: GN drives the training loss down fastest early on (digits,
#   2 epochs), but with the full step its progress saturates above Adam's (teacher task, 10 epochs:
#   0.175 / 0.164 vs 0.134 / 0.125).
# * **Worse test accuracy**: with η = 1, GN reaches 0.73 / 0.75 against 0.82 / 0.82 for Adam. This is
#   specific to the full step and the task: with η = 0.3 GN reaches 0.875, and on digits GN beats Adam.
# * **Lazy training: regime-dependent.** One step moves wide networks less (left panel). With the full
#   step and the default initialisation, fitting every minibatch exactly adds up: GN moved the weights by
#   ~19% and the tangent kernel by several times its norm, *more* than Adam and SGD did. With a small
#   initialisation and η = 0.1 GN is lazy (kernel moved 3%, hidden CKA 0.9999 vs Adam's 62% and 0.52) —
#   but there it generalised as well as Adam after 10 epochs (0.90 vs 0.90). After 30 epochs GN (η = 0.1)
#   had saturated 0.02 below Adam, as in the paper, yet η = 0.03 (still lazy) matched Adam: at an equal
#   tuning budget the two findings did not appear together.
