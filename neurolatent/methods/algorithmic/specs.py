"""Feature specifications in the CLRS convention (Veličković et al., ICML 2022).

Every feature an algorithm exposes has a **stage** (``input``: given once; ``hint``: one value per
step of the algorithm's trajectory; ``output``: the answer), a **location** (``node``: one value per
node, ``edge``: one per ordered pair of nodes, ``graph``: one per graph) and a **type**:

``scalar``      a real number (loss: squared error);
``mask``        a 0/1 flag, independently per element (loss: binary cross-entropy; metric: micro-F1);
``mask_one``    exactly one node carries the flag (loss: softmax cross-entropy over the nodes);
``categorical`` one of ``n_classes`` classes (loss: softmax cross-entropy; metric: accuracy);
``pointer``     a node points at another node, e.g. a predecessor ``pi[i] = j`` (loss: softmax
                cross-entropy over the ``n`` candidate nodes; metric: accuracy).

Values are stored in a sampler's batch as integers for the three index-like types (``mask_one`` and
``pointer`` as node indices, ``categorical`` as a class index, ``-1`` meaning *not defined here*:
ignored by losses and metrics) and as floats for ``scalar`` and ``mask``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

__all__ = ["STAGES", "LOCATIONS", "TYPES", "Feature", "Spec"]

STAGES = ("input", "hint", "output")
LOCATIONS = ("node", "edge", "graph")
TYPES = ("scalar", "mask", "mask_one", "categorical", "pointer")

# Which types make sense where: a pointer or a single marked element only exists among nodes.
_ALLOWED = {
    "node": set(TYPES),
    "edge": {"scalar", "mask", "categorical"},
    "graph": {"scalar", "mask", "categorical"},
}


@dataclass(frozen=True)
class Feature:
    """One named feature of an algorithm: its stage, location, type (and classes if categorical).

    Parameters
    ----------
    name : str
        The key of the feature in a batch (``"pi"``, ``"reach_h"``, ...).
    stage, location, type : str
        One of :data:`STAGES`, :data:`LOCATIONS`, :data:`TYPES`.
    n_classes : int, optional
        Number of classes; required for (and only for) ``type="categorical"``.

    Examples
    --------
    >>> Feature("pi", "output", "node", "pointer").integer
    True
    """

    name: str
    stage: str
    location: str
    type: str
    n_classes: int | None = None

    def __post_init__(self) -> None:
        for field, allowed in (("stage", STAGES), ("location", LOCATIONS), ("type", TYPES)):
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(f"feature {self.name!r}: {field} must be one of {allowed}, got {value!r}")
        if self.type not in _ALLOWED[self.location]:
            raise ValueError(f"feature {self.name!r}: a {self.location} feature cannot have type {self.type!r}; "
                             f"allowed there: {sorted(_ALLOWED[self.location])}")
        if (self.type == "categorical") != (self.n_classes is not None):
            raise ValueError(f"feature {self.name!r}: n_classes is required for categorical features and only "
                             f"for them (type {self.type!r}, n_classes {self.n_classes!r})")
        if self.n_classes is not None and self.n_classes < 2:
            raise ValueError(f"feature {self.name!r}: n_classes must be >= 2, got {self.n_classes}")

    @property
    def integer(self) -> bool:
        """Whether values are stored as integer indices (mask_one, pointer, categorical)."""
        return self.type in ("mask_one", "pointer", "categorical")

    def value_shape(self, n_nodes: int) -> tuple[int, ...]:
        """Shape of one value of this feature for a graph of ``n_nodes`` nodes (no batch/time axes).

        ``mask_one`` and ``pointer`` features are stored as node *indices*, so a node pointer has
        shape ``(n,)`` and a ``mask_one`` has shape ``()`` (which node is marked).
        """
        if self.type == "mask_one":
            return ()
        return {"node": (n_nodes,), "edge": (n_nodes, n_nodes), "graph": ()}[self.location]


class Spec(Mapping[str, Feature]):
    """The ordered collection of an algorithm's features, looked up by name.

    Parameters
    ----------
    features : iterable of Feature
        Names must be unique.

    Examples
    --------
    >>> spec = Spec([Feature("key", "input", "node", "scalar"), Feature("pred", "output", "node", "pointer")])
    >>> [f.name for f in spec.stage("output")]
    ['pred']
    """

    def __init__(self, features) -> None:
        self._features: dict[str, Feature] = {}
        for feature in features:
            if not isinstance(feature, Feature):
                raise TypeError(f"Spec expects Feature objects, got {type(feature).__name__}")
            if feature.name in self._features:
                raise ValueError(f"Spec: feature name {feature.name!r} appears twice")
            self._features[feature.name] = feature
        if not any(f.stage == "output" for f in self._features.values()):
            raise ValueError("Spec: an algorithm needs at least one output feature")

    def __getitem__(self, name: str) -> Feature:
        try:
            return self._features[name]
        except KeyError:
            raise KeyError(f"no feature {name!r}; known features: {list(self._features)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)

    def stage(self, stage: str) -> list[Feature]:
        """The features of one stage, in declaration order."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        return [f for f in self._features.values() if f.stage == stage]

    def __repr__(self) -> str:
        rows = ", ".join(f"{f.name}:{f.stage}/{f.location}/{f.type}" for f in self._features.values())
        return f"Spec({rows})"
