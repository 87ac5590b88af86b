"""The unary math functions of fastdl.functional.elementwise_math and fastdl.special against
torch 2.13 (values, dtypes, gradients) and, for the special functions, against scipy.special as
an accuracy reference in float64: fresh random inputs from a fixed seed, odd shapes, edge values
(0, +-inf, NaN, poles, domain ends), float32 and float64, float64 gradchecks."""
import numpy as np
import pytest
import scipy.special as sp
import torch

import fastdl
from fastdl.testing import gradcheck

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run (CI must not flake)
INF, NAN = float("inf"), float("nan")
SHAPE = (3, 7)


def _uniform(lo, hi):
    return lambda shape: rng.uniform(lo, hi, shape)


def _magnitudes(lo, hi):
    """Random signs, |x| in [lo, hi]: away from 0."""
    return lambda shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def _away_from_integers(lo, hi):
    """Values in [lo, hi] at least 0.1 from every integer (the poles of the gamma family)."""
    return lambda shape: rng.integers(lo, hi, shape) + rng.uniform(0.1, 0.9, shape)


# name -> (fastdl function, torch function, sampler of the differentiable domain, edge values,
# float64 relative tolerance against torch)
UNARY = {
    "asin": (fastdl.asin, torch.asin, _uniform(-0.95, 0.95), [0.0, 1.0, -1.0, 1.5, INF, NAN],
             1e-14),
    "acos": (fastdl.acos, torch.acos, _uniform(-0.95, 0.95), [0.0, 1.0, -1.0, -1.5, NAN], 1e-14),
    "atan": (fastdl.atan, torch.atan, _uniform(-4, 4), [0.0, INF, -INF, NAN], 1e-14),
    "sinh": (fastdl.sinh, torch.sinh, _uniform(-3, 3), [0.0, 800.0, -INF, NAN], 1e-14),
    "cosh": (fastdl.cosh, torch.cosh, _uniform(-3, 3), [0.0, 800.0, -INF, NAN], 1e-14),
    "asinh": (fastdl.asinh, torch.asinh, _uniform(-4, 4), [0.0, 1e300, -INF, NAN], 1e-14),
    "acosh": (fastdl.acosh, torch.acosh, _uniform(1.1, 5), [1.0, 0.5, INF, NAN], 1e-14),
    "atanh": (fastdl.atanh, torch.atanh, _uniform(-0.9, 0.9), [0.0, 1.0, -1.0, 2.0, NAN], 1e-14),
    "exp2": (fastdl.exp2, torch.exp2, _uniform(-5, 5), [0.0, 1100.0, -1100.0, -INF, NAN], 1e-14),
    "erf": (fastdl.erf, torch.erf, _uniform(-3, 3), [0.0, -0.0, 6.0, -INF, NAN], 1e-14),
    "erfc": (fastdl.erfc, torch.erfc, _uniform(-3, 5), [0.0, 26.0, 30.0, INF, -INF, NAN], 1e-13),
    "erfinv": (fastdl.erfinv, torch.erfinv, _uniform(-0.99, 0.99),
               [0.0, 1.0, -1.0, 1.5, 1 - 1e-15, -1 + 1e-12, NAN], 1e-13),
    "lgamma": (fastdl.lgamma, torch.lgamma, _away_from_integers(-4, 6),
               [0.0, -0.0, -1.0, -2.5, 1.0, 2.0, 1e-300, 1e300, INF, -INF, NAN], 1e-13),
    "digamma": (fastdl.digamma, torch.digamma, _away_from_integers(-4, 6),
                [0.0, -0.0, -1.0, -2.5, 1e-8, 1e300, INF, NAN], 1e-12),
    "i0": (fastdl.i0, torch.i0, _uniform(-5, 5), [0.0, 40.0, -700.0, INF, NAN], 1e-14),
    "frac": (fastdl.frac, torch.frac, _away_from_integers(-4, 4), [0.0, -2.5, 1e20, NAN], 0.0),
    "special.i0e": (fastdl.special.i0e, torch.special.i0e, _magnitudes(0.1, 40),
                    [0.0, 1e4, -INF, NAN], 1e-14),
    "special.i1": (fastdl.special.i1, torch.special.i1, _uniform(-5, 5),
                   [0.0, 40.0, -700.0, -INF, NAN], 1e-14),
    "special.i1e": (fastdl.special.i1e, torch.special.i1e, _magnitudes(0.1, 40),
                    [0.0, 1e4, INF, -INF, NAN], 1e-14),
    "special.erfcx": (fastdl.special.erfcx, torch.special.erfcx, _uniform(-3, 15),
                      [0.0, 1e5, -30.0, INF, NAN], 1e-13),
    "special.ndtr": (fastdl.special.ndtr, torch.special.ndtr, _uniform(-5, 5),
                     [0.0, -40.0, INF, -INF, NAN], 1e-13),
    "special.ndtri": (fastdl.special.ndtri, torch.special.ndtri, _uniform(0.02, 0.98),
                      [0.0, 1.0, 0.5, -0.5, 1e-300, NAN], 1e-13),
    "special.log_ndtr": (fastdl.special.log_ndtr, torch.special.log_ndtr, _uniform(-30, 5),
                         [0.0, -40.0, 40.0, INF, -INF, NAN], 1e-13),
    "special.entr": (fastdl.special.entr, torch.special.entr, _uniform(0.05, 3),
                     [0.0, -1.0, INF, NAN], 1e-14),
}

# torch's own float64 implementation is less accurate than this near these points (the zeros of
# lgamma and digamma); its ndtr, 0.5 * erfc(-x / sqrt(2)), has ~1e-10 relative error in the lower
# tail where fastdl's has ~1e-15 (checked against scipy below)
TORCH_ATOL = {"lgamma": 1e-13, "digamma": 1e-12}
TORCH_RTOL = {"special.ndtr": 1e-9}
# float32 gradients: torch's log_ndtr derivative exp(-(y + x^2 / 2)) cancels in float32 for
# x << 0, so both libraries' float32 results carry ~1e-4 relative error there
GRAD_RTOL_FLOAT32 = {"special.log_ndtr": 1e-3}


def _assert_same(ours, theirs, rtol, atol=0.0):
    ours = ours.detach().numpy()
    theirs = theirs.detach().numpy()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unary_values_edges_and_gradients_match_torch(name, dtype):
    ours_fn, torch_fn, sample, edges, rtol64 = UNARY[name]
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float32
        values = np.concatenate([sample(SHAPE).ravel(), np.asarray(edges)]).astype(dtype)
    single = dtype == np.float32
    rtol = 4e-6 if single else TORCH_RTOL.get(name, rtol64)
    atol = 1e-6 if single else TORCH_ATOL.get(name, 0.0)
    with np.errstate(all="ignore"):
        _assert_same(ours_fn(fastdl.tensor(values)), torch_fn(torch.tensor(values)), rtol, atol)
    # the gradient inside the domain, odd shape, against torch's
    x = sample(SHAPE).astype(dtype)
    ours_in = fastdl.tensor(x, requires_grad=True)
    torch_in = torch.tensor(x, requires_grad=True)
    seed = rng.standard_normal(SHAPE).astype(dtype)
    ours_fn(ours_in).backward(fastdl.tensor(seed))
    torch_fn(torch_in).backward(torch.tensor(seed))
    _assert_same(ours_in.grad, torch_in.grad, GRAD_RTOL_FLOAT32.get(name, 1e-5) if single else 1e-9,
                 1e-6 if single else 1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck_and_integer_inputs(name):
    ours_fn, torch_fn, sample, _, _ = UNARY[name]
    x = sample((2, 3))
    assert gradcheck(ours_fn, [fastdl.tensor(x, requires_grad=True)])
    ints = np.array([[0, 1, 2], [3, 1, 0]])
    if name == "frac":  # torch: "frac_cpu" not implemented for 'Long'
        with pytest.raises(NotImplementedError):
            torch_fn(torch.tensor(ints))
        with pytest.raises(NotImplementedError):
            ours_fn(fastdl.tensor(ints))
        return
    with np.errstate(all="ignore"):
        _assert_same(ours_fn(fastdl.tensor(ints)), torch_fn(torch.tensor(ints)), 4e-6, 1e-6)


# float64 accuracy against scipy.special (torch's own implementations are less accurate for
# some: its trigamma has ~1e-9 relative error)
SCIPY = {
    "erfc": (fastdl.erfc, sp.erfc, np.concatenate([rng.uniform(-6, 26, 400), [0.4, 0.6]]), 1e-13),
    "special.erfcx": (fastdl.special.erfcx, sp.erfcx, rng.uniform(-20, 1e3, 400), 1e-13),
    "erfinv": (fastdl.erfinv, sp.erfinv,
               np.concatenate([rng.uniform(-1, 1, 400), 1 - 10 ** -rng.uniform(1, 16, 50)]), 1e-14),
    "special.ndtri": (fastdl.special.ndtri, sp.ndtri,
                      np.concatenate([rng.uniform(0, 1, 400), 10 ** -rng.uniform(1, 300, 50)]),
                      1e-14),
    "lgamma": (fastdl.lgamma, sp.gammaln, np.concatenate([
        rng.uniform(0, 30, 400), 10 ** rng.uniform(-300, 300, 50), 1 + rng.uniform(-0.2, 0.2, 50),
        2 + rng.uniform(-0.2, 0.2, 50), -rng.uniform(0.05, 0.45, 50) - rng.integers(0, 9, 50)]),
               1e-13),  # scipy's own error near the zero at 2 is ~6e-14 (torch's as well)
    "digamma": (fastdl.digamma, sp.digamma, np.concatenate([
        rng.uniform(0, 30, 400), -rng.uniform(0.05, 0.95, 50) - rng.integers(0, 9, 50),
        10 ** rng.uniform(-300, 300, 50)]), 1e-13),
    "i0": (fastdl.i0, sp.i0, rng.uniform(-700, 700, 400), 1e-14),
    "special.i0e": (fastdl.special.i0e, sp.i0e, rng.uniform(-1e4, 1e4, 400), 1e-14),
    "special.i1": (fastdl.special.i1, sp.i1, rng.uniform(-700, 700, 400), 1e-14),
    "special.i1e": (fastdl.special.i1e, sp.i1e, rng.uniform(-60, 60, 400), 1e-14),
    "special.log_ndtr": (fastdl.special.log_ndtr, sp.log_ndtr, rng.uniform(-1e3, 8, 400), 1e-14),
    # x / sqrt(2) is rounded before the exp(-x^2 / 2) far down the tail: ~1e-13 there
    "special.ndtr": (fastdl.special.ndtr, sp.ndtr, rng.uniform(-37, 8, 400), 1e-13),
}


@pytest.mark.parametrize("name", sorted(SCIPY))
def test_float64_accuracy_against_scipy(name):
    ours_fn, scipy_fn, x, rtol = SCIPY[name]
    ours = ours_fn(fastdl.tensor(x)).numpy()
    # lgamma's zeros on the negative axis (-2.457..., -2.747...) come from a reflection that
    # cancels: 1e-15 absolute there (a relative bound cannot hold at a zero)
    np.testing.assert_allclose(ours, scipy_fn(x), rtol=rtol, atol=1e-15 if name == "lgamma" else 0)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_polygamma_against_scipy_and_torch(n):
    x = np.concatenate([rng.uniform(0.05, 30, 200),
                        -rng.uniform(0.1, 0.9, 50) - rng.integers(0, 6, 50)])
    ours = fastdl.polygamma(n, fastdl.tensor(x)).numpy()
    np.testing.assert_allclose(ours, sp.polygamma(n, x), rtol=1e-13)
    np.testing.assert_allclose(ours, torch.polygamma(n, torch.tensor(x)).numpy(), rtol=1e-8)
    _assert_same(fastdl.tensor(x.astype(np.float32)).polygamma(n),
                 torch.tensor(x.astype(np.float32)).polygamma(n), 1e-5)
    assert fastdl.polygamma(n, fastdl.tensor([0.0])).item() == (-1) ** (n + 1) * INF


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polygamma_at_poles_and_infinities_like_torch(n, dtype):
    """torch's trigamma at x = -1, -2 ... is pi^2 / sin(pi x)^2 of the rounded pi x (finite,
    ~1e15 in float32, ~1e32 in float64); its n >= 2 go through Cephes' zeta: NaN at +inf,
    the poles' inf at -inf. digamma's gradient is that trigamma."""
    x = np.array([0.0, -0.0, -1.0, -2.0, -5.0, -501.0, -1e30, INF, -INF, NAN], dtype=dtype)
    _assert_same(fastdl.polygamma(n, fastdl.tensor(x)), torch.polygamma(n, torch.tensor(x)),
                 1e-6)
    ours, theirs = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fastdl.digamma(ours).sum().backward()
    torch.digamma(theirs).sum().backward()
    _assert_same(ours.grad, theirs.grad, 1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_ndtr_gradient_far_in_the_lower_tail(dtype):
    """phi(x) / Phi(x) without cancellation (torch's exp(-(log_ndtr(x) + x^2 / 2)) / sqrt(2 pi)
    is 0.3% off at -501 in float32 and 0.4% at -4988429 in float64), against mpmath."""
    mpmath = pytest.importorskip("mpmath")
    x = np.array([-1e20, -4988429.2, -13437.7, -501.0, -40.0, -3.0, 0.0, 2.0, 9.0], dtype=dtype)
    t = fastdl.tensor(x, requires_grad=True)
    fastdl.special.log_ndtr(t).sum().backward()
    with mpmath.workdps(80):  # exp(-x^2 / 2) of x = -1e20 needs the digits
        exact = [float(mpmath.npdf(v) / mpmath.ncdf(v)) for v in x.astype(np.float64)]
    np.testing.assert_allclose(t.grad.numpy(), exact, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_trigamma_near_poles_is_accurate_in_float32():
    """Within a few ulps of a pole torch's float32 trigamma is up to 23% off (sin(pi x) of the
    rounded pi x); fastdl's agrees with scipy's float64 value of the same float32 x."""
    x = np.array([-5.0000024, -7.9999557, -2.0035715, -5.96053886], dtype=np.float32)
    ours = fastdl.polygamma(1, fastdl.tensor(x)).numpy()
    np.testing.assert_allclose(ours, sp.polygamma(1, x.astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma_gradients(n):
    x = rng.uniform(0.3, 4, (2, 5))
    ours, theirs = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fastdl.polygamma(n, ours).sum().backward()
    torch.polygamma(n, theirs).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8)
    assert gradcheck(lambda t: fastdl.polygamma(n, t), [fastdl.tensor(x, requires_grad=True)])
    assert fastdl.polygamma(0, fastdl.tensor(x)).allclose(fastdl.digamma(fastdl.tensor(x)))


def test_polygamma_errors_like_torch():
    with pytest.raises(RuntimeError, match="negative n"):
        torch.polygamma(-1, torch.ones(2))
    with pytest.raises(RuntimeError, match="negative n"):
        fastdl.polygamma(-1, fastdl.ones(2))
    with pytest.raises(TypeError):
        fastdl.polygamma(1.5, fastdl.ones(2))


@pytest.mark.parametrize("p", [1, 2, 4])
def test_mvlgamma(p):
    x = rng.uniform(p, p + 4, (4, 3))
    ours, theirs = fastdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = fastdl.mvlgamma(ours, p), torch.mvlgamma(theirs, p)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-13)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)
    assert gradcheck(lambda t: t.mvlgamma(p), [fastdl.tensor(x, requires_grad=True)])
    np.testing.assert_allclose(fastdl.special.multigammaln(fastdl.tensor(x), p).numpy(),
                               ref.detach().numpy(), rtol=1e-13)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        fastdl.mvlgamma(fastdl.tensor(x), 0)


def test_second_derivatives_of_the_gamma_and_bessel_families():
    """lgamma -> digamma -> polygamma(1) -> polygamma(2); i0 -> i1 -> i0 - i1 / x."""
    from fastdl.testing import gradgradcheck
    x = rng.uniform(0.5, 3, (2, 3))
    for fn in (fastdl.lgamma, fastdl.digamma, fastdl.i0, fastdl.special.i1, fastdl.special.i0e,
               fastdl.special.i1e, fastdl.erfinv, fastdl.special.ndtri, fastdl.special.log_ndtr,
               fastdl.special.erfcx):
        arg = x / 4 if fn in (fastdl.erfinv, fastdl.special.ndtri) else x
        assert gradgradcheck(fn, [fastdl.tensor(arg, requires_grad=True)]), fn


def test_bessel_derivatives_at_zero_are_torchs():
    for ours_fn, torch_fn in ((fastdl.special.i1, torch.special.i1),
                              (fastdl.special.i1e, torch.special.i1e),
                              (fastdl.special.i0e, torch.special.i0e), (fastdl.i0, torch.i0)):
        ours, theirs = fastdl.tensor([0.0, 1.0], requires_grad=True), \
            torch.tensor([0.0, 1.0], requires_grad=True)
        ours_fn(ours).sum().backward()
        torch_fn(theirs).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)


def test_special_namespace_has_torchs_functions():
    names = ("erf erfc erfcx erfinv expit logit xlogy xlog1py i0 i0e i1 i1e gammaln digamma psi "
             "polygamma multigammaln log1p expm1 exp2 sinc round softmax log_softmax logsumexp "
             "entr ndtr ndtri log_ndtr").split()
    for name in names:
        assert hasattr(torch.special, name) and callable(getattr(fastdl.special, name)), name
        assert name in fastdl.special.__all__
    x = rng.uniform(0.1, 0.9, (3, 4))
    for name in ("expit", "logit", "gammaln", "psi", "log1p", "expm1", "exp2", "sinc", "round",
                 "erf", "i0"):
        _assert_same(getattr(fastdl.special, name)(fastdl.tensor(x)),
                     getattr(torch.special, name)(torch.tensor(x)), 1e-12)
    for name in ("softmax", "log_softmax", "logsumexp"):
        _assert_same(getattr(fastdl.special, name)(fastdl.tensor(x), 1),
                     getattr(torch.special, name)(torch.tensor(x), 1), 1e-12)
    _assert_same(fastdl.special.xlogy(fastdl.tensor(x), fastdl.tensor(x)),
                 torch.special.xlogy(torch.tensor(x), torch.tensor(x)), 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_xlog1py(dtype):
    x = np.concatenate([rng.uniform(-2, 2, (3, 5)), [[0, 0, 0, 1, 2]]]).astype(dtype)
    y = np.concatenate([rng.uniform(-0.9, 3, (3, 5)), [[-1, NAN, 2, -1, -2]]]).astype(dtype)
    with np.errstate(all="ignore"):
        _assert_same(fastdl.special.xlog1py(fastdl.tensor(x), fastdl.tensor(y)),
                     torch.special.xlog1py(torch.tensor(x), torch.tensor(y)), 1e-6)
    # broadcasting, a scalar operand, integer promotion
    _assert_same(fastdl.special.xlog1py(fastdl.tensor(x[:1]), 0.5),
                 torch.special.xlog1py(torch.tensor(x[:1]), 0.5), 1e-6)
    _assert_same(fastdl.special.xlog1py(fastdl.tensor([1, 2]), fastdl.tensor([[3], [4]])),
                 torch.special.xlog1py(torch.tensor([1, 2]), torch.tensor([[3], [4]])), 1e-6)
    a, b = rng.uniform(-2, 2, (3, 1)), rng.uniform(-0.5, 2, (4,))
    pairs = [(fastdl.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True))
             for v in (np.vstack([a, [[0.0]]]), b)]
    fastdl.special.xlog1py(*[p[0] for p in pairs]).sum().backward()
    torch.special.xlog1py(*[p[1] for p in pairs]).sum().backward()
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    assert gradcheck(fastdl.special.xlog1py, [fastdl.tensor(a, requires_grad=True),
                                              fastdl.tensor(b, requires_grad=True)])


def test_aliases_are_the_same_functions():
    assert fastdl.arcsin is fastdl.asin and fastdl.arccos is fastdl.acos
    assert fastdl.arctan is fastdl.atan and fastdl.arctan2 is fastdl.atan2
    assert fastdl.arcsinh is fastdl.asinh and fastdl.arccosh is fastdl.acosh
    assert fastdl.arctanh is fastdl.atanh and fastdl.absolute is fastdl.abs
    assert fastdl.fix is fastdl.trunc and fastdl.special.psi is fastdl.digamma
    assert fastdl.special.gammaln is fastdl.lgamma and fastdl.special.expit is fastdl.sigmoid
