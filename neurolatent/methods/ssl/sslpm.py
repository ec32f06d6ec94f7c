r"""SSLPM: self-supervised learning with predictability minimisation.

Zollikofer et al. 2024, "Beyond pairwise correlations: higher-order redundancies in self-supervised
representation learning", after Schmidhuber's predictability minimisation (1992): an encoder and a
predictor play a minimax game; the predictor exploits dependencies between embedding coordinates,
the encoder removes them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .losses import SSLLoss, _standardise, check_views
from .redundancy import MaskedPredictor

__all__ = ["SSLPM"]


class SSLPM(SSLLoss):
    r"""The encoder's side of the predictability-minimisation game, with the predictor trained alongside.

    With :math:`\tilde z_v` the batch-standardised embeddings of view :math:`v` and :math:`P` a
    :class:`~neurolatent.methods.ssl.MaskedPredictor` that predicts each coordinate from the others,
    the prediction error is :math:`e = \frac{1}{2nd}\sum_{v,i,j}(P(\tilde z_v)_{ij} - \tilde z_{v,ij})^2`
    (about 1 when nothing is predictable, 0 when everything is). The encoder minimises

    .. math:: \mathcal L = \tfrac{1}{nd}\|\tilde z_1 - \tilde z_2\|_F^2
              + \mu\,\tfrac1d\sum_{v,j}\max\big(0, \gamma - \mathrm{std}(z_{v,j})\big)
              + \beta\,(1 - e),

    i.e. invariance, a variance floor against collapse (as in VICReg) and the predictability
    :math:`1 - e`; after every encoder step the predictor takes ``predictor_steps`` Adam steps
    minimising :math:`e` on the (detached) embeddings of that batch.

    Parameters
    ----------
    pm_weight : float
        :math:`\beta`, the weight of the predictability term.
    var_weight, gamma : float
        :math:`\mu, \gamma` of the variance floor.
    hidden : int
        Width of the predictor.
    predictor_lr : float
    predictor_steps : int
        Predictor updates per encoder update.
    seed : int, optional
        Seed of the predictor's initialisation.

    Notes
    -----
    The predictor must keep up with the encoder: with one slow predictor step per encoder step
    (``predictor_lr=1e-3``, ``predictor_steps=1``, ``pm_weight=1``) the encoder fools a lagging
    predictor while its coordinates stay almost collinear (measured on digits: average absolute
    correlation 0.97); the defaults (3 steps at ``1e-2``, ``pm_weight=10``) bring it to about 0.2.

    Examples
    --------
    >>> loss = SSLPM(hidden=8)
    >>> z = torch.randn(16, 4)
    >>> float(loss(z, z + 0.1 * torch.randn(16, 4)).detach()) > 0
    True
    """

    def __init__(self, pm_weight: float = 10.0, var_weight: float = 1.0, gamma: float = 1.0, hidden: int = 32,
                 predictor_lr: float = 1e-2, predictor_steps: int = 3, seed: int | None = 0):
        super().__init__()
        if pm_weight < 0 or var_weight < 0 or predictor_steps < 1:
            raise ValueError(f"need pm_weight >= 0, var_weight >= 0, predictor_steps >= 1; got "
                             f"{pm_weight}, {var_weight}, {predictor_steps}")
        self.pm_weight, self.var_weight, self.gamma = float(pm_weight), float(var_weight), float(gamma)
        self.hidden, self.predictor_lr, self.predictor_steps = int(hidden), float(predictor_lr), int(predictor_steps)
        self.seed = seed
        self.predictor: MaskedPredictor | None = None
        self._opt: torch.optim.Optimizer | None = None
        self._batch: torch.Tensor | None = None

    def setup(self, encoder: nn.Module, n_samples: int, batch_size: int) -> None:
        """Start a fresh predictor (built at the first batch, when the embedding size is known)."""
        super().setup(encoder, n_samples, batch_size)
        self.predictor, self._opt, self._batch = None, None, None

    def _ensure_predictor(self, z: torch.Tensor) -> MaskedPredictor:
        if self.predictor is None or self.predictor.dim != z.shape[1]:
            self.predictor = MaskedPredictor(z.shape[1], self.hidden, seed=self.seed, device=z.device, dtype=z.dtype)
            self._opt = torch.optim.Adam(self.predictor.parameters(), lr=self.predictor_lr)
        return self.predictor

    def prediction_error(self, zs: torch.Tensor) -> torch.Tensor:
        """:math:`e` for standardised embeddings ``zs`` ``(n, d)`` (mean squared error of the predictor)."""
        return ((self._ensure_predictor(zs)(zs) - zs) ** 2).mean()

    def terms(self, z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
        """The ``invariance``, ``variance`` and ``predictability`` (:math:`1 - e`) terms."""
        check_views(z1, z2, "SSLPM")
        s1, s2 = _standardise(z1), _standardise(z2)
        var = sum(F.relu(self.gamma - torch.sqrt(z.var(0) + 1e-4)).mean() for z in (z1, z2))
        err = 0.5 * (self.prediction_error(s1) + self.prediction_error(s2))
        return {"invariance": F.mse_loss(s1, s2), "variance": var, "predictability": 1 - err}

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        t = self.terms(z1, z2)
        return t["invariance"] + self.var_weight * t["variance"] + self.pm_weight * t["predictability"]

    def step_loss(self, encoder: nn.Module, views: list[torch.Tensor]) -> torch.Tensor:
        z1, z2 = encoder(views[0]), encoder(views[1])
        self._batch = torch.cat([_standardise(z1), _standardise(z2)]).detach()
        return self(z1, z2)

    def after_step(self, encoder: nn.Module) -> None:
        """The predictor's turn: ``predictor_steps`` Adam steps minimising :math:`e` on this batch."""
        if self._batch is None:
            return
        with torch.enable_grad():
            for _ in range(self.predictor_steps):
                self._opt.zero_grad(set_to_none=True)
                self.prediction_error(self._batch).backward()
                self._opt.step()
        self._batch = None

    def trainable_parameters(self) -> list[nn.Parameter]:
        """None: the predictor is the adversary, trained in :meth:`after_step`, not by the encoder's optimiser."""
        return []
