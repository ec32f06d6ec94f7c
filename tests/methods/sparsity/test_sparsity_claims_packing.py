"""Powerpropagation in continual learning: PackNet with a Powerprop-trained mask per task (Schwarz et al.
2021, section 4.3) at CPU scale (slow, about 45 s; recipe in conftest.py ``packing_runs``).

Five permuted-digit tasks, 20 % of the weights per task, seeds 0 / 1 / 2:

=====  ==============================  ==================================================
alpha  mean final accuracy             task 0: accuracy lost in its cut to 20 %
=====  ==============================  ==================================================
1      0.949 / 0.927 / 0.951 (0.942)   0.038 / 0.129 / 0.081
2      0.959 / 0.959 / 0.957 (0.958)   0.004 / 0.014 / 0.013
3      0.763 / 0.793 / 0.762 (0.773)   0 / 0 / 0 (but tasks 3-4 reach only 0.69-0.82, 0.32-0.36)
=====  ==============================  ==================================================

With alpha = 3 the freed weights restart from their initialisation, where the gradient factor
alpha |v|^(alpha-1) is tiny, so later tasks learn too little in 15 epochs: the cut is free, plasticity is not.
Earlier tasks never change (forgetting exactly 0; the quick tests check bit-identity).
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _by_alpha(runs, fn):
    return {a: np.array([fn(r) for r in runs if r["alpha"] == a]) for a in sorted({r["alpha"] for r in runs})}


def test_powerprop_makes_the_cut_to_a_task_share_cheaper(packing_runs):
    loss = _by_alpha(packing_runs, lambda r: r["dense"][0] - r["final"][0])
    # measured task-0 loss in the cut, seed means: alpha 1 0.083, 2 0.010, 3 0.000; decreasing on every seed
    assert np.all(loss[2.0] < loss[1.0]) and np.all(loss[3.0] <= loss[2.0])
    assert loss[1.0].mean() > 0.03 and loss[2.0].mean() < 0.03


def test_powerprop_alpha_2_packs_more_accuracy_than_plain_packnet(packing_runs):
    mean = _by_alpha(packing_runs, lambda r: r["mean"])
    # measured mean final accuracy over the 5 tasks: alpha 2 beats alpha 1 on every seed by 0.010 / 0.032 / 0.006
    assert np.all(mean[2.0] > mean[1.0])


@pytest.mark.xfail(strict=False, reason="alpha = 3 loses plasticity for later tasks at this recipe "
                                        "(mean final accuracy 0.773 vs 0.958 for alpha = 2; tasks 3 and 4 at 0.32-0.82)")
def test_higher_alpha_packs_more(packing_runs):
    mean = _by_alpha(packing_runs, lambda r: r["mean"])
    assert mean[3.0].mean() >= mean[2.0].mean()
