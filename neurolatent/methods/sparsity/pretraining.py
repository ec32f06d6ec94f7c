r"""Pre-training before iterative magnitude pruning: the ablations of Frankle, Schwab & Morcos,
"The early phase of neural network training" (ICLR 2020), section 5.

The paper asks whether the state a network reaches in the first iterations of training -- the state
IMP with rewinding to a small :math:`k` rewinds to -- can be produced without the task's labels, or
without its full input statistics. It pre-trains the dense network for a few epochs

``"blur"``
    on the task itself with *blurred* inputs (downsampled by ``factor`` with average pooling, then
    upsampled back bilinearly), labels unchanged;
``"rotation"``
    on a self-supervised task, predicting which of the four rotations by multiples of 90 degrees
    was applied to an input (labels 0..3, read from the first four logits of the network's own
    output layer); afterwards the output layer is restored to its initial values, since it has
    learned the auxiliary task,

and then runs IMP rewinding to :math:`k = 0` *of the pre-trained weights*
(``imp(pretrain(model, ...), data, rewind_epoch=0, ...)``), to be compared with plain :math:`k = 0` and
with rewinding to a small :math:`k`. The paper (ResNet-20 on CIFAR-10) finds that both kinds can
approximate the changes of the early phase, so these are not inherently label-dependent, but only
partly and after much longer pre-training than the few hundred supervised iterations rewinding needs:
labels greatly accelerate the process. The slow tests record what holds on digits.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import resolve_device
from ..common.data import ClassificationData
from ..common.train import train
from .masks import prunable_layers

__all__ = ["PRETRAINING_KINDS", "pretrain", "blur_images", "rotation_task"]

PRETRAINING_KINDS = ("blur", "rotation")


def _image_shape(data: ClassificationData, image_shape, where: str) -> tuple[int, int, int]:
    if len(data.input_shape) == 3 and image_shape is None:
        return tuple(data.input_shape)
    if image_shape is None:
        raise ValueError(f"{where} needs images (n, c, h, w); {data.name} has inputs of shape {data.input_shape}. "
                         "Pass image_shape=(c, h, w), e.g. image_shape=(1, 8, 8) for flat digits")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or int(np.prod(shape)) != int(np.prod(data.input_shape)):
        raise ValueError(f"{where}: image_shape {tuple(image_shape)} must be (c, h, w) holding the "
                         f"{int(np.prod(data.input_shape))} input features of {data.name}")
    return shape


def blur_images(x: torch.Tensor, image_shape: tuple[int, int, int], factor: int = 2) -> torch.Tensor:
    r"""Blur images by average-pooling ``factor x factor`` blocks and upsampling back (bilinear).

    ``x`` has shape ``(n, *any)`` holding ``prod(image_shape)`` features; the output has ``x``'s shape.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 16)
    >>> blur_images(x, (1, 4, 4), 4).unique().tolist()  # one 4x4 block: every pixel becomes the mean
    [7.5]
    """
    c, h, w = image_shape
    if int(factor) < 1 or h % int(factor) or w % int(factor):
        raise ValueError(f"blur factor must be a positive integer dividing the image size {h}x{w}, got {factor!r}")
    img = x.reshape(x.shape[0], c, h, w)
    small = F.avg_pool2d(img, int(factor))
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).reshape(x.shape)


def rotation_task(data: ClassificationData, image_shape: tuple[int, int, int] | None = None) -> ClassificationData:
    """The self-supervised rotation task: every input rotated by 0, 90, 180 and 270 degrees, labelled 0..3.

    Rotations by multiples of 90 degrees are exact pixel permutations (``torch.rot90``), so no
    interpolation enters. Train and test splits are both expanded four-fold (label ``r`` for the
    rotation by ``90 r`` degrees counter-clockwise).
    """
    shape = _image_shape(data, image_shape, "rotation_task")
    if shape[1] != shape[2]:
        raise ValueError(f"rotation_task needs square images, got image_shape {shape}")

    def expand(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = x.reshape(x.shape[0], *shape)
        xs = [torch.rot90(img, r, dims=(2, 3)).reshape(x.shape) for r in range(4)]
        ys = [torch.full((x.shape[0],), r, dtype=torch.int64, device=x.device) for r in range(4)]
        return torch.cat(xs), torch.cat(ys)

    xtr, ytr = expand(data.x_train)
    xte, yte = expand(data.x_test)
    return ClassificationData(xtr, ytr, xte, yte, 4, f"{data.name}/rotation")


def pretrain(model: nn.Module, data: ClassificationData, kind: str = "blur", *, epochs: int = 3,
             image_shape: tuple[int, int, int] | None = None, factor: int = 2, lr: float = 1e-3,
             optimizer="adam", batch_size: int = 64, seed: int = 0, device: str | torch.device | None = None,
             reset_readout: bool = True, progress: bool = False) -> nn.Module:
    r"""A copy of ``model`` pre-trained for ``epochs`` on blurred inputs or on rotation prediction.

    See the module docstring for the two kinds. Follow with
    ``imp(pretrained, data, rewind_epoch=0, ...)`` to rewind IMP to the pre-trained weights.

    Parameters
    ----------
    model : nn.Module
        The network at initialisation (not modified). For ``"rotation"`` its output must have at
        least 4 logits; its last prunable layer (in :func:`prunable_layers` order: the read-out of
        :class:`~neurolatent.methods.common.MLP` / ``SmallCNN``) is restored to its initial weight and
        bias afterwards.
    data : ClassificationData
        The task (only its inputs are used by ``"rotation"``).
    kind : {"blur", "rotation"}
    epochs : int
        Pre-training epochs (>= 1).
    image_shape : (c, h, w), optional
        Needed when the inputs are flat, e.g. ``(1, 8, 8)`` for the flat digits.
    factor : int
        Blur: the side of the averaged pixel blocks (must divide the image size).
    reset_readout : bool
        Rotation: restore the output layer to its initial values afterwards (the paper's use; ``False``
        keeps the rotation read-out, e.g. to score the auxiliary task).
    lr, optimizer, batch_size, seed, device, progress
        The recipe of :func:`neurolatent.methods.common.train`.

    Returns
    -------
    nn.Module
        The pre-trained copy (on ``device``).

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, load_digits
    >>> d = load_digits()
    >>> net = pretrain(MLP(64, (16,), 10, seed=0), d, "rotation", epochs=1, image_shape=(1, 8, 8))
    >>> sum(p.numel() for p in net.parameters())
    1210
    """
    if kind not in PRETRAINING_KINDS:
        raise ValueError(f"pretrain: kind must be one of {PRETRAINING_KINDS}, got {kind!r}")
    if int(epochs) < 1:
        raise ValueError(f"pretrain: epochs must be >= 1, got {epochs!r}")
    if not isinstance(data, ClassificationData):
        raise TypeError(f"pretrain: data must be a ClassificationData, got {type(data).__name__}")
    shape = _image_shape(data, image_shape, "pretrain")
    net = copy.deepcopy(model)
    first = next(iter(net.parameters()), None)
    dev = resolve_device(device, first)
    net.to(dev)
    data = data.to(dev)
    recipe = dict(lr=lr, optimizer=optimizer, batch_size=batch_size, seed=seed, device=dev, progress=progress)
    if kind == "blur":
        blurred = replace(data, x_train=blur_images(data.x_train, shape, factor),
                          x_test=blur_images(data.x_test, shape, factor), name=f"{data.name}/blurred")
        train(net, blurred, epochs=int(epochs), **recipe)
        return net
    with torch.no_grad():
        n_out = net.eval()(data.x_train[:1]).shape[-1]
    if n_out < 4:
        raise ValueError(f"pretrain(kind='rotation') needs a model with at least 4 output logits "
                         f"(rotation labels 0..3), this one has {n_out}")
    readout = list(prunable_layers(net).values())[-1]
    saved = {k: v.detach().clone() for k, v in readout.named_parameters(recurse=False)}
    train(net, rotation_task(data, shape), epochs=int(epochs), **recipe)
    if not reset_readout:
        return net
    with torch.no_grad():
        for k, v in readout.named_parameters(recurse=False):
            v.copy_(saved[k])
    return net
