"""Write ``data/demo_ring.nc``: the small synthetic ring recording ``neurolatent demo`` fits.

16 neurons x 300 bins at 10 Hz from :func:`neurolatent.datasets.make_demo_recording`
(ring bump tuning, kappa 3, noise 0.1, seed 0), float32 dF/F plus the ground-truth angle, written
with :func:`neurolatent.io.write_netcdf` (about 40 kB). Run from the repository root::

    python data/make_demo_data.py
"""
from __future__ import annotations

from pathlib import Path

from neurolatent.datasets import make_demo_recording
from neurolatent.io import write_netcdf

OUT = Path(__file__).resolve().parent / "demo_ring.nc"


def main() -> Path:
    return write_netcdf(make_demo_recording(), OUT)


if __name__ == "__main__":
    p = main()
    print(f"wrote {p} ({p.stat().st_size / 1024:.1f} kB)")
