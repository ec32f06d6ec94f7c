"""Small helpers shared across the package: atomic writes, device/dtype resolution, seeding.

Nothing here is public API; the functions are re-used by ``io``, ``models``, ``theory`` and
``cli`` so that every writer is atomic and every module treats ``device``/``dtype`` the same way.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import torch

__all__ = ["atomic_path", "resolve_device", "resolve_dtype", "make_generator", "DeviceUnavailableError"]


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows.

    On Linux (>= 4.7) the value is read from the ``Umask:`` line of ``/proc/self/status``, which
    leaves the umask untouched for every other thread. Elsewhere the only portable way is the
    :func:`os.umask` round trip (set a value, get the old one back, restore it); that briefly
    changes the umask for the whole process, so it is serialised by a lock here, but a thread
    that creates a file outside this module during those few instructions could see ``0o077``.

    Returns
    -------
    int
        The umask, e.g. ``0o022``.

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave on ``path``.

    An existing regular file keeps its mode (``open`` truncates in place); a new file gets
    ``0o666 & ~umask``. A symlink is followed, as ``open`` does.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return 0o666 & ~current_umask()
    if stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same directory so the final :func:`os.replace` is atomic
    on POSIX file systems. If the body raises, the temporary file is removed and ``path`` is
    left untouched (an existing file keeps its old content).

    The final file gets the permissions a plain ``open(path, "w")`` would give it: a new file
    ``0o666 & ~umask`` (usually ``-rw-r--r--``, readable by colleagues), an existing regular
    file its previous mode. (:func:`tempfile.mkstemp` creates the temporary file ``0o600``;
    the mode is set on the temporary file just before the rename, so whatever the writer did
    to it -- truncate or delete and recreate -- the result is the same.)

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    >>> oct((d / "x.txt").stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
    True
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
        os.chmod(tmp_path, _final_mode(path))
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


class DeviceUnavailableError(RuntimeError):
    """A ``device=`` that this machine or this torch build cannot provide."""


def resolve_device(device: str | torch.device | None, like: torch.Tensor | None = None) -> torch.device:
    """``device=None`` means CPU unless ``like`` already lives elsewhere.

    A CUDA (or MPS) device is checked here, so that asking for one that torch cannot use fails
    with a message saying why and what to install, instead of an ``AssertionError`` deep inside
    torch later.

    Raises
    ------
    ValueError
        ``device`` is not a device name torch knows.
    DeviceUnavailableError
        CUDA/MPS requested but unavailable (CPU-only torch build, no GPU, or an index beyond the
        GPUs present).

    Examples
    --------
    >>> resolve_device(None)
    device(type='cpu')
    """
    if device is None:
        return like.device if like is not None else torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; pass e.g. 'cpu', 'cuda' or 'cuda:1' ({exc})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            if torch.version.cuda is None:
                why = (f"this torch ({torch.__version__}) is a CPU-only build; install a CUDA build of torch "
                       "(see https://pytorch.org/get-started/locally/, e.g. pip install torch --index-url "
                       "https://download.pytorch.org/whl/cu124) or use device='cpu'")
            else:
                why = (f"torch {torch.__version__} was built for CUDA {torch.version.cuda} but finds no usable GPU "
                       "(check the NVIDIA driver and CUDA_VISIBLE_DEVICES) or use device='cpu'")
            raise DeviceUnavailableError(f"device={device!r}: CUDA is not available: {why}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) are "
                                         "visible; pass cuda:0 ... or check CUDA_VISIBLE_DEVICES")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise DeviceUnavailableError(f"device={device!r}: Apple's MPS backend is not available on this machine or "
                                     "torch build; use device='cpu'")
    return dev


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


def map_chunks(client, fn, items: list, *, per_worker: int = 1, **kwargs) -> list:
    """``fn(chunk, **kwargs)`` for contiguous chunks of ``items`` on a Dask ``client``; the outputs in order.

    ``per_worker`` chunks per worker (``min(len(items), per_worker * n_workers)`` chunks, sizes
    differing by at most one, as :func:`numpy.array_split`): one task per item costs more in
    scheduling than a cheap item costs to evaluate. Tasks are not pure (``pure=False``): the
    same arguments sent twice run twice.
    """
    import numpy as np

    n_chunks = min(len(items), per_worker * max(len(client.scheduler_info()["workers"]), 1))
    chunks = [[items[i] for i in c] for c in np.array_split(np.arange(len(items)), n_chunks)]
    return client.gather(client.map(fn, chunks, **kwargs, pure=False))
