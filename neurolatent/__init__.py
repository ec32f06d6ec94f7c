"""neurolatent: manifold latent-variable models and gated-RNN theory for neuroscience.

The names most users type live here (``import neurolatent as nl``):

- recordings: ``nl.io.read``, ``nl.io.write_netcdf``, ``nl.preprocessing.dff``, ``nl.datasets``;
- mGPLVM: ``nl.MGPLVM``, ``nl.compare_manifolds``, ``nl.align_latents`` and the manifolds
  ``nl.Euclid``, ``nl.Torus``, ``nl.Sphere``, ``nl.SO3``, ``nl.Product`` (``nl.get_manifold("T1")``);
- theory: ``nl.theory`` (DMFT, Jacobian spectra, Lyapunov spectra, phase diagrams);
- supporting tools: ``nl.linalg`` (differentiable matrix equations) and ``nl.methods``.

Importing the package never changes torch's global default dtype.
"""
from ._version import __version__
from . import (
    datasets,
    distributions,
    inference,
    io,
    kernels,
    likelihoods,
    linalg,
    manifolds,
    methods,
    models,
    plotting,
    preprocessing,
    theory,
)
from .manifolds import SO3, Euclid, Manifold, Product, Sphere, Torus, align_latents, get_manifold
from .models import MGPLVM, compare_manifolds
from .fit_pipeline import fit_recording

__all__ = [
    "__version__",
    # subpackages
    "io",
    "preprocessing",
    "datasets",
    "manifolds",
    "kernels",
    "distributions",
    "likelihoods",
    "models",
    "inference",
    "theory",
    "linalg",
    "methods",
    "plotting",
    # mGPLVM
    "MGPLVM",
    "compare_manifolds",
    "fit_recording",
    "align_latents",
    "get_manifold",
    "Manifold",
    "Euclid",
    "Torus",
    "Sphere",
    "SO3",
    "Product",
]
