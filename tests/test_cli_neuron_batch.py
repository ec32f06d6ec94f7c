"""``neurolatent fit --neuron-batch-size``: passed to MGPLVM.fit, checked before any work."""
from __future__ import annotations

import pytest
import xarray as xr

from neurolatent import io
from neurolatent.cli import main
from neurolatent.datasets import make_ring_recording
from neurolatent.fit_pipeline import fit_recording
from neurolatent.models import MGPLVM


@pytest.fixture
def ring_nc(tmp_path):
    path = tmp_path / "ring.nc"
    io.write_netcdf(make_ring_recording(n_neurons=8, n_time=60, seed=1), path)
    return path


def test_flag_reaches_the_fit_and_the_fit_is_written(ring_nc, tmp_path, monkeypatch):
    seen = []
    fit = MGPLVM.fit

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("neuron_batch_size"))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(MGPLVM, "fit", spy)
    out = tmp_path / "res"
    argv = ["fit", str(ring_nc), "--out", str(out), "--quiet", "--max-steps", "4", "--no-early-stopping",
            "--neuron-batch-size", "3"]
    assert main(argv) == 0
    assert seen == [3]
    with xr.open_dataset(out / "fit.nc", engine="h5netcdf") as ds:
        assert int(ds["elbo_T1"].sizes[next(iter(ds["elbo_T1"].dims))]) == 4  # the 4 minibatch steps ran
    seen.clear()
    assert main(["fit", str(ring_nc), "--out", str(tmp_path / "all"), "--quiet", "--max-steps", "2",
                 "--no-early-stopping"]) == 0
    assert seen == [None]  # default: every neuron


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_flag_values_fail_before_work(ring_nc, tmp_path, capsys, value):
    out = tmp_path / "res"
    with pytest.raises(SystemExit) as exc:  # argparse refuses the value
        main(["fit", str(ring_nc), "--out", str(out), "--quiet", "--neuron-batch-size", value])
    assert exc.value.code == 2
    assert "--neuron-batch-size" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("value", [0, 2.5, True])
def test_fit_recording_checks_neuron_batch_size(ring_nc, tmp_path, value):
    out = tmp_path / "res"
    with pytest.raises(ValueError, match="neuron_batch_size must be a positive integer"):
        fit_recording(str(ring_nc), "T1", out_dir=out, max_steps=2, progress=False, neuron_batch_size=value)
    assert not out.exists()
