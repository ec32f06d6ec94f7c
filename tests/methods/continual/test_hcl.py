"""HCL's pieces: the RealNVP flow (exact log-determinant, inverse), the hybrid model, the typicality detector."""
from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from neurolatent.methods.common import make_teacher_classification, split_tasks
from neurolatent.methods.continual import (
    HybridFlow,
    RealNVP,
    TypicalityDetector,
    coupling_masks,
    detection_summary,
    run_hcl,
)

MODULES = [importlib.import_module(f"neurolatent.methods.continual.{m}")
           for m in ("flows", "hybrid_flow", "typicality", "hcl")]


def _randomise(module: torch.nn.Module, seed: int, scale: float = 0.5) -> None:
    """Move a fresh flow away from the identity (its last layers start at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


@pytest.fixture(scope="module")
def flow64():
    flow = RealNVP(5, n_couplings=4, hidden=12, seed=3, dtype=torch.float64)
    _randomise(flow, 1)
    return flow


@pytest.fixture(scope="module")
def tiny_tasks():
    return split_tasks(make_teacher_classification(480, 6, 4, seed=1), 2)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def test_logdet_matches_autograd_jacobian(flow64, seed):
    x = torch.randn(4, 5, dtype=torch.float64)
    _, logdet = flow64(x)
    for i in range(x.shape[0]):
        jac = torch.autograd.functional.jacobian(lambda v: flow64(v[None])[0][0], x[i])
        sign, ref = torch.linalg.slogdet(jac)
        assert sign > 0  # an affine coupling with exp-scales is orientation preserving
        # float64 round-off only: the coupling's log-determinant is exact, not an estimate
        assert torch.allclose(logdet[i], ref, atol=1e-10, rtol=0)


def test_inverse_round_trip(flow64, seed):
    x = 3 * torch.randn(50, 5, dtype=torch.float64)
    z, _ = flow64(x)
    assert not torch.allclose(z, x, atol=1e-2)  # the randomised flow is far from the identity
    assert torch.allclose(flow64.inverse(z), x, atol=1e-10)  # exact inverse up to float64 round-off
    assert torch.allclose(flow64(flow64.inverse(z))[0], z, atol=1e-10)


def test_new_flow_is_identity_and_masks_alternate():
    flow = RealNVP(6, n_couplings=3, hidden=8, seed=0)
    x = torch.randn(7, 6)
    z, logdet = flow(x)
    assert torch.equal(z, x) and torch.equal(logdet, torch.zeros(7))
    m = coupling_masks(6, 4)
    assert torch.equal(m[0] + m[1], torch.ones(6)) and torch.equal(m[2] + m[3], torch.ones(6))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_raise(flow64, bad):
    x = torch.zeros(3, 5, dtype=torch.float64)
    x[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite values in 1 of 3 rows"):
        flow64(x)
    with pytest.raises(ValueError, match="RealNVP.inverse: z"):
        flow64.inverse(x)
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        flow64(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 2"):
        RealNVP(1)


def test_hybrid_density_is_change_of_variables(seed):
    """log p(x|k) = log N(f(x); mu_k, I) + log|det J|, checked against scipy and an autograd Jacobian."""
    model = HybridFlow(4, 3, n_couplings=4, hidden=10, seed=2, dtype=torch.float64)
    _randomise(model.flow, 5)
    assert model.add_components(0, [0, 2]) == [0, 1]
    assert model.add_components(1, [2, 0]) == [2, 3] and model.add_components(0, [2]) == [1]
    x = torch.randn(6, 4, dtype=torch.float64)
    lp = model.component_log_prob(x)
    z, _ = model.flow(x)
    for i in range(6):
        jac = torch.autograd.functional.jacobian(lambda v: model.flow(v[None])[0][0], x[i])
        ld = torch.linalg.slogdet(jac)[1].item()
        for k in range(4):
            ref = multivariate_normal(model.means[k].numpy(), np.eye(4)).logpdf(z[i].detach().numpy()) + ld
            assert abs(lp[i, k].item() - ref) < 1e-9  # float64 round-off
    # class 2 has components in tasks 0 and 1: its likelihood is their equal-weight mixture
    out = model(x)
    ref2 = torch.logsumexp(lp[:, [1, 2]], 1) - np.log(2)
    assert torch.allclose(out[:, 2], ref2) and torch.isinf(out[:, 1]).all()
    assert torch.equal(model.predict(x), out.argmax(1))
    y = torch.tensor([0, 2, 2, 0, 2, 0])
    assert torch.allclose(model.log_prob(x, y, 1), lp[torch.arange(6), torch.tensor([3, 2, 2, 3, 2, 3])])
    assert torch.allclose(model.task_log_prob(x, 0), torch.logsumexp(lp[:, :2], 1) - np.log(2))
    with pytest.raises(ValueError, match=r"classes \[1\] have no component in task 0"):
        model.log_prob(x, torch.ones(6, dtype=torch.int64), 0)
    with pytest.raises(ValueError, match="outside 0 ... 2"):
        model.add_components(0, [3])


def test_samples_follow_their_component(seed):
    """f(sample) equals the drawn latent code, and latent codes have the component's mean and unit variance."""
    model = HybridFlow(3, 2, hidden=8, seed=0, dtype=torch.float64)
    _randomise(model.flow, 2)
    model.add_components(0, [0, 1])
    comp = torch.tensor([1] * 4000)
    x, z = model.sample(comp, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model.flow(x)[0], z, atol=1e-9)
    # 4000 draws: the sample mean is within 5 standard errors (5/sqrt(4000) = 0.08) of mu_1
    assert torch.allclose(z.mean(0), model.means[1], atol=0.08)
    assert torch.allclose(z.var(0), torch.ones(3, dtype=torch.float64), atol=0.1)  # sd of the variance ~ 0.022


def test_detector_flags_a_shift_and_not_stationary_noise():
    rng = np.random.default_rng(0)
    det = TypicalityDetector(window=20, threshold=4.0, warmup=3, min_history=10)
    before = rng.normal(-1.0, 0.05, 200)
    after = rng.normal(-1.5, 0.05, 50)
    flags = [det.update(s) for s in np.r_[before, after]]
    # Gaussian scores: P(|a| > 4) ~ 6e-5 per batch (a bit more with a 20-sample spread), so 200 in-task
    # batches should give no false alarm; the shift is 10 standard deviations
    assert np.flatnonzero(flags).tolist()[0] == 200
    assert sum(flags[:200]) == 0
    assert np.isnan(det.anomaly[0]) and np.isfinite(det.anomaly[50])
    one_sided = TypicalityDetector(window=20, threshold=4.0, warmup=0, two_sided=False)
    up = [one_sided.update(s) for s in np.r_[before[:50], before[:10] + 1.0]]
    assert not any(up)  # a rise in likelihood is not flagged by the one-sided test
    assert det.update(None) is False and np.isnan(det.scores[-1])
    with pytest.raises(ValueError, match="score must be finite"):
        det.update(float("nan"))
    with pytest.raises(ValueError, match="window"):
        TypicalityDetector(window=1)


def test_detection_summary_counts():
    task = [0] * 5 + [1] * 5 + [2] * 5
    flags = np.zeros(15, bool)
    flags[[2, 6, 7, 14]] = True
    s = detection_summary(flags, task, max_delay=3)
    assert s["delay"].tolist()[0] == 1.0 and np.isnan(s["delay"][1])  # boundary 10 flagged at 14 > 10 + 3
    assert s["false_alarms"] == 3 and s["detected"] == 0.5
    assert s["false_alarm_rate"] == pytest.approx(3 / 14)
    with pytest.raises(ValueError, match="non-decreasing"):
        detection_summary([0, 0, 0], [1, 0, 0])


def test_run_hcl_output_and_determinism(tiny_tasks):
    kw = dict(epochs=2, n_couplings=2, hidden=16, progress=False, seed=4)
    a = run_hcl(tiny_tasks, "gr", detector=TypicalityDetector(window=5, min_history=3, warmup=1), **kw)
    b = run_hcl(tiny_tasks, "gr", detector=TypicalityDetector(window=5, min_history=3, warmup=1), **kw)
    assert a.accuracy.dims == ("after_task", "on_task") and a.accuracy.shape == (2, 2)
    np.testing.assert_array_equal(a.accuracy.values, b.accuracy.values)
    assert np.isnan(a.nll.values[0, 1]) and np.isfinite(a.nll.values[1]).all()  # class unseen after task 0
    assert a.accuracy.values[0, 1] == 0  # class-incremental: unseen classes are never predicted
    assert a.sizes["batch"] == a.true_task.size and a.detection_delay.shape == (1,)
    assert a.attrs["method"] == "hcl-gr" and a.attrs["components"] == 4
    # the first batches have no component yet, so no statistic
    assert np.isnan(a.score.values[0]) and np.isfinite(a.score.values[-1])


def test_run_hcl_detected_boundaries(tiny_tasks):
    det = TypicalityDetector(window=5, min_history=3, warmup=1, threshold=3.0)
    res = run_hcl(tiny_tasks, "fr", epochs=2, n_couplings=2, hidden=16, progress=False, boundaries="detected",
                  detector=det)
    # every flag starts a new model task: components are (task, class) pairs
    assert res.attrs["model_tasks"] == 1 + int(res.flagged.sum())


def test_run_hcl_errors(tiny_tasks):
    kw = dict(epochs=1, n_couplings=2, hidden=8, progress=False)
    with pytest.raises(ValueError, match="mode must be one of"):
        run_hcl(tiny_tasks, "ewc", **kw)
    with pytest.raises(ValueError, match="needs a detector"):
        run_hcl(tiny_tasks, boundaries="detected", **kw)
    model = HybridFlow(6, 4, hidden=8)
    model.add_components(0, [1])
    with pytest.raises(ValueError, match="already has 1 components"):
        run_hcl(tiny_tasks, model=model, **kw)
    with pytest.raises(ValueError, match="dim=5"):
        run_hcl(tiny_tasks, model=HybridFlow(5, 4), **kw)
    bad = [t for t in tiny_tasks]
    x = bad[0].x_train.clone()
    x[3, 0] = float("nan")
    bad[0] = type(bad[0])(x, bad[0].y_train, bad[0].x_test, bad[0].y_test, bad[0].n_classes, "nan-task")
    with pytest.raises(ValueError, match="NaN or infinite"):
        run_hcl(bad, **kw)


def test_detrended_detector_predicts_the_line():
    """A steady upward drift hides a drop from the plain window test; the detrended test catches it."""
    rng = np.random.default_rng(1)
    ramp = 0.02 * np.arange(40) + rng.normal(0, 0.005, 40)
    drop = ramp[-1] + 0.02 - 0.1
    # threshold 6: the detrended statistic is t-distributed with 10 dof, P(|t| > 6) ~ 1e-4 per batch
    plain = TypicalityDetector(window=12, threshold=6.0, warmup=0, min_history=10, detrend=False)
    trend = TypicalityDetector(window=12, threshold=6.0, warmup=0, min_history=10, detrend=True)
    assert not any([plain.update(s) for s in ramp]) and not any([trend.update(s) for s in ramp])
    # independent reference: numpy's least-squares line and the textbook prediction standard error
    w = np.asarray(trend._recent)
    t = np.arange(12.0)
    coef, res, *_ = np.polyfit(t, w, 1, full=True)
    se = np.sqrt(res[0] / 10 * (1 + 1 / 12 + (12 - t.mean()) ** 2 / ((t - t.mean()) ** 2).sum()))
    assert trend.anomaly_score(drop) == pytest.approx((drop - np.polyval(coef, 12.0)) / se, rel=1e-9)
    assert abs(plain.anomaly_score(drop)) < 6 < abs(trend.anomaly_score(drop))  # ~0.7 vs ~-17
    assert trend.update(drop) and not plain.update(drop)


def test_run_hcl_with_a_given_float64_model(tiny_tasks):
    model = HybridFlow(6, 4, n_couplings=2, hidden=8, seed=1, dtype=torch.float64)
    res = run_hcl(tiny_tasks, "fr", model=model, epochs=1, progress=False)
    assert model.n_components == 0  # the model passed in is copied, not trained
    assert res.accuracy.shape == (2, 2) and np.isfinite(res.nll.values[1]).all()


@pytest.fixture(scope="module")
def digit_tasks():
    from neurolatent.methods.common import load_digits

    return split_tasks(load_digits(seed=0), 2)[:2]


def test_recurring_task_is_recognised(digit_tasks):
    """Stream A, B, A of split digits: with recognition the return of A reuses A's components.

    Seeded run (flow seed 0; seeds 0 and 2 recognise A, seed 1 recognises it but then raises one
    false alarm inside it, measured by hand). Both runs flag exactly the two true boundaries.
    """
    a, b = digit_tasks
    kw = dict(epochs=6, n_couplings=4, hidden=64, progress=False, boundaries="detected", seed=0)
    runs = {rec: run_hcl([a, b, a], "fr", recognise=rec, detector=TypicalityDetector(), **kw) for rec in (False, True)}
    for r in runs.values():
        assert np.flatnonzero(r.flagged.values).tolist() == [30, 60]  # 5 batches x 6 epochs per task
    # without recognition the return of A opens a third model task with new components for classes 0 and 1
    assert runs[False].attrs["model_tasks"] == 3 and runs[False].attrs["components"] == 6
    assert runs[True].attrs["model_tasks"] == 2 and runs[True].attrs["components"] == 4
    assert float(runs[True].average_accuracy) > 0.85  # measured 0.955 (0.947 without recognition)
