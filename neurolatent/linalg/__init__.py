"""Differentiable solvers for the matrix equations of linear control theory (``nl.linalg``).

Sylvester, continuous/discrete Lyapunov and continuous/discrete algebraic Riccati equations,
batched torch tensors in and out, with reverse- and forward-mode derivatives by implicit
differentiation (Kao & Hennequin 2020): each derivative is one more equation of the same kind,
so nothing is differentiated through solver iterations and higher derivatives work.
"""
from .lyapunov import (controllability_gramian, observability_gramian, solve_continuous_lyapunov,
                       solve_discrete_lyapunov)
from .riccati import solve_continuous_are, solve_discrete_are
from .sylvester import solve_sylvester

__all__ = [
    "solve_sylvester",
    "solve_continuous_lyapunov",
    "solve_discrete_lyapunov",
    "solve_continuous_are",
    "solve_discrete_are",
    "controllability_gramian",
    "observability_gramian",
]
