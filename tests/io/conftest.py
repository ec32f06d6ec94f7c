"""Builders of small recordings in each supported format (suite2p, CaImAn, NWB) for the io tests."""
from __future__ import annotations

import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse


def write_suite2p_plane(folder: Path, F: np.ndarray, *, fs=30.0, iscell=None, fneu=True, spks=True,
                        stat=True, ops_file="ops.npy") -> Path:
    """A minimal but complete suite2p plane folder; ``F`` is (n_rois, n_frames) like suite2p's."""
    folder.mkdir(parents=True, exist_ok=True)
    F = np.asarray(F, dtype=np.float32)
    n = F.shape[0]
    np.save(folder / "F.npy", F)
    if fneu:
        np.save(folder / "Fneu.npy", (0.5 * F).astype(np.float32))
    if spks:
        with np.errstate(invalid="ignore"):
            centred = np.nan_to_num(F - np.nanmean(F, 1, keepdims=True))
        np.save(folder / "spks.npy", np.maximum(centred, 0).astype(np.float32))
    if iscell is not None:
        np.save(folder / "iscell.npy", np.asarray(iscell, dtype=np.float64))
    if stat:
        st = [{"ypix": np.arange(3) + i, "xpix": np.arange(3) + 2 * i, "med": [i + 1, 2 * i + 1], "npix": 3}
              for i in range(n)]
        np.save(folder / "stat.npy", np.array(st, dtype=object), allow_pickle=True)
    if ops_file is not None:
        ops = {"fs": fs, "neucoeff": 0.7, "nplanes": 1} if fs is not None else {"neucoeff": 0.7}
        np.save(folder / ops_file, ops, allow_pickle=True)
    return folder


def write_caiman(path: Path, rng: np.random.Generator, *, n_comp=4, n_time=30, dims=(6, 5), fr=15.0,
                 f_dff="NoneType", idx_components=(0, 2, 3), bytes_none=False) -> dict:
    """A CaImAn ``cnmf.save`` layout; returns the arrays written (C etc. as (components, frames))."""
    C = rng.random((n_comp, n_time))
    S = rng.random((n_comp, n_time))
    YrA = rng.standard_normal((n_comp, n_time))
    dense = np.zeros((int(np.prod(dims)), n_comp))
    for k in range(n_comp):  # each footprint: a few pixels with positive weights
        pix = rng.choice(dense.shape[0], size=4, replace=False)
        dense[pix, k] = rng.random(4) + 0.1
    A = scipy.sparse.csc_matrix(dense)
    none = b"NoneType" if bytes_none else "NoneType"
    with h5py.File(path, "w") as f:
        e = f.create_group("estimates")
        e["C"], e["S"], e["YrA"] = C, S, YrA
        e["F_dff"] = none if isinstance(f_dff, str) else f_dff
        a = e.create_group("A")
        a["data"], a["indices"], a["indptr"], a["shape"] = A.data, A.indices, A.indptr, np.array(A.shape)
        e["idx_components"] = np.array(idx_components) if idx_components is not None else none
        e["dims"] = np.array(dims)
        p = f.create_group("params/data")
        if fr is not None:
            p["fr"] = fr
        p["dims"] = np.array(dims)
        p["decay_time"] = 0.4
        f["remove_very_bad_comps"] = False
    return {"C": C, "S": S, "YrA": YrA, "A": dense, "dims": dims, "F_dff": f_dff}


def write_nwb(path: Path, rng: np.random.Generator, *, n_rois=3, n_time=40, timestamps=False,
              transposed=False, dff=True, ophys=True, ids=(10, 11, 12), rate=20.0) -> dict:
    """An NWB file with ophys/ImageSegmentation/PlaneSegmentation and Fluorescence (+ DfOverF) series."""
    import pynwb
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    nwb = pynwb.NWBFile(session_description="test", identifier="nl-test",
                        session_start_time=datetime.datetime(2021, 5, 1, tzinfo=datetime.timezone.utc))
    out = {"F": rng.random((n_time, n_rois)), "dFF": rng.standard_normal((n_time, n_rois)),
           "masks": rng.random((n_rois, 5, 4)), "ids": np.array(ids[:n_rois])}
    out["times"] = np.cumsum(rng.uniform(0.04, 0.06, n_time)) if timestamps else 2.0 + np.arange(n_time) / rate
    if not ophys:
        ts = pynwb.TimeSeries(name="running", data=rng.random(n_time), unit="m/s", rate=rate)
        nwb.add_acquisition(ts)
    else:
        ch = OpticalChannel(name="ch", description="green", emission_lambda=510.0)
        plane = nwb.create_imaging_plane(name="plane", optical_channel=ch, description="", excitation_lambda=920.0,
                                         device=nwb.create_device(name="scope"), imaging_rate=rate,
                                         indicator="GCaMP6f", location="V1")
        mod = nwb.create_processing_module(name="ophys", description="ophys")
        seg = ImageSegmentation()
        mod.add(seg)
        ps = seg.create_plane_segmentation(name="ps", description="", imaging_plane=plane)
        for i in range(n_rois):
            ps.add_roi(id=int(out["ids"][i]), image_mask=out["masks"][i])
        rois = ps.create_roi_table_region(description="all", region=list(range(n_rois)))
        timing = {"timestamps": out["times"]} if timestamps else {"rate": rate, "starting_time": 2.0}
        fl = Fluorescence()
        mod.add(fl)
        data = out["F"].T if transposed and not timestamps else out["F"]
        fl.create_roi_response_series(name="RoiResponseSeries", data=data, rois=rois, unit="a.u.", **timing)
        if dff:
            df = DfOverF()
            mod.add(df)
            df.create_roi_response_series(name="RoiResponseSeries", data=out["dFF"], rois=rois, unit="1", **timing)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    if transposed and timestamps:  # pynwb refuses to build this; store it (roi, time) afterwards with h5py
        with h5py.File(path, "a") as f:
            key = "processing/ophys/Fluorescence/RoiResponseSeries/data"
            attrs = dict(f[key].attrs)
            del f[key]
            f[key] = out["F"].T
            f[key].attrs.update(attrs)
    return out


@pytest.fixture
def suite2p_factory(tmp_path):
    return lambda name="plane0", **kw: write_suite2p_plane(tmp_path / name, **kw)


@pytest.fixture
def caiman_factory(tmp_path, rng):
    """``make(name="results.hdf5", **kw) -> (path, arrays)``."""
    def make(name="results.hdf5", **kw):
        p = tmp_path / name
        return p, write_caiman(p, rng, **kw)
    return make


@pytest.fixture
def nwb_factory(tmp_path, rng):
    """``make(name="rec.nwb", **kw) -> (path, arrays)``."""
    pytest.importorskip("pynwb")

    def make(name="rec.nwb", **kw):
        p = tmp_path / name
        return p, write_nwb(p, rng, **kw)
    return make
