"""Negative-binomial observation model (over-dispersed counts) with a log-odds link."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Likelihood, gauss_hermite_expectation
from .poisson import check_counts

__all__ = ["NegativeBinomialLikelihood"]


class NegativeBinomialLikelihood(Likelihood):
    r"""Negative binomial with per-neuron total count :math:`r_n` and logits :math:`f`.

    .. math::
        \log p(y\mid f) = \log\Gamma(y+r) - \log\Gamma(r) - \log y!
        + y \log\sigma(f) + r \log\sigma(-f),\qquad \mathbb E[y\mid f] = r e^{f},

    the parametrisation of :class:`torch.distributions.NegativeBinomial`. The expectation
    under :math:`f\sim\mathcal N(\mu,v)` uses Gauss-Hermite quadrature (``n_points`` nodes).

    Parameters
    ----------
    n_neurons : int
    total_count : float
        Starting :math:`r` (large r approaches Poisson).
    n_points : int
        Gauss-Hermite nodes.

    Examples
    --------
    >>> import torch
    >>> lik = NegativeBinomialLikelihood(2)
    >>> y = torch.tensor([[0., 3.]], dtype=torch.float64)
    >>> lik.expected_log_prob(y, torch.zeros_like(y), torch.ones_like(y)).shape
    torch.Size([1, 2])
    """

    name = "negbinom"
    is_count = True

    def __init__(self, n_neurons: int, *, total_count: float = 5.0, n_points: int = 20, device=None, dtype=None):
        super().__init__(n_neurons, device=device, dtype=dtype)
        start = torch.full((self.n_neurons,), float(total_count), **self._factory)
        self.raw_total_count = torch.nn.Parameter(torch.log(torch.expm1(start)))
        self.n_points = int(n_points)

    @property
    def total_count(self) -> torch.Tensor:
        """Per-neuron :math:`r_n > 0`, shape ``(n_neurons,)``."""
        return F.softplus(self.raw_total_count) + 1e-4

    def validate(self, Y, name: str = "Y") -> None:
        super().validate(Y, name)
        check_counts(Y, name, self.name)

    def log_prob(self, y, f, neurons=None):
        r = self._sel(self.total_count, neurons)
        return (torch.lgamma(y + r) - torch.lgamma(r) - torch.lgamma(y + 1.0)
                + y * F.logsigmoid(f) + r * F.logsigmoid(-f))

    def expected_log_prob(self, y, mean, var, neurons=None):
        r = self._sel(self.total_count, neurons)
        const = torch.lgamma(y + r) - torch.lgamma(r) - torch.lgamma(y + 1.0)
        e = gauss_hermite_expectation(lambda f: y * F.logsigmoid(f) + r * F.logsigmoid(-f), mean, var, self.n_points)
        return const + e

    def predictive_mean(self, mean, var, neurons=None):
        return self._sel(self.total_count, neurons) * torch.exp(mean + 0.5 * var)

    def predictive_std(self, mean, var, neurons=None):
        r = self._sel(self.total_count, neurons)
        return r * torch.sqrt(torch.expm1(var.clamp_min(0.0))) * torch.exp(mean + 0.5 * var)
