"""Small offline classification datasets and task streams for the learning-method families.

Nothing here downloads anything at run time:

* :func:`load_digits` -- scikit-learn's bundled 8x8 handwritten digits (1797 samples, 64 pixels,
  10 classes), read from the file shipped inside the scikit-learn wheel.
* :func:`make_mnist1d` -- the procedural generator of ``mnist1d`` (Greydanus 2020), called
  directly; its download path is never used.
* :func:`make_teacher_classification` -- labels from a random two-layer teacher network.
* :func:`permuted_tasks`, :func:`rotated_tasks`, :func:`split_tasks` -- task streams for
  continual learning (input-permuted, rotated and class-split versions of one dataset).

Every loader returns a :class:`ClassificationData` holding float inputs and ``int64`` labels as
torch tensors on the requested ``device``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..._utils import make_generator, resolve_device

__all__ = [
    "ClassificationData",
    "load_digits",
    "make_mnist1d",
    "make_teacher_classification",
    "permuted_tasks",
    "rotated_tasks",
    "split_tasks",
]


@dataclass(frozen=True)
class ClassificationData:
    """A train/test split of a classification task as torch tensors.

    Attributes
    ----------
    x_train, x_test : Tensor, shape ``(n, *input_shape)``
        Inputs, floating point.
    y_train, y_test : Tensor, shape ``(n,)``
        Integer class labels in ``[0, n_classes)``.
    n_classes : int
    name : str
        A short human-readable name (``"digits"``, ``"digits/permuted-2"``, ...).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    name: str = "data"

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{self.name}: x_{split} has {x.shape[0]} samples but y_{split} has {y.shape[0]}; "
                    "inputs and labels must have the same first dimension"
                )
            if not x.is_floating_point():
                raise TypeError(f"{self.name}: x_{split} must be floating point, got {x.dtype}")
            if y.dtype != torch.int64:
                raise TypeError(f"{self.name}: y_{split} must be torch.int64 labels, got {y.dtype}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input (without the sample axis)."""
        return tuple(self.x_train.shape[1:])

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "ClassificationData":
        """A copy on ``device`` (inputs cast to ``dtype`` when given; labels stay ``int64``)."""
        dev = resolve_device(device, self.x_train)
        return replace(
            self,
            x_train=self.x_train.to(dev, dtype=dtype or self.x_train.dtype),
            x_test=self.x_test.to(dev, dtype=dtype or self.x_test.dtype),
            y_train=self.y_train.to(dev),
            y_test=self.y_test.to(dev),
        )


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, name: str, n_classes: int,
           device, dtype) -> ClassificationData:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = perm[:n_test], perm[n_test:]
    # Standardise with the *training* statistics only (one mean and one scale for all features,
    # so that pixel geometry -- used by rotations and convolutions -- is untouched).
    mu, sd = x[tr].mean(), x[tr].std()
    x = (x - mu) / sd
    dev = resolve_device(device)
    t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=dev)  # noqa: E731
    return ClassificationData(t(x[tr], dtype), t(y[tr], torch.int64), t(x[te], dtype), t(y[te], torch.int64),
                              n_classes, name)


def load_digits(*, test_fraction: float = 0.25, seed: int = 0, image: bool = False,
                device: str | torch.device | None = None, dtype: torch.dtype = torch.float32) -> ClassificationData:
    """scikit-learn's bundled 8x8 digits, split and standardised.

    Parameters
    ----------
    test_fraction : float
        Fraction of the 1797 samples held out for testing (stratification is not applied; the
        classes are balanced to within a few samples).
    seed : int
        Seed of the train/test shuffle.
    image : bool
        ``False``: inputs of shape ``(n, 64)``; ``True``: ``(n, 1, 8, 8)`` for convolutions.
    device, dtype
        Where and in which floating type to put the inputs.

    Returns
    -------
    ClassificationData
        Pixels are standardised as ``(x - m) / s`` with the scalar mean ``m`` and standard deviation
        ``s`` of the training pixels.

    Examples
    --------
    >>> d = load_digits()
    >>> d.x_train.shape, d.x_test.shape, d.n_classes
    (torch.Size([1348, 64]), torch.Size([449, 64]), 10)
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_digits needs scikit-learn (its digits are bundled with the wheel, no download): "
            "pip install 'neurolatent[methods]'  (or: pip install scikit-learn)"
        ) from err
    bunch = _sk_load_digits()
    x = bunch.data.astype(np.float64)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    return _split(x, bunch.target.astype(np.int64), test_fraction, seed, "digits", 10, device, dtype)


def make_mnist1d(*, n_samples: int = 5000, seed: int = 42, test_fraction: float = 0.2, channel: bool = False,
                 device: str | torch.device | None = None, dtype: torch.dtype = torch.float32) -> ClassificationData:
    """MNIST-1D (Greydanus 2020) from its procedural generator -- never from its download.

    Ten 1-D digit templates are padded, dilated, scaled, translated, sheared, corrupted with
    correlated and i.i.d. noise and resampled to 40 points (``mnist1d.data.make_dataset``).

    Parameters
    ----------
    n_samples : int
        Total number of samples (the generator makes ``n_samples // 10`` per class).
    seed : int
        The generator's seed. ``mnist1d`` seeds NumPy's *global* generator; its state is saved and
        restored around the call so that the caller's global random stream is untouched.
    test_fraction : float
        Fraction held out for testing (our own shuffle and split, seeded with ``seed``).
    channel : bool
        ``True`` gives inputs of shape ``(n, 1, 40)`` for 1-D convolutions, else ``(n, 40)``.

    Raises
    ------
    ImportError
        If ``mnist1d`` is not installed (``pip install 'neurolatent[methods]'``).
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError(
            "make_mnist1d needs the optional package mnist1d (only its procedural generator is used, "
            "nothing is downloaded): pip install 'neurolatent[methods]'  (or: pip install mnist1d)"
        ) from err
    args = get_dataset_args()
    args.num_samples = int(n_samples)
    args.seed = int(seed)
    args.train_split = 1.0  # we split ourselves, with our own seed and standardisation
    state = np.random.get_state()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(state)
    x, y = np.asarray(raw["x"], dtype=np.float64), np.asarray(raw["y"], dtype=np.int64)
    if channel:
        x = x[:, None, :]
    return _split(x, y, test_fraction, seed, "mnist1d", 10, device, dtype)


def make_teacher_classification(n_samples: int = 2000, n_features: int = 20, n_classes: int = 4, *,
                                hidden: int = 32, test_fraction: float = 0.25, seed: int = 0,
                                device: str | torch.device | None = None,
                                dtype: torch.dtype = torch.float32) -> ClassificationData:
    r"""Gaussian inputs labelled by a random two-layer teacher network.

    .. math::  x \sim \mathcal N(0, I_d), \qquad
               y = \arg\max_k \big(W_2 \tanh(W_1 x / \sqrt d)\big)_k,

    with :math:`W_1 \in \mathbb R^{h\times d}`, :math:`W_2 \in \mathbb R^{K\times h}` standard normal.
    The task is nonlinear (not linearly separable in general) but realisable by a small MLP.

    Examples
    --------
    >>> d = make_teacher_classification(200, 5, 3, seed=1)
    >>> d.x_train.shape, int(d.y_train.max()) < 3
    (torch.Size([150, 5]), True)
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_features))
    w1 = rng.standard_normal((hidden, n_features))
    w2 = rng.standard_normal((n_classes, hidden))
    y = np.argmax(np.tanh(x @ w1.T / math.sqrt(n_features)) @ w2.T, axis=1).astype(np.int64)
    return _split(x, y, test_fraction, seed, "teacher", n_classes, device, dtype)


# ----------------------------------------------------------------------------- task streams
def permuted_tasks(data: ClassificationData, n_tasks: int, *, seed: int = 0,
                   first_identity: bool = True) -> list[ClassificationData]:
    """Input-permuted copies of ``data`` (the "permuted MNIST" protocol).

    Task ``t`` applies one fixed random permutation :math:`\\pi_t` of the flattened input features
    to every sample, train and test alike; labels are unchanged. With ``first_identity`` the first
    task is the original data.
    """
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be at least 1, got {n_tasks}")
    n_feat = int(np.prod(data.input_shape))
    gen = make_generator(seed)
    tasks = []
    for t in range(n_tasks):
        if t == 0 and first_identity:
            perm = torch.arange(n_feat)
        else:
            perm = torch.randperm(n_feat, generator=gen)
        perm = perm.to(data.x_train.device)

        def apply(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(x.shape[0], -1)[:, perm].reshape(x.shape)

        tasks.append(replace(data, x_train=apply(data.x_train), x_test=apply(data.x_test),
                             name=f"{data.name}/permuted-{t}"))
    return tasks


def _rotate_images(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate square images ``(n, c, h, w)`` about their centre (bilinear, zero padding)."""
    theta = math.radians(degrees)
    c, s = math.cos(theta), math.sin(theta)
    mat = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(mat.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotated_tasks(data: ClassificationData, angles: Sequence[float], *,
                  image_shape: tuple[int, int, int] | None = None) -> list[ClassificationData]:
    """Rotated copies of an image dataset, one task per angle in degrees ("rotated MNIST").

    Parameters
    ----------
    data : ClassificationData
        Image inputs ``(n, c, h, w)``, or flat inputs with ``image_shape=(c, h, w)`` given
        (e.g. ``(1, 8, 8)`` for flat digits); the output keeps the input's layout.
    angles : sequence of float
        Rotation of each task, degrees, counter-clockwise.

    Notes
    -----
    Pixels rotated in from outside the image are set to the background value, which after
    standardisation is the minimum of the data, not zero: the rotation is applied to
    ``x - min(x)`` and the minimum is added back.
    """
    flat = len(data.input_shape) != 3
    if flat and image_shape is None:
        raise ValueError(
            f"rotated_tasks needs images (n, c, h, w); {data.name} has inputs of shape {data.input_shape}. "
            "Pass image_shape=(c, h, w), e.g. image_shape=(1, 8, 8) for flat digits"
        )
    shape = tuple(image_shape) if flat else data.input_shape
    if int(np.prod(shape)) != int(np.prod(data.input_shape)):
        raise ValueError(f"image_shape {shape} does not hold the {int(np.prod(data.input_shape))} input features")
    lo = torch.minimum(data.x_train.min(), data.x_test.min())
    tasks = []
    for a in angles:
        def apply(x: torch.Tensor) -> torch.Tensor:
            img = x.reshape(x.shape[0], *shape) - lo
            return (_rotate_images(img, float(a)) + lo).reshape(x.shape)

        tasks.append(replace(data, x_train=apply(data.x_train), x_test=apply(data.x_test),
                             name=f"{data.name}/rotated-{a:g}"))
    return tasks


def split_tasks(data: ClassificationData, classes_per_task: int = 2, *,
                relabel: bool = False) -> list[ClassificationData]:
    """Class-split copies of ``data`` ("split MNIST"): task ``t`` keeps classes ``t*k ... t*k+k-1``.

    Parameters
    ----------
    classes_per_task : int
        ``k``; must divide ``n_classes``.
    relabel : bool
        ``True`` maps each task's labels to ``0 ... k-1`` (task-incremental, multi-head) and sets
        ``n_classes = k``; ``False`` keeps the global labels (class-incremental, single head).
    """
    if classes_per_task < 1 or data.n_classes % classes_per_task:
        raise ValueError(
            f"classes_per_task={classes_per_task} must divide the {data.n_classes} classes of {data.name}"
        )
    tasks = []
    for t in range(data.n_classes // classes_per_task):
        lo = t * classes_per_task
        keep_tr = (data.y_train >= lo) & (data.y_train < lo + classes_per_task)
        keep_te = (data.y_test >= lo) & (data.y_test < lo + classes_per_task)
        shift = lo if relabel else 0
        tasks.append(ClassificationData(
            data.x_train[keep_tr], data.y_train[keep_tr] - shift, data.x_test[keep_te], data.y_test[keep_te] - shift,
            classes_per_task if relabel else data.n_classes, f"{data.name}/split-{t}"))
    return tasks
