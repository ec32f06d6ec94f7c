"""``atomic_path``: the final file gets the permissions ``open(path, "w")`` would give it.

Each umask is set for the duration of one test and restored afterwards (pytest runs the tests in
one thread, so nothing else creates files meanwhile); one test sets it in a subprocess instead,
where it never has to be restored, and compares against a file the subprocess made with ``open``.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from neurolatent._utils import atomic_path, current_umask

UMASKS = [0o022, 0o077, 0o002, 0o027]


@pytest.fixture(params=UMASKS, ids=[oct(u) for u in UMASKS])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _open_mode(p: Path) -> int:
    """The mode a plain ``open(p, "w")`` gives a new file under the current umask (the reference)."""
    with open(p, "w") as fh:
        fh.write("x")
    m = _mode(p)
    p.unlink()
    return m


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert current_umask() == umask  # reading it twice: the first read left it as it was


def test_new_file_has_open_mode(tmp_path, umask):
    ref = _open_mode(tmp_path / "ref.txt")
    assert ref == 0o666 & ~umask
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("hello")
    assert _mode(tmp_path / "a.txt") == ref
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left behind


def test_existing_file_keeps_its_mode(tmp_path, umask):
    # open(path, "w") on an existing file truncates it in place: the mode does not change
    p = tmp_path / "b.txt"
    for existing in (0o640, 0o600, 0o664):
        p.write_text("old")
        os.chmod(p, existing)
        with open(p, "w") as fh:
            fh.write("via open")
        assert _mode(p) == existing
        with atomic_path(p) as tmp:
            tmp.write_text("new")
        assert _mode(p) == existing and p.read_text() == "new"


def test_failed_write_leaves_old_file_and_mode(tmp_path, umask):
    p = tmp_path / "c.txt"
    p.write_text("old")
    os.chmod(p, 0o644)
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert p.read_text() == "old" and _mode(p) == 0o644
    assert [q.name for q in tmp_path.iterdir()] == ["c.txt"]


def test_writers_netcdf_png_torch(tmp_path, umask):
    """The package's real writers: netCDF (h5netcdf), a matplotlib PNG and ``torch.save``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurolatent.io.netcdf import read_netcdf, write_netcdf

    want = 0o666 & ~umask
    ds = xr.Dataset({"y": ("time", np.arange(5.0))}, coords={"time": np.arange(5) / 10.0})
    nc = write_netcdf(ds, tmp_path / "fit.nc")
    assert _mode(nc) == want
    assert read_netcdf(nc)["y"].values.tolist() == list(range(5))

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = tmp_path / "fig.png"
    with atomic_path(png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    assert _mode(png) == want and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    pt = tmp_path / "model.pt"
    with atomic_path(pt) as tmp:
        torch.save({"w": torch.arange(3)}, tmp)
    assert _mode(pt) == want
    assert torch.load(pt, weights_only=True)["w"].tolist() == [0, 1, 2]


def test_model_save_and_phase_cache(tmp_path, umask):
    """``MGPLVM.save`` (torch.save) and the phase-diagram cache (JSON) through ``atomic_path``."""
    from neurolatent.models import MGPLVM
    from neurolatent.theory import phase_diagram
    from neurolatent.theory import VanillaRNN

    want = 0o666 & ~umask
    gen = torch.Generator().manual_seed(0)
    th = torch.linspace(0, 2 * np.pi, 30, dtype=torch.float64)
    Y = torch.cos(th[:, None] - torch.linspace(0, 6, 4, dtype=torch.float64)) + 0.1 * torch.randn(30, 4, generator=gen,
                                                                                                     dtype=torch.float64)
    m = MGPLVM("T1", seed=0, n_inducing=5).fit(Y.numpy(), max_steps=2, burnin=1, progress=False)
    m.save(tmp_path / "m.pt")
    assert _mode(tmp_path / "m.pt") == want

    cache = tmp_path / "cache"
    cache.mkdir()
    phase_diagram(VanillaRNN, {"g": [0.5]}, quantities=["zero_fp_stable"], cache_dir=cache, progress=False)
    files = list(cache.iterdir())
    assert files and all(_mode(f) == want for f in files)


def test_umask_in_fresh_process(tmp_path):
    """A subprocess sets its own umask; ``atomic_path`` matches a file the same process made with ``open``."""
    code = textwrap.dedent(f"""
        import os, stat
        os.umask(0o007)
        from neurolatent._utils import atomic_path, current_umask
        assert current_umask() == 0o007, oct(current_umask())
        with open({str(tmp_path / 'ref')!r}, "w") as fh:
            fh.write("r")
        with atomic_path({str(tmp_path / 'new')!r}) as tmp:
            tmp.write_text("n")
        print(oct(stat.S_IMODE(os.stat({str(tmp_path / 'ref')!r}).st_mode)),
              oct(stat.S_IMODE(os.stat({str(tmp_path / 'new')!r}).st_mode)))
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    ref, new = out.stdout.split()
    assert ref == new == oct(0o660)
