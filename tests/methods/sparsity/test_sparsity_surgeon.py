"""OBS / OBD / FishLeg surgeon against closed forms and independent references (float64)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from neurolatent.methods.optim import FishLeg, fisher_matrix
from neurolatent.methods.sparsity import (
    FishLegSurgeon,
    MagnitudePruner,
    OBDPruner,
    OBSPruner,
    fisher_blocks,
    inverse_fisher_cosine,
    obs_update,
    sparsity_report,
)


def _spd(n, rng):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + 0.1 * np.eye(n)


def test_obs_compensation_matches_a_direct_constrained_solve(rng):
    """min 1/2 d^T H d subject to d_E = -theta_E: d_F = H_FF^{-1} H_FE theta_E (KKT, solved directly)."""
    n = 9
    h = _spd(n, rng)
    theta = rng.standard_normal(n)
    remove = np.array([1, 4, 7])
    keep = np.setdiff1d(np.arange(n), remove)
    d_ref = np.zeros(n)
    d_ref[remove] = -theta[remove]
    d_ref[keep] = scipy.linalg.solve(h[np.ix_(keep, keep)], h[np.ix_(keep, remove)] @ theta[remove])
    inc_ref = 0.5 * d_ref @ h @ d_ref
    d, inc, hinv_new = obs_update(torch.tensor(theta), torch.tensor(np.linalg.inv(h)), torch.tensor(remove))
    # float64 solves of a well-conditioned 9x9 system: agreement to ~1e-13, 1e-10 leaves room
    np.testing.assert_allclose(d.numpy(), d_ref, rtol=1e-10, atol=1e-12)
    assert inc == pytest.approx(inc_ref, rel=1e-10)
    # the downdated inverse is the inverse of H restricted to the remaining coordinates
    np.testing.assert_allclose(hinv_new.numpy()[np.ix_(keep, keep)], np.linalg.inv(h[np.ix_(keep, keep)]),
                               rtol=1e-9, atol=1e-12)
    # single weight: the classic OBS saliency w_q^2 / (2 [H^-1]_qq)
    hinv = np.linalg.inv(h)
    _, inc1, _ = obs_update(torch.tensor(theta), torch.tensor(hinv), torch.tensor([3]))
    assert inc1 == pytest.approx(theta[3] ** 2 / (2 * hinv[3, 3]), rel=1e-12)


def _ridge_linear(rng, n=120, d_in=5, d_out=3, gamma=0.05):
    """A linear layer at the minimum of the damped squared error (a quadratic: Hessian = F + gamma I)."""
    x = rng.standard_normal((n, d_in))
    t = x @ rng.standard_normal((d_in, d_out)) + 0.3 * rng.standard_normal((n, d_out))
    xt = np.hstack([x, np.ones((n, 1))])
    a = xt.T @ xt / n
    sol = np.linalg.solve(a + gamma * np.eye(d_in + 1), xt.T @ t / n)  # (d_in+1, d_out)
    net = nn.Linear(d_in, d_out).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor(sol[:-1].T))
        net.bias.copy_(torch.tensor(sol[-1]))
    return net, torch.tensor(x), torch.tensor(t), a


def _damped_loss(net, x, t, gamma):
    with torch.no_grad():
        r = net(x) - t
        return float(0.5 * (r ** 2).sum() / x.shape[0] + 0.5 * gamma * (net.weight ** 2).sum()
                     + 0.5 * gamma * (net.bias ** 2).sum())


@pytest.mark.parametrize("chunk", [1, 4])
def test_obs_loss_increase_equals_the_predicted_saliency_on_a_quadratic(rng, chunk):
    gamma = 0.05
    net, x, t, _ = _ridge_linear(rng, gamma=gamma)
    l0 = _damped_loss(net, x, t, gamma)
    pruner = OBSPruner(x, damping=gamma, loss="mse", block="full", chunk=chunk)
    masks = pruner.prune(net, 0.6)
    l1 = _damped_loss(net, x, t, gamma)
    # exact quadratic, float64: predicted and actual increase agree to round-off (~1e-14 relative)
    assert l1 - l0 == pytest.approx(pruner.predicted_increase, rel=1e-8)
    assert sparsity_report(net)["global"] == pytest.approx(round(0.6 * 15) / 15)
    # and the survivors sit at the constrained minimum: zero damped gradient on the free coordinates
    net.zero_grad()
    r = net(x) - t
    (0.5 * (r ** 2).sum() / x.shape[0] + 0.5 * gamma * ((net.weight ** 2).sum() + (net.bias ** 2).sum())).backward()
    free_grad = torch.cat([net.weight.grad[masks["weight"]], net.bias.grad])
    assert float(free_grad.abs().max()) < 1e-10


def test_fisher_blocks_and_obd_saliency_match_the_exact_fisher(seed):
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.randn(40, 4, dtype=torch.float64)
    ref = fisher_matrix(net, x)  # the optimiser family's reference (one jacrev over the whole model)
    full = fisher_blocks(net, x, block="full", batch_size=7)[0]  # chunked accumulation
    torch.testing.assert_close(full, ref, rtol=1e-10, atol=1e-12)
    blocks = fisher_blocks(net, x, block="layer")
    torch.testing.assert_close(blocks[0], ref[:30, :30], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(blocks[1], ref[30:, 30:], rtol=1e-10, atol=1e-12)
    scores = OBDPruner(x).scores(net)
    d = torch.diagonal(ref)
    torch.testing.assert_close(scores["0.weight"], 0.5 * d[:24].reshape(6, 4) * net[0].weight.detach() ** 2)
    torch.testing.assert_close(scores["2.weight"], 0.5 * d[30:48].reshape(3, 6) * net[2].weight.detach() ** 2)


def _fishleg_with_exact_q(net, x, gamma):
    """FishLeg whose Q is set to the exact (F + gamma I)^{-1} of a linear layer under squared error,
    where F = I_out kron A (A = mean of [x, 1][x, 1]^T) is Kronecker, so FishLeg's Q = LL^T kron RR^T can
    equal it: R = I, L = chol((A + gamma I)^{-1})."""
    fl = FishLeg(net, damping=gamma, loss="mse", seed=0)
    fl.update_q(x, steps=1)  # one real auxiliary step: Q counts as fitted; then overwrite it
    xt = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], 1)
    a = xt.T @ xt / x.shape[0]
    left = torch.linalg.cholesky(torch.linalg.inv(a + gamma * torch.eye(a.shape[0], dtype=x.dtype)))
    with torch.no_grad():
        fl.factors[net][0].copy_(left)
        fl.factors[net][1].copy_(torch.eye(net.out_features, dtype=x.dtype))
    return fl


def test_fishleg_surgeon_with_exact_q_reproduces_obs(rng):
    gamma = 0.05
    net, x, t, _ = _ridge_linear(rng, gamma=gamma)
    fl = _fishleg_with_exact_q(net, x, gamma)
    exact = torch.linalg.inv(fisher_blocks(net, x, loss="mse", block="full")[0] + gamma * torch.eye(18, dtype=torch.float64))
    torch.testing.assert_close(fl.q_matrix(net), exact, rtol=1e-9, atol=1e-12)  # the construction is right
    obs = OBSPruner(x, damping=gamma, loss="mse", block="full", chunk=1)
    fls = FishLegSurgeon(fl)
    torch.testing.assert_close(fls.scores(net)["weight"], obs.scores(net)["weight"], rtol=1e-9, atol=1e-14)
    # removing one weight: same choice, same compensation of every other parameter
    one = 1 / 15 + 1e-9
    a, b = nn.Linear(5, 3).double(), nn.Linear(5, 3).double()
    a.load_state_dict(net.state_dict())
    b.load_state_dict(net.state_dict())
    ma, mb = obs.prune(a, one), FishLegSurgeon(_fishleg_with_exact_q(b, x, gamma)).prune(b, one)
    assert torch.equal(ma["weight"], mb["weight"]) and int((~ma["weight"]).sum()) == 1
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a.bias, b.bias, rtol=1e-9, atol=1e-12)
    # and the Q g vs exact inverse-Fisher g cosine is 1 for this Q
    y = torch.as_tensor(rng.integers(0, 3, x.shape[0]))
    assert inverse_fisher_cosine(fl, net, x, y, block="full", loss="mse") == pytest.approx(1.0, abs=1e-9)


def test_obs_on_a_small_mlp_beats_magnitude_in_predicted_and_real_loss(seed):
    """Sanity on a nonlinear net: OBS's compensated weights lose less training loss than plain zeroing."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 3)).double()
    x = torch.randn(200, 5, dtype=torch.float64)
    with torch.no_grad():  # labels from the network itself: it sits at a minimum of its own CE in expectation
        y = torch.distributions.Categorical(logits=net(x)).sample()
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    OBSPruner(x, damping=1e-3, block="full", chunk=1).prune(a, 0.3)
    MagnitudePruner().prune(b, 0.3)
    def kl(m):
        with torch.no_grad():
            return float(torch.nn.functional.kl_div(torch.log_softmax(m(x), 1), torch.log_softmax(net(x), 1),
                                                    log_target=True, reduction="batchmean"))
    print(f"KL to the dense net at 30 %: OBS {kl(a):.2e}, magnitude {kl(b):.2e}")
    # OBS minimises the Fisher (= local KL) quadratic; measured KL 3.3e-5 (OBS) vs 2.4e-3 (magnitude), 70x;
    # a 5x margin
    assert kl(a) < 0.2 * kl(b)


def test_curvature_pruners_handle_convolutions(seed):
    """OBD and OBS work on Conv2d layers too (the FishLeg surgeon's are in test_sparsity_surgeon_conv.py)."""
    from neurolatent.methods.common import SmallCNN

    net = SmallCNN(1, (2, 3), 3, seed=seed).double()
    x = torch.randn(24, 1, 8, 8, dtype=torch.float64)
    for pruner in (OBDPruner(x), OBSPruner(x, damping=1e-3, block="full", chunk=2)):
        work = copy.deepcopy(net)
        masks = pruner.prune(work, 0.5, scope="layer")
        n_weights = {k: m.numel() for k, m in masks.items()}
        assert n_weights == {"blocks.0.layer.weight": 18, "blocks.1.layer.weight": 54, "blocks.2.linear.weight": 9}
        for k, m in masks.items():
            assert int((~m).sum()) == round(0.5 * m.numel())
        assert torch.isfinite(work(x)).all()
