"""Claims of Kao et al. (2021, NeurIPS) on the cognitive-task stream, seeded on CPU (slow).

Stream: the five tasks of :data:`COGNITIVE_TASKS` in order (delaygo, delayanti, dms, ctxdm1, ctxdm2),
384 training and 256 test trials each, 20 steps; ``RNNClassifier(10, 64, 8, seed=s)``; Adam lr 3e-3,
10 epochs per task, batch 64; seeds 0, 1, 2. Strengths picked beforehand on seed 100 from small
grids: EWC 1e3, KFAC 10, NCL 10 with preconditioned-SGD lr 0.1 (the class defaults for KFAC and NCL).
Activity-subspace overlap: top-5 principal directions of each task's hidden states on its test
trials, right after learning it and after the last task (:func:`subspace_overlap`), averaged over
tasks 0-3. Measured values (torch 2.13 CPU) beside each assertion.

Not asserted (kept out to stay within the slow-test budget): the OWM-style projection
(``"owm"``, default strength) reaches .401 .377 .395 average final accuracy (forgetting .167 .197
.176) on the same seeds -- below EWC, about fine-tuning on seed 0.
"""
from __future__ import annotations

import numpy as np
import pytest

from neurolatent.methods.continual import RNNClassifier, activity_subspace, cognitive_tasks, run, subspace_overlap

SEEDS = (0, 1, 2)
METHODS = {"finetune": {}, "ewc": {"strength": 1e3}, "kfac": {}, "ncl": {}}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results():
    out = {}
    for seed in SEEDS:
        tasks = cognitive_tasks(n_train=384, n_test=256, seed=seed)
        for method, kw in METHODS.items():
            subs: dict = {}

            def keep(state, tasks=tasks, subs=subs):
                k = state["task"]
                subs[k] = activity_subspace(state["model"], tasks[k].x_test, dim=5)
                if k == len(tasks) - 1:
                    subs["final"] = [activity_subspace(state["model"], t.x_test, dim=5) for t in tasks]

            res = run(RNNClassifier(10, 64, 8, seed=seed), tasks, method, epochs=10, lr=3e-3, seed=seed,
                      progress=False, callback=keep, **kw)
            overlap = np.mean([subspace_overlap(subs[k], subs["final"][k]) for k in range(len(tasks) - 1)])
            out[method, seed] = (float(res.average_accuracy), float(res.average_forgetting), float(overlap))
    return out


def test_ewc_beats_finetuning_on_the_cognitive_stream(results):
    # measured (seeds 0, 1, 2): average final accuracy finetune .443 .373 .302 | EWC .543 .474 .523
    #                           average forgetting       finetune .316 .370 .492 | EWC .043 .041 .027
    for seed in SEEDS:
        acc_ft, forg_ft, _ = results["finetune", seed]
        acc_ewc, forg_ewc, _ = results["ewc", seed]
        assert acc_ewc - acc_ft > 0.05  # smallest measured gap 0.100
        assert forg_ft - forg_ewc > 0.15  # smallest measured gap 0.27


@pytest.mark.xfail(strict=False, reason=(
    "NCL > EWC reproduces on 2 of 3 seeds only: average final accuracy NCL .605 .562 .438 vs EWC .543 .474 .523 "
    "(KFAC .518 .566 .562); forgetting NCL .010 .042 .199 vs EWC .043 .041 .027 -- on seed 2 the preconditioned "
    "steps forget task 0 (0.96 -> 0.56). Also: no method learns delayanti after delaygo at this scale "
    "(accuracy <= 0.15, chance 0.125)"))
def test_ncl_beats_ewc_on_the_cognitive_stream(results):
    for seed in SEEDS:
        assert results["ncl", seed][0] > results["ewc", seed][0]
        assert results["ncl", seed][1] < results["ewc", seed][1]


def test_protected_tasks_keep_their_activity_subspace(results):
    # measured overlap (seeds 0, 1, 2): finetune .464 .438 .514 | EWC .943 .953 .909 | KFAC .929 .877 .931
    # | NCL .841 .769 .781 (NCL's overlap is *below* EWC's here; Kao et al. report NCL preserving the dynamics)
    for seed in SEEDS:
        assert results["finetune", seed][2] < 0.6
        for method in ("ewc", "kfac", "ncl"):
            assert results[method, seed][2] > 0.7
            assert results[method, seed][2] - results["finetune", seed][2] > 0.2
