"""Theory of random and gated recurrent networks (``nl.theory``).

Models (:class:`VanillaRNN`, :class:`GatedRNN`, :class:`GRU`, :class:`LSTM`), torch simulation with
analytic Jacobians, Lyapunov spectra (QR/Benettin), the stationary DMFT (:func:`dmft`), static
mean-field solutions (:func:`fixed_point_dmft`), random-matrix Jacobian spectra
(:func:`jacobian_spectrum`, :func:`empirical_spectrum`) and phase diagrams (:func:`phase_diagram`).

What was checked of ``GATED_RNN_NOTES.md`` (tests in ``tests/theory``):

* SCS table reproduced: Δ₀ = 1.9248 / 71.368, λ_max = 0.1125 / 0.7736 at g = 2 / 10 (within 0.5%
  and 2.3% / 1.1% of the N = 4096 network values); Δ̇ is the energy −1 eigenfunction of the
  Schrödinger operator (to 1e-5). Gauss–Hermite is avoided (uniform-grid smoothing, ``_quad``).
* Constant gates reduce exactly to SCS with g = g_h σ_r(0), τ = τ_h/σ_z(0) (derived; the
  independent Fourier route agrees to 1e-5).
* Zero fixed point: disk centred at −σ_z(0)/τ_h, radius σ_z(0) g_h σ_r(0)/τ_h, atoms −1/τ_z, −1/τ_r.
* Static equation: small-Δ coefficients (g²/4 − 1) and g⁴(α_r²/16 − 1/2) confirmed numerically,
  hence the tricritical point (g_h, α_r) = (2, 2√2); nonzero static solutions appear by a
  saddle-node at large α_r for √2 < g_h < 2 and never for g_h < √2.
* T-matrix support: ≥ 99.5% of eigenvalues of N = 600 chaotic gated networks inside; the GRU T of
  the notes re-derived; the LSTM T derived here (rank one). GRU/LSTM at N = 600: 98.0–99.8%
  inside, a leak of 0.15–1.85x that of a Ginibre matrix of the same size (the exact circular law
  itself leaves 1/sqrt(2πD) ≈ 1.6% outside at D = 600); the leak shrinks like N^-1/2 (GRU 0.5–0.9%
  at N = 2400). One LSTM setting (g_g = 1.5, b_f = 2) has its right edge set by the tail of its
  heavy-tailed cell states (``|c|`` up to 11): site statistics from an independent network leave ~0.5%
  outliers there at N = 1200 and 2400, the network's own site statistics leave 0.5–0.7% outside.
* Slow modes: ``#{|λ|<ε}/D`` follows P(σ_z < ε) (0.122 predicted vs 0.129 measured at α_z = 20).
* λ_max for α_z = 0 from the two-component eigenproblem (derived); for α_z > 0 from a sampled
  tangent DMFT (new here); both sit ~0.01–0.025 above N = 300 Benettin estimates, like SCS.
* Gradients (:func:`gradient_dmft`): the adjoint's asymptotic rate equals the mean-field λ_max
  (similar operators, to 1e-6); the zero-fixed-point closed form e^{-2sτ} I_0(2sGτ) to 2e-3.
* Finite-N: ⟨x²⟩ approaches Δ₀ as O(1/N) for SCS (−6% at N = 400, +1% at N = 2000).
"""
from .adjoint import adjoint_norms
from .dmft import DMFTConvergenceError, DMFTResult, dmft
from .dmft_grid import dmft_grid
from .fixed_points import StaticSolution, fixed_point_dmft
from .gradients import GradientDMFTResult, gradient_dmft, gradient_rate_sweep
from .gru_fixed_points import (continue_fixed_points, find_gru_fixed_points, gru_fixed_point_diagram,
                               gru_static_solutions)
from .lyapunov import LyapunovResult, lyapunov_max, lyapunov_spectrum
from .models import GRU, LSTM, GatedRNN, VanillaRNN, model_from_name
from .phase_diagram import parse_grid, phase_diagram
from .simulate import Network, Trajectory, jacobian, sample_network, simulate
from .spectrum import EmpiricalSpectrum, SpectrumPrediction, empirical_spectrum, jacobian_spectrum
from .transition import chaos_line, static_line, transient_lifetimes, transition_diagram, tricritical_point

__all__ = ["VanillaRNN", "GatedRNN", "GRU", "LSTM", "model_from_name", "simulate", "sample_network",
           "jacobian", "Network", "Trajectory", "lyapunov_spectrum", "lyapunov_max", "LyapunovResult",
           "dmft", "dmft_grid", "DMFTResult", "DMFTConvergenceError", "fixed_point_dmft", "StaticSolution",
           "jacobian_spectrum", "empirical_spectrum", "SpectrumPrediction", "EmpiricalSpectrum",
           "phase_diagram", "parse_grid", "gradient_dmft", "GradientDMFTResult",
           "gradient_rate_sweep", "adjoint_norms", "gru_static_solutions", "gru_fixed_point_diagram",
           "find_gru_fixed_points", "continue_fixed_points", "transition_diagram", "static_line", "chaos_line",
           "tricritical_point", "transient_lifetimes"]
