"""Mechanics of the encode-process-decode model, its losses and metrics (tiny sizes, quick)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from neurolatent.methods.algorithmic import ALGORITHMS, collate, evaluate_model, fit, get_algorithm, sample_batch
from neurolatent.methods.algorithmic.losses import feature_loss, feature_score, loss, scores
from neurolatent.methods.algorithmic.model import EncodeProcessDecode
from neurolatent.methods.algorithmic.specs import Feature


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_runs_forward_and_backward(name):
    torch.manual_seed(0)
    batch = sample_batch(name, 3, 6, seed=1)
    model = EncodeProcessDecode(batch.spec, hidden=8)
    pred = model(batch, teacher_forcing=0.5)
    T = batch.max_length
    for f in batch.spec.stage("hint"):
        logits = pred["hints"][f.name]
        if T > 1:
            extra = {"pointer": (6,), "mask_one": (6,), "categorical": (f.n_classes,)}.get(f.type, ())
            assert logits.shape == batch.hints[f.name][:, 1:].shape + extra
    total, parts = loss(pred, batch)
    assert torch.isfinite(total) and parts["output"] > 0
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert 0.0 <= scores(pred, batch)["score"] <= 1.0 or batch.spec.stage("output")[0].type == "scalar"


def test_finished_trajectories_keep_their_state():
    # a graph's prediction must not depend on the longer trajectories it is batched with
    algo = get_algorithm("insertion_sort")
    import numpy as np
    rng = np.random.default_rng(0)
    short, long_ = algo.trajectory(rng, 3), algo.trajectory(rng, 3)
    long_.hints = {k: np.concatenate([v, v[-1:].repeat(4, 0)]) for k, v in long_.hints.items()}  # length 7
    torch.manual_seed(0)
    model = EncodeProcessDecode(algo.spec, hidden=8).eval()
    alone = model(collate(algo, [short]))["outputs"]["pred"]
    mixed = model(collate(algo, [short, long_]))["outputs"]["pred"][:1]
    torch.testing.assert_close(alone, mixed, rtol=1e-5, atol=1e-6)  # float32 re-association only


def test_teacher_forcing_one_ignores_the_hint_predictions():
    batch = sample_batch("bfs", 4, 7, seed=2)
    torch.manual_seed(0)
    model = EncodeProcessDecode(batch.spec, hidden=8)
    base_tf = model(batch, teacher_forcing=1.0)["outputs"]["pi"]
    base_free = model(batch, teacher_forcing=0.0)["outputs"]["pi"]
    with torch.no_grad():
        for p in model.decoders["reach_h"].parameters():
            p.add_(1.0)
    torch.testing.assert_close(model(batch, teacher_forcing=1.0)["outputs"]["pi"], base_tf)
    assert not torch.allclose(model(batch, teacher_forcing=0.0)["outputs"]["pi"], base_free)


def test_no_hints_model_has_no_hint_heads_and_float64_works():
    batch = sample_batch("bubble_sort", 2, 5, seed=0, dtype=torch.float64)
    model = EncodeProcessDecode(batch.spec, hidden=8, use_hints=False, dtype=torch.float64)
    assert set(model.decoders) == {"pred"} and "pred_h" not in model.encoders
    pred = model(batch)
    assert "hints" not in pred and pred["outputs"]["pred"].dtype == torch.float64


def test_model_refuses_another_algorithms_batch():
    model = EncodeProcessDecode(get_algorithm("bfs").spec, hidden=4)
    with pytest.raises(ValueError, match="'dfs'"):
        model(sample_batch("dfs", 1, 4))
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(sample_batch("bfs", 1, 4), teacher_forcing=2.0)


def test_losses_match_torch_references():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 5, generator=gen)
    target = torch.randint(0, 5, (3, 5), generator=gen)
    ref = F.cross_entropy(logits.reshape(15, 5), target.reshape(15))
    torch.testing.assert_close(feature_loss(Feature("p", "output", "node", "pointer"), logits, target), ref)
    cat = Feature("c", "output", "edge", "categorical", 3)
    lg, tg = torch.randn(2, 4, 4, 3, generator=gen), torch.randint(-1, 3, (2, 4, 4), generator=gen)
    ref = F.cross_entropy(lg.reshape(-1, 3), tg.reshape(-1), ignore_index=-1)
    torch.testing.assert_close(feature_loss(cat, lg, tg), ref)
    m, y = torch.randn(4, 6, generator=gen), (torch.rand(4, 6, generator=gen) > 0.5).float()
    torch.testing.assert_close(feature_loss(Feature("m", "output", "node", "mask"), m, y),
                               F.binary_cross_entropy_with_logits(m, y))


def test_mask_micro_f1_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is the F1 reference")
    gen = torch.Generator().manual_seed(1)
    logits, y = torch.randn(5, 9, generator=gen), (torch.rand(5, 9, generator=gen) > 0.6).float()
    ref = metrics.f1_score(y.flatten().numpy(), (logits > 0).flatten().numpy())
    assert feature_score(Feature("m", "output", "node", "mask"), logits, y) == pytest.approx(ref, abs=1e-12)


def test_public_api_is_documented():
    import inspect

    import neurolatent.methods.algorithmic as family

    assert family.__doc__ and "CLRS" in family.__doc__
    for name in family.__all__:
        obj = getattr(family, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_fit_history_callback_stop_and_evaluate_on_a_batch():
    algo = get_algorithm("binary_search")
    torch.manual_seed(0)
    model = EncodeProcessDecode(algo.spec, hidden=8)
    seen = []
    hist = fit(model, algo, n_nodes=6, steps=5, batch_size=4, n_train=None, seed=0,
               callback=lambda info: seen.append(info["step"]) or info["step"] == 1)
    assert hist["step"] == [0, 1] and seen == [0, 1] and len(hist["hint_loss"]) == 2
    assert all(h > 0 for h in hist["hint_loss"])
    batch = sample_batch(algo, 5, 6, seed=3)
    res = evaluate_model(model, batch)
    assert set(res) == {"return", "score"} and 0.0 <= res["score"] <= 1.0
    with pytest.raises(ValueError, match="another spec"):
        fit(model, "bfs", steps=1)
