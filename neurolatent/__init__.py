"""neurolatent: manifold latent-variable models and gated-RNN theory for neuroscience."""
from ._version import __version__

__all__ = ["__version__"]
