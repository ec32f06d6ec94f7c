"""Gaussian observation model with one noise variance per neuron."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import Likelihood

__all__ = ["GaussianLikelihood"]


def _inv_softplus(x: torch.Tensor) -> torch.Tensor:
    return x + torch.log(-torch.expm1(-x))


class GaussianLikelihood(Likelihood):
    r"""Gaussian noise: :math:`y_{tn} = f_{tn} + \epsilon,\ \epsilon \sim \mathcal N(0, \sigma_n^2)`.

    Under :math:`f \sim \mathcal N(\mu, v)` everything is closed form:

    .. math::
        \mathbb E_f[\log p(y\mid f)] = -\tfrac12\log(2\pi\sigma^2) - \frac{(y-\mu)^2 + v}{2\sigma^2},
        \qquad p(y) = \mathcal N(y;\mu, v + \sigma^2).

    Parameters
    ----------
    n_neurons : int
    noise : float
        Starting noise standard deviation (overwritten by :meth:`init_from_data`).
    device, dtype

    Examples
    --------
    >>> import torch
    >>> lik = GaussianLikelihood(3)
    >>> y = torch.zeros(5, 3, dtype=torch.float64)
    >>> lik.expected_log_prob(y, y, y + 0.1).shape
    torch.Size([5, 3])
    """

    name = "gaussian"

    def __init__(self, n_neurons: int, *, noise: float = 0.5, device=None, dtype=None):
        super().__init__(n_neurons, device=device, dtype=dtype)
        start = torch.full((self.n_neurons,), float(noise) ** 2, **self._factory)
        self.raw_noise = torch.nn.Parameter(_inv_softplus(start))

    @property
    def noise_var(self) -> torch.Tensor:
        """Per-neuron noise variance :math:`\\sigma_n^2`, shape ``(n_neurons,)``."""
        return F.softplus(self.raw_noise) + 1e-6

    def init_from_data(self, Y: torch.Tensor) -> None:
        # start the noise at half the per-neuron variance: the tuning curves explain the rest
        with torch.no_grad():
            v = Y.var(0).clamp_min(1e-4) * 0.5
            self.raw_noise.copy_(_inv_softplus(v.to(self.raw_noise)))

    def log_prob(self, y, f, neurons=None):
        s2 = self._sel(self.noise_var, neurons)
        return -0.5 * (math.log(2 * math.pi) + torch.log(s2) + (y - f) ** 2 / s2)

    def expected_log_prob(self, y, mean, var, neurons=None):
        s2 = self._sel(self.noise_var, neurons)
        return -0.5 * (math.log(2 * math.pi) + torch.log(s2) + ((y - mean) ** 2 + var) / s2)

    def predictive_log_prob(self, y, mean, var, neurons=None, n_points: int = 20):
        tot = var + self._sel(self.noise_var, neurons)
        return -0.5 * (math.log(2 * math.pi) + torch.log(tot) + (y - mean) ** 2 / tot)

    def predictive_mean(self, mean, var, neurons=None):
        return mean + 0.0 * var

    def predictive_std(self, mean, var, neurons=None):
        return torch.sqrt(var.clamp_min(0.0)) + 0.0 * mean
