"""A small SchNet-like message-passing network with an equivariant noise head, in dense torch.

Molecules are padded to ``N`` atoms; every pair of real atoms within ``cutoff`` exchanges messages
(a complete graph for molecules this small). With ``h_i`` the invariant atom features and
``d_ij = |r_i - r_j|``, one interaction block of SchNet (Schütt et al., NeurIPS 2017) is

.. math::

    h_i \\leftarrow h_i + \\mathrm{MLP}\\Big(\\sum_{j \\ne i} m_j\\, W(e(d_{ij}))\\, f_c(d_{ij})\\, \\mathrm{Lin}(h_j)\\Big),

with Gaussian radial features ``e``, a filter network ``W`` and the cosine cutoff ``f_c``. Two heads
read the features out:

* the **vector (noise) head**, equivariant under rotations and invariant under translations,
  :math:`v_i = \\sum_{j \\ne i} \\phi(h_i, h_j, d_{ij})\\, (r_i - r_j)`, which predicts the noise
  added to the coordinates (Zaidi et al., ICLR 2023);
* the **property head**, invariant, :math:`y = \\sum_i \\mathrm{MLP}([h_i, |v_i|])` (PaiNN-style
  use of vector norms as invariants; Schütt et al., ICML 2021), so that features learned by
  denoising are available to the property.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MolecularNet", "pairwise_geometry"]

_MAX_Z = 10  # H..F; atomic number 0 is padding


def pairwise_geometry(positions: torch.Tensor, mask: torch.Tensor, cutoff: float):
    """Displacements, distances and the neighbour mask of padded molecules.

    Parameters
    ----------
    positions : Tensor (B, N, 3)
    mask : BoolTensor (B, N)
    cutoff : float
        Angstrom.

    Returns
    -------
    diff : Tensor (B, N, N, 3)
        ``r_i - r_j``.
    dist : Tensor (B, N, N)
        ``|r_i - r_j|`` (1 on the diagonal and padding, to keep gradients finite).
    pair : BoolTensor (B, N, N)
        Real, distinct atoms closer than ``cutoff``.
    """
    diff = positions[:, :, None, :] - positions[:, None, :, :]
    eye = torch.eye(positions.shape[1], dtype=torch.bool, device=positions.device)
    pair = mask[:, :, None] & mask[:, None, :] & ~eye
    sq = (diff * diff).sum(-1)
    dist = torch.sqrt(torch.where(pair, sq, torch.ones_like(sq)))
    return diff, dist, pair & (dist < cutoff)


class _Interaction(nn.Module):
    def __init__(self, hidden: int, n_rbf: int):
        super().__init__()
        self.filter = nn.Sequential(nn.Linear(n_rbf, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.lin = nn.Linear(hidden, hidden, bias=False)
        self.update = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, h, rbf, weight):
        msg = self.filter(rbf) * weight[..., None] * self.lin(h)[:, None, :, :]  # (B, N_i, N_j, F)
        return h + self.update(msg.sum(2))


class MolecularNet(nn.Module):
    """SchNet-like network with an equivariant noise head and an invariant property head.

    Parameters
    ----------
    hidden : int
        Width of the atom features.
    n_layers : int
        Interaction blocks.
    n_rbf : int
        Gaussian radial basis functions on ``[0, cutoff]``.
    cutoff : float
        Angstrom.
    device, dtype : optional
        Where the parameters live.

    Examples
    --------
    >>> net = MolecularNet(hidden=16, n_layers=1)
    >>> z = torch.tensor([[8, 1, 1]])
    >>> r = torch.tensor([[[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]]])
    >>> net(z, r)["noise"].shape, net(z, r)["property"].shape
    (torch.Size([1, 3, 3]), torch.Size([1]))
    """

    def __init__(self, hidden: int = 64, n_layers: int = 3, n_rbf: int = 32, cutoff: float = 5.0, *,
                 device=None, dtype: torch.dtype | None = None):
        super().__init__()
        if hidden < 1 or n_layers < 1 or n_rbf < 2 or cutoff <= 0:
            raise ValueError(f"MolecularNet needs hidden >= 1, n_layers >= 1, n_rbf >= 2, cutoff > 0; got "
                             f"hidden={hidden}, n_layers={n_layers}, n_rbf={n_rbf}, cutoff={cutoff}")
        self.cutoff = float(cutoff)
        self.register_buffer("centers", torch.linspace(0.0, cutoff, n_rbf))
        self.gamma = 1.0 / (2 * (cutoff / (n_rbf - 1)) ** 2)
        self.embed = nn.Embedding(_MAX_Z, hidden, padding_idx=0)
        self.interactions = nn.ModuleList(_Interaction(hidden, n_rbf) for _ in range(n_layers))
        self.pair_i = nn.Linear(hidden, hidden)
        self.pair_j = nn.Linear(hidden, hidden, bias=False)
        self.pair_r = nn.Linear(n_rbf, hidden, bias=False)
        self.pair_out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 1))
        self.readout = nn.Sequential(nn.Linear(hidden + 1, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        # The property is shift + scale * raw; :func:`finetune` sets both from the labelled set.
        self.register_buffer("property_shift", torch.zeros(()))
        self.register_buffer("property_scale", torch.ones(()))
        self.to(device=device, dtype=dtype)

    def forward(self, numbers: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor | None = None):
        """Atom features and both heads.

        Parameters
        ----------
        numbers : LongTensor (B, N)
            Atomic numbers (1..9), 0 for padding.
        positions : Tensor (B, N, 3)
        mask : BoolTensor (B, N), optional
            Default ``numbers > 0``.

        Returns
        -------
        dict
            ``"features"`` (B, N, F), ``"noise"`` (B, N, 3) (zero on padding), ``"property"`` (B,).
        """
        if numbers.ndim != 2 or positions.shape != (*numbers.shape, 3):
            raise ValueError(f"numbers must be (B, N) and positions (B, N, 3); got {tuple(numbers.shape)} and "
                             f"{tuple(positions.shape)}")
        if numbers.numel() == 0:
            raise ValueError(f"MolecularNet got no atoms (numbers of shape {tuple(numbers.shape)}); pass at least "
                             "one molecule with at least one atom")
        if int(numbers.max()) >= _MAX_Z or int(numbers.min()) < 0:
            raise ValueError(f"atomic numbers must lie in 0..{_MAX_Z - 1} (0 = padding; H, C, N, O, F), "
                             f"got {int(numbers.min())}..{int(numbers.max())}")
        mask = numbers > 0 if mask is None else mask
        diff, dist, pair = pairwise_geometry(positions, mask, self.cutoff)
        rbf = torch.exp(-self.gamma * (dist[..., None] - self.centers) ** 2)
        weight = 0.5 * (torch.cos(dist * math.pi / self.cutoff) + 1.0) * pair
        h = self.embed(numbers)
        for block in self.interactions:
            h = block(h, rbf, weight)
        phi = self.pair_out(self.pair_i(h)[:, :, None] * self.pair_j(h)[:, None, :] * self.pair_r(rbf))
        noise = ((phi * weight[..., None]) * diff).sum(2) * mask[..., None]
        norm = torch.sqrt((noise * noise).sum(-1, keepdim=True) + 1e-12)  # finite gradient at 0 (padding)
        raw = (self.readout(torch.cat([h, norm], dim=-1)).squeeze(-1) * mask).sum(-1)
        prop = self.property_shift + self.property_scale * raw
        return {"features": h, "noise": noise, "property": prop}
