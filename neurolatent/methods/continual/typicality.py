r"""Task-change detection by a typicality test on the model's statistics (Kirichenko et al. 2021).

HCL learns without being told where tasks begin. For each incoming batch :math:`B_n` it computes a
statistic of the current model -- here the batch-mean log-likelihood per dimension under the
current task's components, :math:`s_n = \frac1{|B_n| D}\sum_{x \in B_n} \log p_\theta(x \mid t)`
-- and asks whether :math:`s_n` is *typical* of the recent batches of the same task (the
typicality test of Nalisnick et al. 2019 applied to a model statistic, as in HCL). By default
:math:`\hat m` and :math:`\hat\sigma` are the mean and standard deviation of :math:`s` over the last
:math:`W` in-task batches. The model keeps learning while the statistic is collected, so :math:`s`
drifts upwards within a task; with ``detrend=True`` :math:`\hat m` is instead the one-step-ahead
prediction of a straight line fitted to the window and :math:`\hat\sigma` its prediction standard
error, :math:`\hat\sigma = \sigma_{\text{res}}\sqrt{1 + 1/W + (n - \bar n)^2 / \sum_i (n_i - \bar n)^2}`.
The anomaly score is

.. math::

    a_n = \frac{s_n - \hat m}{\max(\hat\sigma, \sigma_{\min})},

and a task change is flagged when :math:`\lvert a_n\rvert > k` (or :math:`a_n < -k` for the
one-sided test). After a flag the statistics are reset: the first ``warmup`` batches of the new
regime (when the model is adapting fast) are skipped, and at least ``min_history`` in-task scores
are collected before testing again. Data whose likelihood suddenly *rises* are flagged by the
two-sided test too, which is why the test is on typicality rather than on low likelihood.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Sequence

import numpy as np

__all__ = ["TypicalityDetector", "detection_summary"]


class TypicalityDetector:
    r"""Flags a task change when a batch statistic leaves the range of the recent in-task batches.

    Parameters
    ----------
    window : int
        :math:`W`, number of recent in-task scores whose mean and spread set the threshold.
    threshold : float
        :math:`k`, in standard deviations of the in-task scores.
    warmup : int
        Scores ignored after a reset (the start of a task, when the model changes fastest).
    min_history : int
        In-task scores needed before the test is applied.
    two_sided : bool
        ``True``: flag :math:`|a_n| > k`; ``False``: flag only :math:`a_n < -k` (unusually *low*
        likelihood).
    min_std : float
        :math:`\sigma_{\min}`, a floor on the spread (scores of a converged model can be almost equal).
    detrend : bool
        Predict the next in-task score from a line through the window (``True``) instead of using
        the window's mean and standard deviation (``False``).

    Notes
    -----
    The defaults (``window=12``, ``threshold=4``, no detrending) were chosen once on the score
    traces of split digits with flow seed 100 (:func:`~neurolatent.methods.continual.run_hcl`'s
    defaults), from :math:`W \in \{8, 12, 20\}`, :math:`k \in \{4, 5\}`, with and without
    detrending: they detected all 4 boundaries at delay 0 with no false alarm for fine-tuning,
    HCL-FR and HCL-GR. A 20-batch window missed the first boundary (the steep rise of the first
    task inflates :math:`\hat\sigma`), and detrending raised 1-5 false alarms per stream (its
    small prediction error makes the last, smaller batch of an epoch look atypical).

    Attributes
    ----------
    scores, anomaly, flags : list
        Everything :meth:`update` saw and returned, in order (``anomaly`` is ``nan`` where no test ran).

    Examples
    --------
    >>> det = TypicalityDetector(window=10, threshold=4.0, warmup=0, min_history=5)
    >>> rng = np.random.default_rng(0)
    >>> flags = [det.update(s) for s in np.r_[rng.normal(0, 0.1, 30), rng.normal(-2, 0.1, 5)]]
    >>> flags.index(True)
    30
    """

    def __init__(self, window: int = 12, threshold: float = 4.0, *, warmup: int = 5, min_history: int = 5,
                 two_sided: bool = True, min_std: float = 1e-3, detrend: bool = False):
        if int(window) < 3:
            raise ValueError(f"window must hold at least 3 scores to estimate a trend and a spread, got {window}")
        if not threshold > 0:
            raise ValueError(f"threshold must be a positive number of standard deviations, got {threshold}")
        if int(warmup) < 0 or int(min_history) < 3 or int(min_history) > int(window):
            raise ValueError(f"need warmup >= 0 and 3 <= min_history <= window, got warmup={warmup}, "
                             f"min_history={min_history}, window={window}")
        if not min_std > 0:
            raise ValueError(f"min_std must be positive, got {min_std}")
        self.window, self.threshold = int(window), float(threshold)
        self.warmup, self.min_history = int(warmup), int(min_history)
        self.two_sided, self.min_std, self.detrend = bool(two_sided), float(min_std), bool(detrend)
        self.scores: list[float] = []
        self.anomaly: list[float] = []
        self.flags: list[bool] = []
        self.reset()

    def reset(self) -> None:
        """Start a new regime: forget the in-task statistics (the record of past scores is kept)."""
        self._recent: deque[float] = deque(maxlen=self.window)
        self._skipped = 0

    def anomaly_score(self, score: float) -> float:
        r"""The standardised deviation :math:`a` of ``score`` from the recent in-task scores (``nan`` if untested)."""
        if len(self._recent) < self.min_history:
            return math.nan
        recent = np.asarray(self._recent, dtype=float)
        if not self.detrend:
            return float((score - recent.mean()) / max(recent.std(ddof=1), self.min_std))
        n = len(recent)
        t = np.arange(n, dtype=float) - (n - 1) / 2  # centred batch index; the new score sits at t = (n + 1) / 2
        sxx = float(t @ t)
        slope = float(t @ (recent - recent.mean())) / sxx
        resid = recent - recent.mean() - slope * t
        t_new = (n + 1) / 2
        pred = recent.mean() + slope * t_new
        se = np.sqrt(float(resid @ resid) / (n - 2) * (1 + 1 / n + t_new ** 2 / sxx))
        return float((score - pred) / max(se, self.min_std))

    def update(self, score: float | None) -> bool:
        """Take the statistic of the next batch; return ``True`` when it signals a task change.

        ``None`` (no statistic available, e.g. before the model has any component) is recorded as
        ``nan`` and never flags.
        """
        if score is None or not math.isfinite(float(score)):
            if score is not None:
                raise ValueError(f"TypicalityDetector.update: score must be finite, got {score}; the model's "
                                 "likelihood diverged (lower the learning rate or add input noise)")
            self.scores.append(math.nan)
            self.anomaly.append(math.nan)
            self.flags.append(False)
            return False
        score = float(score)
        self.scores.append(score)
        if self._skipped < self.warmup:
            self._skipped += 1
            self.anomaly.append(math.nan)
            self.flags.append(False)
            return False
        a = self.anomaly_score(score)
        flag = math.isfinite(a) and (abs(a) > self.threshold if self.two_sided else a < -self.threshold)
        self.anomaly.append(a)
        self.flags.append(bool(flag))
        if flag:
            self.reset()
        else:
            self._recent.append(score)
        return bool(flag)

    def config(self) -> dict:
        """JSON-safe settings."""
        return {"window": self.window, "threshold": self.threshold, "warmup": self.warmup,
                "min_history": self.min_history, "two_sided": int(self.two_sided), "min_std": self.min_std,
                "detrend": int(self.detrend)}

    def __repr__(self) -> str:
        return "TypicalityDetector(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()) + ")"


def detection_summary(flags: Sequence[bool], task_of_batch: Sequence[int], *, max_delay: int = 10) -> dict:
    """Detection delays at each true task boundary and false alarms inside tasks.

    Parameters
    ----------
    flags : sequence of bool, length ``n``
        The detector's output for each batch of the stream.
    task_of_batch : sequence of int, length ``n``
        The true task of each batch (non-decreasing; a boundary is where it changes).
    max_delay : int
        A flag at most ``max_delay`` batches after a boundary (and before the next one) detects it;
        the first such flag counts, every other flag is a false alarm.

    Returns
    -------
    dict
        ``delay`` (float array, one per boundary; batches from the first batch of the new task to
        the flag, ``nan`` when missed), ``detected`` (fraction of boundaries detected),
        ``false_alarms`` (count), ``false_alarm_rate`` (false alarms per batch that is not a
        detection).

    Examples
    --------
    >>> s = detection_summary([0, 0, 1, 0, 0, 1, 0, 0], [0, 0, 0, 1, 1, 1, 2, 2], max_delay=3)
    >>> s["delay"].tolist(), s["false_alarms"]
    ([2.0, nan], 1)
    """
    flags = np.asarray(flags, dtype=bool)
    task = np.asarray(task_of_batch)
    if flags.shape != task.shape or flags.ndim != 1:
        raise ValueError(f"flags and task_of_batch must be 1-D of the same length, got {flags.shape} and {task.shape}")
    if np.any(np.diff(task) < 0):
        raise ValueError("task_of_batch must be non-decreasing (the true task of each batch, in stream order)")
    starts = np.flatnonzero(np.diff(task) != 0) + 1
    ends = np.r_[starts[1:], len(task)]
    delays = np.full(len(starts), np.nan)
    used = np.zeros_like(flags)
    for i, (b, e) in enumerate(zip(starts, ends)):
        hits = np.flatnonzero(flags[b:min(e, b + int(max_delay) + 1)])
        if hits.size:
            delays[i] = float(hits[0])
            used[b + hits[0]] = True
    false = int((flags & ~used).sum())
    n_other = len(flags) - int(used.sum())
    return {"delay": delays, "detected": float(np.isfinite(delays).mean()) if len(starts) else math.nan,
            "false_alarms": false, "false_alarm_rate": false / n_other if n_other else math.nan}
