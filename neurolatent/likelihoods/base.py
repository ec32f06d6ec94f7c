"""Base class of the observation models and the Gauss-Hermite helper they share.

A likelihood maps a latent function value :math:`f_{tn}` (one per time bin and neuron) to a
density over the observation :math:`y_{tn}`. The mGPLVM only ever needs three things from it,
all under a Gaussian belief :math:`f \\sim \\mathcal N(\\mu, v)`:

* ``expected_log_prob``: :math:`\\mathbb E_{f}[\\log p(y \\mid f)]` (the data term of the ELBO),
* ``predictive_log_prob``: :math:`\\log \\int p(y \\mid f)\\,\\mathcal N(f;\\mu,v)\\,df`
  (held-out scores),
* ``predictive_mean``: :math:`\\mathbb E[y]`.

Every method works elementwise with the neuron as the LAST axis, so per-neuron parameters
of shape ``(n_neurons,)`` broadcast; ``neurons=`` selects a subset of them.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["Likelihood", "gauss_hermite_expectation"]


def gauss_hermite_expectation(fn, mean: torch.Tensor, var: torch.Tensor, n_points: int = 20) -> torch.Tensor:
    r"""Gauss-Hermite estimate of :math:`\mathbb E_{f \sim \mathcal N(\mu, v)}[\mathrm{fn}(f)]`.

    .. math:: \mathbb E[g(f)] \approx \frac{1}{\sqrt\pi}\sum_{i=1}^{Q} w_i\, g(\mu + \sqrt{2v}\,x_i)

    with the physicists' Hermite nodes :math:`x_i` and weights :math:`w_i`
    (:func:`numpy.polynomial.hermite.hermgauss`); exact for polynomials of degree < 2Q.

    Parameters
    ----------
    fn : callable
        Elementwise function of a tensor of shape ``(Q, *shape)``.
    mean, var : torch.Tensor
        Broadcastable moments, shape ``shape``.
    n_points : int
        Number of nodes Q.

    Returns
    -------
    torch.Tensor
        Shape ``shape``.

    Examples
    --------
    >>> import torch
    >>> m, v = torch.tensor([0.3], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    >>> e = gauss_hermite_expectation(torch.exp, m, v)
    >>> bool(torch.allclose(e, torch.exp(m + v / 2)))
    True
    """
    x, w = np.polynomial.hermite.hermgauss(n_points)
    x = torch.as_tensor(x, dtype=mean.dtype, device=mean.device)
    w = torch.as_tensor(w / math.sqrt(math.pi), dtype=mean.dtype, device=mean.device)
    shape = torch.broadcast_shapes(mean.shape, var.shape)
    view = (n_points,) + (1,) * len(shape)
    f = mean + torch.sqrt(2.0 * var.clamp_min(0.0)) * x.view(view)
    return (w.view(view) * fn(f)).sum(0)


def _gauss_hermite_log_expectation(log_fn, mean, var, n_points: int = 20) -> torch.Tensor:
    """``log E[exp(log_fn(f))]`` by Gauss-Hermite, computed with logsumexp for stability."""
    x, w = np.polynomial.hermite.hermgauss(n_points)
    x = torch.as_tensor(x, dtype=mean.dtype, device=mean.device)
    logw = torch.as_tensor(np.log(w / math.sqrt(math.pi)), dtype=mean.dtype, device=mean.device)
    shape = torch.broadcast_shapes(mean.shape, var.shape)
    view = (n_points,) + (1,) * len(shape)
    f = mean + torch.sqrt(2.0 * var.clamp_min(0.0)) * x.view(view)
    return torch.logsumexp(logw.view(view) + log_fn(f), dim=0)


class Likelihood(torch.nn.Module):
    """Common interface of the per-neuron observation models (see the module docstring).

    Parameters
    ----------
    n_neurons : int
        Number of neurons; per-neuron parameters have this length.
    device, dtype
        Where the parameters live; ``dtype=None`` means float64.
    """

    name = "base"
    is_count = False

    def __init__(self, n_neurons: int, *, device=None, dtype=None):
        super().__init__()
        if int(n_neurons) < 1:
            raise ValueError(f"n_neurons must be a positive integer, got {n_neurons!r}")
        self.n_neurons = int(n_neurons)
        self._factory = {"device": torch.device(device) if device is not None else torch.device("cpu"),
                         "dtype": dtype if dtype is not None else torch.float64}

    # -- data checks ----------------------------------------------------------------------
    def validate(self, Y, name: str = "Y") -> None:
        """Raise ``ValueError`` when ``Y`` cannot come from this observation model."""
        arr = np.asarray(Y.detach().cpu() if torch.is_tensor(Y) else Y, dtype=float)
        if not np.all(np.isfinite(arr)):
            bad = int((~np.isfinite(arr)).sum())
            raise ValueError(
                f"{name} contains {bad} NaN/inf value(s); the {self.name} likelihood needs finite "
                "data: drop or interpolate the bad time bins first (e.g. Y.dropna('time'))"
            )

    def init_from_data(self, Y: torch.Tensor) -> None:
        """Set data-dependent starting values (noise level, dispersion); default: nothing."""

    def _sel(self, p: torch.Tensor, neurons) -> torch.Tensor:
        return p if neurons is None else p[neurons]

    # -- interface --------------------------------------------------------------------------
    def expected_log_prob(self, y, mean, var, neurons=None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def log_prob(self, y, f, neurons=None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def predictive_log_prob(self, y, mean, var, neurons=None, n_points: int = 20) -> torch.Tensor:
        r""":math:`\log \int p(y\mid f)\,\mathcal N(f;\mu,v)\,df` by Gauss-Hermite (elementwise)."""
        return _gauss_hermite_log_expectation(lambda f: self.log_prob(y, f, neurons), mean, var, n_points)

    def predictive_mean(self, mean, var, neurons=None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def predictive_std(self, mean, var, neurons=None) -> torch.Tensor:  # pragma: no cover
        """Std of :math:`\\mathbb E[y\\mid f]` under the belief over f (the tuning-curve band)."""
        raise NotImplementedError
