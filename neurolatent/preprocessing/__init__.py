"""Preprocessing of recording Datasets: neuropil, dF/F, z-scoring, binning, cell selection, deconvolution.

Every function takes a Dataset in the layout of :mod:`neurolatent.io`, returns a new Dataset (the
input is not modified) and appends ``{step, params, neurolatent}`` to ``attrs["provenance"]``.
"""
from .binning import bin_time
from .deconvolve import deconvolve
from .dff import baseline_window, dff
from .neuropil import neuropil_correct
from .selection import select_cells
from .zscore import zscore

__all__ = ["neuropil_correct", "dff", "baseline_window", "zscore", "bin_time", "select_cells", "deconvolve"]
