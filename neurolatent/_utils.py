"""Small helpers shared across the package: atomic writes, device/dtype resolution, seeding.

Nothing here is public API; the functions are re-used by ``io``, ``models``, ``theory`` and
``cli`` so that every writer is atomic and every module treats ``device``/``dtype`` the same way.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import torch

__all__ = ["atomic_path", "resolve_device", "resolve_dtype", "make_generator"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same directory so the final :func:`os.replace` is atomic
    on POSIX file systems. If the body raises, the temporary file is removed and ``path`` is
    left untouched (an existing file keeps its old content).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    """
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(
            f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist; create it first"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def resolve_device(device: str | torch.device | None, like: torch.Tensor | None = None) -> torch.device:
    """``device=None`` means CPU unless ``like`` already lives elsewhere."""
    if device is not None:
        return torch.device(device)
    if like is not None:
        return like.device
    return torch.device("cpu")


def resolve_dtype(dtype: torch.dtype | None, default: torch.dtype = torch.float64) -> torch.dtype:
    """Return ``dtype`` or ``default``; never reads or changes torch's global default dtype."""
    if dtype is None:
        return default
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype such as torch.float64, got {dtype!r}")
    return dtype


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (random seed when ``None``)."""
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen
