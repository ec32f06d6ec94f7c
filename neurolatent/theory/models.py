"""Random recurrent network models studied by the theory module.

Four small frozen dataclasses describe *ensembles* of random networks (not one network):

``VanillaRNN(g, tau=1)``
    Sompolinsky–Crisanti–Sommers (1988) flow

    .. math:: \\tau \\dot x_i = -x_i + \\sum_j J_{ij} \\tanh(x_j), \\qquad J_{ij} \\sim N(0, g^2/N).

``GatedRNN(g_h, alpha_z, alpha_r, ...)``
    Gated flow of Krishnamurthy, Can & Schwab (PRX 12, 011011, 2022)

    .. math::
        \\tau_h \\dot h &= \\sigma_z(z) \\odot [-h + J^h (\\sigma_r(r) \\odot \\phi(h))] \\\\
        \\tau_z \\dot z &= -z + J^z \\phi(h), \\qquad \\tau_r \\dot r = -r + J^r \\phi(h)

    with :math:`\\phi(x) = \\tanh(g_h x + \\beta_h)`, entries of :math:`J^{h,z,r}` iid
    :math:`N(0, 1/N)` and the gate nonlinearity chosen by ``gate_bias``:

    * ``"subtract"`` (default, the notes' form): :math:`\\sigma_k(x) = 1/(1 + e^{-\\alpha_k x + \\beta_k})`,
      so :math:`\\sigma_k(0) = 1/(1+e^{\\beta_k})`;
    * ``"add"``: :math:`\\sigma_k(x) = 1/(1 + e^{-\\alpha_k x - \\beta_k})`, so :math:`\\sigma_k(0) = 1/(1+e^{-\\beta_k})`.

    The state vector is ordered ``(h, z, r)``, each of length N.

``GRU(g_z, g_r, g_h, b_z, b_r, b_h, update="new")``
    Discrete-time map (no input) with :math:`U_k` iid :math:`N(0, g_k^2/N)`:
    :math:`z = \\sigma(U_z h + b_z)`, :math:`r = \\sigma(U_r h + b_r)`,
    :math:`\\tilde h = \\tanh(U_h (r \\odot h) + b_h)` and
    ``update="new"``: :math:`h' = (1-z) h + z \\tilde h` (z weighs the new candidate; the notes'
    form), ``update="old"``: :math:`h' = z h + (1-z) \\tilde h` (PyTorch's ``nn.GRU`` form).

``LSTM(g_i, g_f, g_o, g_g, b_i, b_f, b_o, b_g)``
    Discrete-time map on ``(h, c)`` (state ordered h then c):
    :math:`c' = f c + i \\tanh(a_g)`, :math:`h' = o \\tanh(c')`, gates :math:`\\sigma(U_k h + b_k)`,
    :math:`U_k` iid :math:`N(0, g_k^2/N)`.

Every constructor validates its arguments: gains and time constants must be finite and
non-negative (time constants strictly positive), biases finite; otherwise a ``ValueError`` names
the parameter, the value and what is expected.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["VanillaRNN", "GatedRNN", "GRU", "LSTM", "Model", "model_from_name"]


def _check(obj, gains=(), positives=(), finites=()) -> None:
    cls = type(obj).__name__
    for name in (*gains, *positives, *finites):
        v = getattr(obj, name)
        if isinstance(v, bool):
            raise TypeError(f"{cls}.{name} must be a real number, got {v!r}")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"{cls}.{name} must be a real number, got {v!r}") from None
        object.__setattr__(obj, name, v)
        if not math.isfinite(v):
            raise ValueError(f"{cls}.{name} must be finite, got {v!r}; pass a finite real number")
    for name in gains:
        if getattr(obj, name) < 0:
            raise ValueError(
                f"{cls}.{name} is a gain and must be >= 0, got {getattr(obj, name)!r}; "
                "flip the sign of the corresponding weights instead of the gain"
            )
    for name in positives:
        if getattr(obj, name) <= 0:
            raise ValueError(f"{cls}.{name} is a time constant and must be > 0, got {getattr(obj, name)!r}")


@dataclass(frozen=True)
class VanillaRNN:
    """SCS rate network :math:`\\tau\\dot x = -x + J\\tanh(x)`, :math:`J_{ij}\\sim N(0,g^2/N)`.

    Parameters
    ----------
    g : float
        Coupling gain (>= 0). The zero fixed point loses stability at ``g = 1``.
    tau : float
        Time constant (> 0).

    Examples
    --------
    >>> VanillaRNN(2.0).state_size(100)
    100
    """

    g: float
    tau: float = 1.0
    kind = "flow"

    def __post_init__(self):
        _check(self, gains=("g",), positives=("tau",))

    def state_size(self, N: int) -> int:
        return N


@dataclass(frozen=True)
class GatedRNN:
    """Gated RNN of Krishnamurthy, Can & Schwab (2022); see the module docstring for the equations.

    Parameters
    ----------
    g_h : float
        Gain of the activation :math:`\\phi(x) = \\tanh(g_h x + \\beta_h)` (>= 0).
    alpha_z, alpha_r : float
        Sensitivities of the update (z) and output (r) gates (>= 0).
    beta_z, beta_r, beta_h : float
        Gate biases and activation bias (finite, any sign).
    tau_h, tau_z, tau_r : float
        Time constants (> 0).
    gate_bias : {"subtract", "add"}
        Sign convention of the gate bias: ``"subtract"`` means
        :math:`\\sigma_k(x) = 1/(1+e^{-\\alpha_k x + \\beta_k})`, ``"add"`` means
        :math:`1/(1+e^{-\\alpha_k x - \\beta_k})`.

    Examples
    --------
    >>> m = GatedRNN(g_h=3.0, alpha_z=5.0, alpha_r=0.0)
    >>> round(m.gate_at_zero("z"), 3)
    0.5
    >>> m.state_size(10)
    30
    """

    g_h: float
    alpha_z: float = 0.0
    alpha_r: float = 0.0
    beta_z: float = 0.0
    beta_r: float = 0.0
    beta_h: float = 0.0
    tau_h: float = 1.0
    tau_z: float = 1.0
    tau_r: float = 1.0
    gate_bias: str = "subtract"
    kind = "flow"

    def __post_init__(self):
        _check(self, gains=("g_h", "alpha_z", "alpha_r"), positives=("tau_h", "tau_z", "tau_r"),
               finites=("beta_z", "beta_r", "beta_h"))
        if self.gate_bias not in ("subtract", "add"):
            raise ValueError(f"GatedRNN.gate_bias must be 'subtract' or 'add', got {self.gate_bias!r}")

    def state_size(self, N: int) -> int:
        return 3 * N

    def gate_offset(self, k: str) -> float:
        """The constant c in :math:`\\sigma_k(x) = \\mathrm{sigmoid}(\\alpha_k x + c)`."""
        beta = {"z": self.beta_z, "r": self.beta_r}[k]
        return -beta if self.gate_bias == "subtract" else beta

    def gate_at_zero(self, k: str) -> float:
        """:math:`\\sigma_k(0)` for ``k`` in ``{"z", "r"}``."""
        return 1.0 / (1.0 + math.exp(-self.gate_offset(k)))


@dataclass(frozen=True)
class GRU:
    """Randomly initialised GRU map; see the module docstring for the equations.

    Parameters
    ----------
    g_z, g_r, g_h : float
        Standard deviations times :math:`\\sqrt N` of the recurrent weights (>= 0).
    b_z, b_r, b_h : float
        Biases (finite).
    update : {"new", "old"}
        Whether z weighs the new candidate (``"new"``) or the old state (``"old"``, PyTorch).

    Examples
    --------
    >>> GRU(g_h=2.0, b_z=-3.0).state_size(50)
    50
    """

    g_z: float = 1.0
    g_r: float = 1.0
    g_h: float = 1.0
    b_z: float = 0.0
    b_r: float = 0.0
    b_h: float = 0.0
    update: str = "new"
    kind = "map"

    def __post_init__(self):
        _check(self, gains=("g_z", "g_r", "g_h"), finites=("b_z", "b_r", "b_h"))
        if self.update not in ("new", "old"):
            raise ValueError(f"GRU.update must be 'new' or 'old', got {self.update!r}")

    def state_size(self, N: int) -> int:
        return N


@dataclass(frozen=True)
class LSTM:
    """Randomly initialised LSTM map on (h, c); see the module docstring for the equations.

    Parameters
    ----------
    g_i, g_f, g_o, g_g : float
        Weight gains of the input, forget, output gates and the candidate (>= 0).
    b_i, b_f, b_o, b_g : float
        Biases (finite). A large ``b_f`` closes nothing: it keeps the forget gate open (f -> 1)
        and piles eigenvalues up at 1.

    Examples
    --------
    >>> LSTM(b_f=5.0).state_size(50)
    100
    """

    g_i: float = 1.0
    g_f: float = 1.0
    g_o: float = 1.0
    g_g: float = 1.0
    b_i: float = 0.0
    b_f: float = 0.0
    b_o: float = 0.0
    b_g: float = 0.0
    kind = "map"

    def __post_init__(self):
        _check(self, gains=("g_i", "g_f", "g_o", "g_g"), finites=("b_i", "b_f", "b_o", "b_g"))

    def state_size(self, N: int) -> int:
        return 2 * N


Model = VanillaRNN | GatedRNN | GRU | LSTM

_NAMES = {"vanilla": VanillaRNN, "scs": VanillaRNN, "gated": GatedRNN, "gru": GRU, "lstm": LSTM}


def model_from_name(name: str, **params) -> Model:
    """Build a model from a short name (``vanilla``/``scs``, ``gated``, ``gru``, ``lstm``).

    Unknown parameter names raise a ``TypeError`` listing the valid ones.

    Examples
    --------
    >>> model_from_name("gated", g_h=3.0, alpha_z=5.0)
    GatedRNN(g_h=3.0, alpha_z=5.0, alpha_r=0.0, beta_z=0.0, beta_r=0.0, beta_h=0.0, tau_h=1.0, tau_z=1.0, tau_r=1.0, gate_bias='subtract')
    """
    key = name.lower()
    if key not in _NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(_NAMES)}")
    cls = _NAMES[key]
    valid = {f.name for f in dataclasses.fields(cls)}
    bad = set(params) - valid
    if bad:
        raise TypeError(f"{cls.__name__} has no parameter(s) {sorted(bad)}; valid: {sorted(valid)}")
    return cls(**params)
