"""Method names and the objects they stand for (:data:`METHODS`, :func:`make_method`)."""
from __future__ import annotations

from typing import Callable

from .methods import EWC, MAS, AbsoluteFisher, EmpiricalFisherEWC, Finetune, Method, SynapticIntelligence
from .ncl import NCL, OWM, KFACLaplace

__all__ = ["METHODS", "make_method"]

METHODS: dict[str, Callable[..., Method]] = {
    "finetune": Finetune,
    "ewc": EWC,
    "ewc_empirical": EmpiricalFisherEWC,
    "af": AbsoluteFisher,
    "mas": MAS,
    "si": lambda **kw: SynapticIntelligence("si", **kw),
    "siu": lambda **kw: SynapticIntelligence("siu", **kw),
    "sib": lambda **kw: SynapticIntelligence("sib", **kw),
    "kfac": KFACLaplace,
    "ncl": NCL,
    "owm": OWM,
}


def make_method(method: str | Method, **kwargs) -> Method:
    """A :class:`Method` from a name in :data:`METHODS` (with ``kwargs``, e.g. ``strength=``) or as is.

    Examples
    --------
    >>> make_method("ewc", strength=10.0)
    EWC(strength=10.0, samples=1, max_samples=1000)
    """
    if isinstance(method, Method):
        if kwargs:
            raise TypeError(f"make_method: options {sorted(kwargs)} apply to method names only; "
                            f"{method!r} is already built")
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name ({sorted(METHODS)}) or a Method instance, got {type(method).__name__}")
    key = method.lower()
    if key not in METHODS:
        raise ValueError(f"unknown continual-learning method {method!r}; known methods are {sorted(METHODS)} "
                         "(or pass a Method instance)")
    return METHODS[key](**kwargs)

