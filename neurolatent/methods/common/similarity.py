"""Representational similarity: linear CKA and layer representations of a :class:`BlockNet`."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["linear_cka", "representations"]


def _as_matrix(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (n_samples, ...), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)


def linear_cka(x: torch.Tensor, y: torch.Tensor, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""Linear centred kernel alignment (Kornblith et al. 2019) between two representations.

    With column-centred :math:`X \in \mathbb R^{n\times p}`, :math:`Y \in \mathbb R^{n\times q}`,

    .. math:: \mathrm{CKA}(X, Y) = \frac{\lVert Y^\top X\rVert_F^2}
                                        {\lVert X^\top X\rVert_F\,\lVert Y^\top Y\rVert_F}
              = \frac{\mathrm{HSIC}(XX^\top, YY^\top)}
                     {\sqrt{\mathrm{HSIC}(XX^\top, XX^\top)\,\mathrm{HSIC}(YY^\top, YY^\top)}} \in [0, 1].

    It is invariant to orthogonal transforms and isotropic scaling of either representation, but
    *not* to general invertible linear maps (e.g. rescaling single units).

    Parameters
    ----------
    x : Tensor, shape ``(n, ...)``
    y : Tensor, shape ``(n, ...)``
        Representations of the same ``n`` inputs; trailing axes are flattened.
    dtype : torch.dtype
        Computation type (float64 by default: the Gram norms square the data's dynamic range).

    Returns
    -------
    Tensor
        A 0-d tensor.

    Examples
    --------
    >>> x = torch.randn(50, 4)
    >>> q, _ = torch.linalg.qr(torch.randn(4, 4))
    >>> round(float(linear_cka(x, 3 * x @ q)), 6)
    1.0
    """
    x, y = _as_matrix(x, "x").to(dtype), _as_matrix(y, "y").to(dtype=dtype, device=x.device)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"linear_cka: x has {x.shape[0]} samples but y has {y.shape[0]}; they must match")
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    # Feature-space form: cost O(n p q) instead of the O(n^2) Gram matrices.
    num = torch.linalg.matrix_norm(y.T @ x) ** 2
    den = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    if float(den) == 0.0:
        raise ValueError("linear_cka: one representation is constant across samples; CKA is undefined")
    return num / den


@torch.no_grad()
def representations(model: nn.Module, x: torch.Tensor, layers: list[int] | None = None, *,
                    batch_size: int = 4096) -> dict[int, torch.Tensor]:
    """Representations ``{k: h_k(x)}`` of a :class:`~neurolatent.methods.common.models.BlockNet` in eval mode.

    ``layers`` defaults to ``model.hidden_layers``. Inputs are moved to the model's device.
    """
    layers = list(model.hidden_layers) if layers is None else list(layers)
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out: dict[int, list[torch.Tensor]] = {k: [] for k in layers}
        for i in range(0, x.shape[0], batch_size):
            h, done = x[i:i + batch_size].to(dev), 0
            for k in sorted(layers):
                h = _run(model, h, done, k)  # continue from the previous layer, not from the input
                done = k
                out[k].append(h)
        return {k: torch.cat(v) for k, v in out.items()}
    finally:
        model.train(was_training)


def _run(model: nn.Module, h: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    for block in model.blocks[start:stop]:
        h = block(h)
    return h
