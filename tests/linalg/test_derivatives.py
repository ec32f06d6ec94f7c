"""Reverse mode (gradcheck, gradgradcheck), forward mode (jvp vs finite differences), vmap."""
from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.func import hessian, jacfwd, jacrev, jvp

import neurolatent.linalg as L

F64 = torch.float64
# gradcheck uses torch.jit internally in torch 2.13 and warns about it; not our deprecation.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _problems(seed):
    """Small float64 problems (n = 3, batch 2) for every solver, inputs requiring grad."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, dtype=F64, generator=g)  # noqa: E731
    n, m = 3, 2
    A = r(2, n, n) - 2 * torch.eye(n, dtype=F64)
    Ad = 0.3 * r(2, n, n)
    B, C, Q = r(2, m, m), r(2, n, m), r(2, n, n)
    Bc = r(2, n, m)
    Qp = 2 * torch.eye(n, dtype=F64) + 0.1 * r(n, n)
    R = torch.eye(m, dtype=F64) + 0.1 * r(m, m)
    return {
        "sylvester": (L.solve_sylvester, (A, B, C)),
        "continuous_lyapunov": (L.solve_continuous_lyapunov, (A, Q)),
        "discrete_lyapunov": (L.solve_discrete_lyapunov, (Ad, Q)),
        "continuous_are": (L.solve_continuous_are, (A, Bc, Qp, R)),
        "discrete_are": (L.solve_discrete_are, (Ad, Bc, Qp, R)),
    }


NAMES = ["sylvester", "continuous_lyapunov", "discrete_lyapunov", "continuous_are", "discrete_are"]
LINEAR_METHODS = {"sylvester": ["scipy", "eig", "kron"], "continuous_lyapunov": ["scipy", "eig", "kron"],
                  "discrete_lyapunov": ["scipy", "eig", "kron"], "continuous_are": ["scipy", "torch"],
                  "discrete_are": ["scipy", "torch"]}
CASES = [(name, meth) for name in NAMES for meth in LINEAR_METHODS[name]]


@pytest.mark.parametrize("name,method", CASES)
def test_gradcheck_and_gradgradcheck(name, method, seed):
    fn, args = _problems(seed)[name]
    args = tuple(a.clone().requires_grad_() for a in args)
    f = lambda *a: fn(*a, method=method)  # noqa: E731
    # gradcheck's defaults (eps=1e-6, atol=1e-5, rtol=1e-3) compare the analytic Jacobian with
    # central finite differences in float64; forward-mode AD is checked in the same call.
    assert gradcheck(f, args, check_forward_ad=True)
    assert gradgradcheck(f, args)


@pytest.mark.parametrize("name", NAMES)
def test_jvp_matches_finite_differences(name, seed):
    fn, args = _problems(seed + 1)[name]
    g = torch.Generator().manual_seed(seed + 2)
    tangents = tuple(torch.randn(a.shape, dtype=F64, generator=g) for a in args)
    out, tan = jvp(fn, args, tangents)
    eps = 1e-5
    plus = fn(*(a + eps * t for a, t in zip(args, tangents)))
    minus = fn(*(a - eps * t for a, t in zip(args, tangents)))
    fd = (plus - minus) / (2 * eps)
    assert torch.allclose(out, fn(*args), atol=1e-12)
    # central differences: truncation O(eps^2) ~ 1e-10 times the third derivative, round-off
    # ~ 1e-16 / eps ~ 1e-11; 1e-7 relative leaves room for curvature of the Riccati maps.
    assert float((tan - fd).abs().max() / fd.abs().max()) < 1e-7


def test_jacrev_equals_jacfwd_via_vmap(seed):
    fn, (A, B, Q, R) = _problems(seed)["continuous_are"]
    f = lambda a: fn(a, B[0], Q, R)  # noqa: E731
    Jr = jacrev(f)(A[0])
    Jf = jacfwd(f)(A[0])
    assert Jr.shape == (3, 3, 3, 3)
    assert torch.allclose(Jr, Jf, atol=1e-10)      # two independent AD paths, same Jacobian


def test_gradient_through_broadcast_sums_over_batch(seed):
    """A shared (unbatched) A used against a batch of Q gets the sum of per-element gradients."""
    g = torch.Generator().manual_seed(seed)
    A = (torch.randn(4, 4, dtype=F64, generator=g) - 3 * torch.eye(4, dtype=F64)).requires_grad_()
    Q = torch.randn(5, 4, 4, dtype=F64, generator=g)
    L.solve_continuous_lyapunov(A, Q).square().sum().backward()
    total = torch.zeros_like(A)
    for q in Q:
        a = A.detach().clone().requires_grad_()
        L.solve_continuous_lyapunov(a, q).square().sum().backward()
        total += a.grad
    assert torch.allclose(A.grad, total, atol=1e-10)


def test_functorch_hessian_matches_autograd_hessian(seed):
    """Forward-over-reverse (torch.func.hessian) through the Riccati solver's custom rules."""
    fn, (A, B, Q, R) = _problems(seed)["continuous_are"]
    f = lambda a: fn(a, B[0], Q, R).trace()  # noqa: E731
    H = hessian(f)(A[0])
    H_ref = torch.autograd.functional.hessian(f, A[0])      # reverse-over-reverse
    assert torch.allclose(H, H_ref, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_equals_a_loop(name, seed):
    """torch.vmap over the leading batch of the first input (the others shared) equals a Python loop;
    check=False because the input checks read values, which vmap forbids (documented)."""
    fn, args = _problems(seed)[name]
    shared = [a[0] if a.dim() == 3 else a for a in args[1:]]
    out = torch.vmap(lambda a: fn(a, *shared, check=False))(args[0].detach())
    ref = torch.stack([fn(a, *shared) for a in args[0].detach()])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)  # the same kernels, batched: round-off only
