"""The encode-process-decode model of CLRS (Veličković et al., ICML 2022).

At each step ``t`` of an algorithm's trajectory, the inputs and (optionally) the hint frame ``t`` are
encoded feature by feature into node, edge and graph embeddings (:class:`~.layers.FeatureEncoder`),
the :class:`~.processor.MPNN` updates the node states, and the decoders predict hint frame ``t + 1``
(:class:`~.layers.FeatureDecoder`). After the last step of each trajectory the outputs are decoded.
The model runs as many steps as the trajectory has hint frames (``lengths``), also at test time and
without hints, as in CLRS; a graph whose trajectory has ended keeps its state.

Teacher forcing: with probability ``teacher_forcing`` per graph and step, the next step is fed the
true hint; otherwise the model's own (soft, detached) prediction. At evaluation the predictions are
always fed back (``teacher_forcing=0``).
"""
from __future__ import annotations

import torch
from torch import nn

from .batch import Batch
from .layers import FeatureDecoder, FeatureEncoder, dense, soft
from .processor import MPNN
from .specs import Spec

__all__ = ["EncodeProcessDecode", "Prediction"]


class Prediction(dict):
    """Logits of the model: ``pred["outputs"][name]`` and ``pred["hints"][name]`` (``(B, T-1, ...)``,
    predictions of hint frames ``1 .. T-1``; absent when hints are not used)."""


class EncodeProcessDecode(nn.Module):
    """Encoders per feature, a shared MPNN processor, decoders per hint/output feature.

    Parameters
    ----------
    spec : Spec
        The algorithm's features (``algorithm.spec``).
    hidden : int
        Width of the embeddings and node states.
    use_hints : bool
        Encode and decode hints (the hint loss); False trains on outputs only ("no hints").
    gated, layer_norm : bool
        Processor options (:class:`~.processor.MPNN`).
    device, dtype
        Of the parameters.

    Examples
    --------
    >>> from neurolatent.methods.algorithmic import sample_batch
    >>> batch = sample_batch("bfs", 2, 6, seed=0)
    >>> model = EncodeProcessDecode(batch.spec, hidden=8)
    >>> model(batch)["outputs"]["pi"].shape
    torch.Size([2, 6, 6])
    """

    def __init__(self, spec: Spec, hidden: int = 64, *, use_hints: bool = True, gated: bool = True,
                 layer_norm: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if not isinstance(spec, Spec):
            raise TypeError(f"EncodeProcessDecode expects a Spec (algorithm.spec), got {type(spec).__name__}")
        if hidden < 1:
            raise ValueError(f"hidden must be a positive width, got {hidden}")
        kw = {"device": device, "dtype": dtype}
        self.spec, self.hidden, self.use_hints = spec, int(hidden), bool(use_hints)
        encoded = spec.stage("input") + (spec.stage("hint") if use_hints else [])
        self.encoders = nn.ModuleDict({f.name: FeatureEncoder(f, hidden, **kw) for f in encoded})
        decoded = spec.stage("output") + (spec.stage("hint") if use_hints else [])
        self.decoders = nn.ModuleDict({f.name: FeatureDecoder(f, hidden, **kw) for f in decoded})
        self.processor = MPNN(hidden, gated=gated, layer_norm=layer_norm, **kw)

    def _embed(self, dense_values: dict, B: int, n: int, like: torch.Tensor):
        x = like.new_zeros(B, n, self.hidden)
        e = like.new_zeros(B, n, n, self.hidden)
        g = like.new_zeros(B, self.hidden)
        for name, value in dense_values.items():
            enc = self.encoders[name]
            if enc.location == "node":
                x = x + enc(value)
            elif enc.location == "edge":
                e = e + enc(value)
            else:
                g = g + enc(value)
        return x, e, g

    def forward(self, batch: Batch, *, teacher_forcing: float = 0.0, generator: torch.Generator | None = None
                ) -> Prediction:
        """Run the model over the batch's trajectories; return the logits (see :class:`Prediction`).

        Parameters
        ----------
        batch : Batch
        teacher_forcing : float in [0, 1]
            Probability that a step is fed the true next hint (per graph and step).
        generator : torch.Generator, optional
            For the teacher-forcing coin flips (on the batch's device).
        """
        if batch.spec is not self.spec and list(batch.spec) != list(self.spec):
            raise ValueError(f"the batch is of algorithm {batch.algorithm.name!r}, whose spec differs from the model's")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be a probability in [0, 1], got {teacher_forcing}")
        param = next(self.parameters())
        dtype, n, B, T = param.dtype, batch.n_nodes, batch.size, batch.max_length
        lengths = batch.lengths.to(param.device)
        inputs = {f.name: dense(f, batch.inputs[f.name].to(param.device), n, dtype) for f in self.spec.stage("input")}
        hint_features = self.spec.stage("hint") if self.use_hints else []

        def true_hint(f, t):
            return dense(f, batch.hints[f.name][:, t].to(param.device), n, dtype)

        current = {f.name: true_hint(f, 0) for f in hint_features}  # the initial state is a function of the inputs
        h = param.new_zeros(B, n, self.hidden)
        e_last = param.new_zeros(B, n, n, self.hidden)
        g_last = param.new_zeros(B, self.hidden)
        hint_logits = {f.name: [] for f in hint_features}
        for t in range(T):
            x, e, g = self._embed({**inputs, **current}, B, n, param)
            active = (t < lengths).to(dtype)
            h = active[:, None, None] * self.processor(x, e, g, h) + (1 - active[:, None, None]) * h
            e_last = active[:, None, None, None] * e + (1 - active[:, None, None, None]) * e_last
            g_last = active[:, None] * g + (1 - active[:, None]) * g_last
            if t == T - 1 or not hint_features:
                continue
            coin = None
            if teacher_forcing > 0:
                coin = torch.rand(B, device=param.device, generator=generator) < teacher_forcing
            for f in hint_features:
                logits = self.decoders[f.name](h, e, g)
                hint_logits[f.name].append(logits)
                guess = soft(f, logits).detach()
                if coin is not None:
                    shape = (B,) + (1,) * (guess.dim() - 1)
                    guess = torch.where(coin.view(shape), true_hint(f, t + 1), guess)
                current[f.name] = guess
        out = Prediction(outputs={f.name: self.decoders[f.name](h, e_last, g_last) for f in self.spec.stage("output")})
        if hint_features:
            out["hints"] = {k: torch.stack(v, dim=1) if v else None for k, v in hint_logits.items()}
        return out
