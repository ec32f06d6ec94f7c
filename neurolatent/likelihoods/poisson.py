"""Poisson observation model with an exponential link (spike or event counts per bin)."""
from __future__ import annotations

import numpy as np
import torch

from .base import Likelihood

__all__ = ["PoissonLikelihood", "check_counts"]


def check_counts(Y, name: str, likelihood: str) -> None:
    """Raise a clear ``ValueError`` unless ``Y`` holds finite non-negative integers."""
    arr = np.asarray(Y.detach().cpu() if torch.is_tensor(Y) else Y, dtype=float)
    if np.any(arr < 0):
        raise ValueError(
            f"{name} has {int((arr < 0).sum())} negative value(s) (min {arr.min():g}) but the "
            f"{likelihood} likelihood models counts >= 0: pass spike/event counts, or use "
            "likelihood='gaussian' for dF/F or z-scored traces"
        )
    if np.any(arr != np.round(arr)):
        raise ValueError(
            f"{name} has non-integer values (e.g. {arr[arr != np.round(arr)].flat[0]:g}) but the "
            f"{likelihood} likelihood models integer counts: bin spikes into counts, or use "
            "likelihood='gaussian'"
        )


class PoissonLikelihood(Likelihood):
    r"""Poisson counts with rate :math:`\lambda = e^{f}`.

    .. math::
        \mathbb E_{f\sim\mathcal N(\mu,v)}[\log p(y\mid f)] = y\mu - e^{\mu + v/2} - \log y!

    (closed form, because :math:`\mathbb E[e^f] = e^{\mu+v/2}`); the predictive density
    :math:`\log\int \mathrm{Pois}(y; e^f)\mathcal N(f;\mu,v)df` uses Gauss-Hermite quadrature.

    Examples
    --------
    >>> import torch
    >>> lik = PoissonLikelihood(2)
    >>> y = torch.tensor([[0., 3.]], dtype=torch.float64)
    >>> lik.expected_log_prob(y, torch.zeros_like(y), torch.zeros_like(y)).shape
    torch.Size([1, 2])
    """

    name = "poisson"
    is_count = True

    def validate(self, Y, name: str = "Y") -> None:
        super().validate(Y, name)
        check_counts(Y, name, self.name)

    def log_prob(self, y, f, neurons=None):
        return y * f - torch.exp(f) - torch.lgamma(y + 1.0)

    def expected_log_prob(self, y, mean, var, neurons=None):
        return y * mean - torch.exp(mean + 0.5 * var) - torch.lgamma(y + 1.0)

    def predictive_mean(self, mean, var, neurons=None):
        return torch.exp(mean + 0.5 * var)

    def predictive_std(self, mean, var, neurons=None):
        # std of the log-normal rate e^f
        return torch.sqrt(torch.expm1(var.clamp_min(0.0))) * torch.exp(mean + 0.5 * var)
