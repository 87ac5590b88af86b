"""fastdl.special's Bessel and Airy functions, incomplete gamma functions, Hurwitz zeta and
orthogonal polynomials against torch.special (and scipy.special / mpmath where torch itself is
inaccurate): values in float64 and float32 over wide random ranges and at the special points,
dtypes, broadcasting, odd and empty shapes, gradients (where torch defines them), gradcheck
and errors."""
import numpy as np
import pytest

import fastdl
import fastdl.special as FS

torch = pytest.importorskip("torch")
TS = torch.special

UNARY = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
         "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
         "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0",
         "airy_ai"]
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]
SPECIAL_POINTS = [0.0, -0.0, 1e-300, -1e-300, 1e-5, -1e-5, 0.5, 1.0, -1.0, 2.0, 2.09, -2.09,
                  5.0, -5.0, 8.0, 8.3203353, 30.0, 88.8, -88.8, 103.9, 710.0, 1e20, -1e20,
                  1e300, np.inf, -np.inf, np.nan]


def _wide(rng, n=6000):
    return np.concatenate([rng.uniform(-12, 12, n), rng.uniform(-300, 300, n // 4),
                           10.0 ** rng.uniform(-8, 3, n // 4), -(10.0 ** rng.uniform(-8, 3, n // 4)),
                           SPECIAL_POINTS])


def _check(ours, ref, rtol, atol):
    """Same NaN / inf pattern (infinities with their sign), finite values close."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    inf = np.isinf(ref)
    np.testing.assert_array_equal(np.isinf(ours), inf)
    np.testing.assert_array_equal(ours[inf], ref[inf])
    finite = np.isfinite(ref)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=rtol, atol=atol)


# ---- Bessel and Airy ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", UNARY)
def test_unary_float64_matches_torch(name):
    x = _wide(np.random.default_rng(0))
    ours = getattr(FS, name)(fastdl.tensor(x, dtype=fastdl.float64))
    assert ours.dtype == fastdl.float64 and not ours.requires_grad
    # J and Y are relative near their zeros only to ~1e-16 absolute (Cephes' form, torch's too)
    _check(ours.numpy(), getattr(TS, name)(torch.from_numpy(x)).numpy(), 1e-13, 1e-15)


@pytest.mark.parametrize("name", UNARY)
def test_unary_float32_matches_torch(name):
    """torch computes in float32, fastdl in float64 rounded once: the difference is torch's
    float32 rounding, which for the oscillating J, Y and Ai includes the phase (x - pi/4 or
    2/3 |x|^1.5 rounded: an absolute error growing with |x|)."""
    with np.errstate(over="ignore"):
        x = _wide(np.random.default_rng(1)).astype(np.float32)
    ours = getattr(FS, name)(fastdl.tensor(x))
    assert ours.dtype == fastdl.float32
    ref = getattr(TS, name)(torch.from_numpy(x)).numpy()
    # the same NaN and inf (torch's float32 Ai underflows to 0 a little earlier than the
    # float64 value rounded); the finite values below
    _check(ours.numpy(), ref, 1.0, 1e-37)
    finite = np.isfinite(ref)
    o, t, a = ours.numpy()[finite], ref[finite], np.abs(x[finite]).astype(np.float64)
    phase = 2e-7 * a ** 1.5 if name == "airy_ai" else 2e-7 * a
    assert (np.abs(o - t) <= 2e-5 * np.abs(t) + 2e-6 + phase).all()


def test_unary_values_at_special_points():
    """Spot values independent of torch: J0(0) = 1, Y0(0) = -inf, K0(0) = inf, K and Y NaN
    for x < 0, Ai(0) = 1 / (3^(2/3) Gamma(2/3)), I0 NaN at inf (torch's convention),
    spherical j0 zero at +-inf."""
    x = fastdl.tensor([0.0, -1.0, np.inf, -np.inf], dtype=fastdl.float64)
    assert FS.bessel_j0(x).tolist()[:2] == [1.0, pytest.approx(0.7651976865579666, rel=1e-14)]
    assert FS.bessel_y0(x).tolist()[:2][0] == -np.inf and np.isnan(FS.bessel_y0(x).tolist()[1])
    k0 = FS.modified_bessel_k0(x).tolist()
    assert k0[0] == np.inf and np.isnan(k0[1]) and k0[2] == 0.0
    assert FS.airy_ai(x).tolist()[0] == pytest.approx(0.3550280538878172, rel=1e-15)
    assert np.isnan(FS.modified_bessel_i0(x).tolist()[2])
    assert FS.spherical_bessel_j0(x).tolist()[2:] == [0.0, 0.0]
    assert str(FS.bessel_j1(fastdl.tensor([-0.0])).tolist()[0]) == "-0.0"


def test_unary_against_scipy_where_available():
    sc = pytest.importorskip("scipy.special")
    x = np.random.default_rng(2).uniform(0.01, 40, 2000)
    for ours, ref in ((FS.modified_bessel_k1, sc.k1), (FS.scaled_modified_bessel_k0, sc.k0e),
                      (FS.spherical_bessel_j0, lambda v: sc.spherical_jn(0, v)),
                      (FS.airy_ai, lambda v: sc.airy(v)[0])):
        got = ours(fastdl.tensor(x, dtype=fastdl.float64)).numpy()
        np.testing.assert_allclose(got, ref(x), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1, 7, 1), (5, 3)])
def test_unary_shapes_and_integer_inputs(shape):
    r = np.random.default_rng(3)
    x = r.integers(-4, 9, shape)
    for name in ("bessel_j0", "modified_bessel_k1", "airy_ai"):
        ours = getattr(FS, name)(fastdl.tensor(x))
        ref = getattr(TS, name)(torch.from_numpy(x))
        assert tuple(ours.shape) == tuple(ref.shape) and ours.dtype == fastdl.float32
        _check(ours.numpy(), ref.numpy(), 1e-6, 1e-7)
    fastdl.set_default_dtype(fastdl.float64)
    try:
        assert FS.bessel_y1(fastdl.tensor(x)).dtype == fastdl.float64
    finally:
        fastdl.set_default_dtype(fastdl.float32)


def test_unary_non_contiguous_input():
    base = np.random.default_rng(4).uniform(0.1, 9, (6, 8))
    t = fastdl.tensor(base, dtype=fastdl.float64).t()[::2]
    _check(FS.bessel_y0(t).numpy(), TS.bessel_y0(torch.from_numpy(base).t()[::2]).numpy(),
           1e-13, 1e-15)


def test_unary_results_do_not_require_grad_as_in_torch():
    x = fastdl.tensor([0.5, 1.5], dtype=fastdl.float64, requires_grad=True)
    for name in UNARY:
        y = getattr(FS, name)(x)
        assert not y.requires_grad and y.grad_fn is None
        assert not getattr(TS, name)(torch.tensor([0.5], requires_grad=True)).requires_grad
    with pytest.raises(TypeError):
        FS.bessel_j0([1.0])


# ---- incomplete gamma --------------------------------------------------------------------------
def _gamma_grid(rng, n=4000):
    a = np.concatenate([10 ** rng.uniform(-3, 3, n), rng.uniform(0, 30, n)])
    x = np.concatenate([10 ** rng.uniform(-3, 3, n), rng.uniform(0, 30, n)])
    return a, x


def _temme_region(a, x):
    """Where torch uses the uniform asymptotic expansion, whose last factor it takes with a
    float32 pi (sqrt(2 * pi<float> * a)): there torch's float64 error is up to ~2e-9."""
    ratio = np.abs(x - a) / a
    return ((a > 20) & (a < 200) & (ratio < 0.3)) | ((a > 200) & (ratio < 4.5 / np.sqrt(a)))


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_float64_matches_torch(name):
    a, x = _gamma_grid(np.random.default_rng(5))
    ours = getattr(FS, name)(fastdl.tensor(a, dtype=fastdl.float64),
                             fastdl.tensor(x, dtype=fastdl.float64)).numpy()
    ref = getattr(TS, name)(torch.from_numpy(a), torch.from_numpy(x)).numpy()
    temme = _temme_region(a, x)
    _check(ours[~temme], ref[~temme], 1e-12, 1e-300)
    _check(ours[temme], ref[temme], 1e-8, 1e-300)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_against_scipy(name):
    """The oracle where torch is off: scipy's Cephes/Boost igam (float64 pi throughout),
    including a ~ x up to 1e5."""
    sc = pytest.importorskip("scipy.special")
    r = np.random.default_rng(6)
    a = np.concatenate([r.uniform(20, 200, 2000), 10 ** r.uniform(2, 5, 500)])
    x = a * np.concatenate([r.uniform(0.7, 1.3, 2000), 1 + r.uniform(-3, 3, 500) / np.sqrt(a[2000:])])
    ours = getattr(FS, name)(fastdl.tensor(a, dtype=fastdl.float64),
                             fastdl.tensor(x, dtype=fastdl.float64)).numpy()
    np.testing.assert_allclose(ours, getattr(sc, name)(a, x), rtol=1e-12, atol=1e-300)


def test_incomplete_gamma_float32_and_special_points():
    a = np.array([0, 0, 1, 1, -1, 1, np.inf, np.inf, 2, np.nan, 1, 1e-300, 0.5, 3, 1e-30, 5,
                  np.inf, np.nan, -np.inf, np.nan, 1e20])
    x = np.array([0, 1, 0, -1, 1, np.inf, 1, np.inf, np.nan, 1, 1e-300, 1, 0, 0.0, 1e-30, 1e4,
                  np.nan, np.inf, np.nan, -np.inf, 1e20])
    for dtype, tdtype in ((fastdl.float64, torch.float64), (fastdl.float32, torch.float32)):
        for name in ("gammainc", "gammaincc"):
            ours = getattr(FS, name)(fastdl.tensor(a, dtype=dtype), fastdl.tensor(x, dtype=dtype))
            assert ours.dtype == dtype
            ref = getattr(TS, name)(torch.tensor(a, dtype=tdtype), torch.tensor(x, dtype=tdtype))
            _check(ours.numpy(), ref.numpy(), 1e-6, 1e-30)
    r = np.random.default_rng(7)
    a32, x32 = (v.astype(np.float32) for v in _gamma_grid(r, 1000))
    _check(FS.gammaincc(fastdl.tensor(a32), fastdl.tensor(x32)).numpy(),
           TS.gammaincc(torch.from_numpy(a32), torch.from_numpy(x32)).numpy(), 5e-5, 1e-6)


def test_incomplete_gamma_large_a_near_x():
    """a > 1000 near x goes through Temme's expansion: it must agree with the power series /
    continued fraction (run with enough terms, an independent method) and reach a ~ 1e20, where
    P(a, a) = 1/2 + 1 / (3 sqrt(2 pi a)) + O(1/a)."""
    from fastdl.functional import _special_gamma as G
    r = np.random.default_rng(14)
    a = 10 ** r.uniform(3, 5, 1500)
    x = a * (1 + r.uniform(-0.29, 0.29, 1500) * r.choice([1.0, 0.01], 1500))
    below = x < a  # the series converges (in ~sqrt(a) terms) for x < a, the fraction above
    p = FS.gammainc(fastdl.tensor(a, dtype=fastdl.float64), fastdl.tensor(x, dtype=fastdl.float64))
    q = FS.gammaincc(fastdl.tensor(a, dtype=fastdl.float64), fastdl.tensor(x, dtype=fastdl.float64))
    np.testing.assert_allclose(p.numpy()[below], G._p_series(a[below], x[below]), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_allclose(q.numpy()[~below], G._q_continued_fraction(a[~below], x[~below]),
                               rtol=1e-11, atol=1e-300)
    huge = FS.gammainc(fastdl.tensor([1e20], dtype=fastdl.float64),
                       fastdl.tensor([1e20], dtype=fastdl.float64)).item()
    assert huge == pytest.approx(0.5 + 1 / (3 * np.sqrt(2 * np.pi * 1e20)), rel=1e-15)


def test_incomplete_gamma_names_broadcasting_and_methods():
    a = fastdl.tensor([[0.5], [2.0], [7.0]], dtype=fastdl.float64)
    x = fastdl.tensor([0.1, 1.0, 3.0, 20.0], dtype=fastdl.float64)
    p, q = fastdl.igamma(a, x), fastdl.igammac(a, x)
    assert p.shape == (3, 4)
    np.testing.assert_allclose((p + q).numpy(), np.ones((3, 4)), rtol=1e-14)
    np.testing.assert_array_equal(FS.gammainc(a, x).numpy(), p.numpy())
    np.testing.assert_array_equal(a.igamma(x).numpy(), p.numpy())
    np.testing.assert_array_equal(a.igammac(x).numpy(), q.numpy())
    ref = torch.igamma(torch.tensor([[0.5], [2.0], [7.0]], dtype=torch.float64),
                       torch.tensor([0.1, 1.0, 3.0, 20.0], dtype=torch.float64))
    np.testing.assert_allclose(p.numpy(), ref.numpy(), rtol=1e-13)
    y = fastdl.tensor([1.0, 2.0], dtype=fastdl.float64)
    assert y.igamma_(fastdl.tensor([1.0, 1.0], dtype=fastdl.float64)) is y
    np.testing.assert_allclose(y.numpy(), [1 - np.exp(-1), 1 - 2 * np.exp(-1)], rtol=1e-14)
    z = fastdl.tensor([1.0], dtype=fastdl.float64)
    z.igammac_(fastdl.tensor([2.0], dtype=fastdl.float64))
    assert z.item() == pytest.approx(np.exp(-2.0), rel=1e-14)
    empty = fastdl.igamma(fastdl.ones(0, 3), fastdl.ones(3))
    assert empty.shape == (0, 3)


def test_incomplete_gamma_rejects_integers_like_torch():
    with pytest.raises(NotImplementedError, match="igamma_cpu"):
        fastdl.igamma(fastdl.tensor([1, 2]), fastdl.tensor([1, 2]))
    with pytest.raises(NotImplementedError):
        torch.igamma(torch.tensor([1, 2]), torch.tensor([1, 2]))
    with pytest.raises(TypeError):
        fastdl.igamma(1.0, 2.0)


def test_incomplete_gamma_gradients_match_torch():
    r = np.random.default_rng(8)
    a, x = r.uniform(0.3, 6, (3, 4)), r.uniform(0.1, 9, (3, 4))
    g = r.standard_normal((3, 4))
    for f_fn, t_fn in ((fastdl.igamma, torch.igamma), (fastdl.igammac, torch.igammac)):
        fx = fastdl.tensor(x, dtype=fastdl.float64, requires_grad=True)
        f_fn(fastdl.tensor(a, dtype=fastdl.float64), fx).backward(fastdl.tensor(g))
        tx = torch.tensor(x, requires_grad=True)
        t_fn(torch.tensor(a), tx).backward(torch.tensor(g))
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
        fa = fastdl.tensor(a, dtype=fastdl.float64, requires_grad=True)
        out = f_fn(fa, fastdl.tensor(x, dtype=fastdl.float64))
        assert out.requires_grad
        with pytest.raises(NotImplementedError, match="is not implemented"):
            out.sum().backward()


def test_incomplete_gamma_gradcheck_in_x():
    r = np.random.default_rng(9)
    a = fastdl.tensor(r.uniform(0.5, 4, (2, 3)), dtype=fastdl.float64)
    x = fastdl.tensor(r.uniform(0.3, 5, (2, 3)), dtype=fastdl.float64, requires_grad=True)
    assert fastdl.autograd.gradcheck(lambda v: fastdl.igamma(a, v), (x,))
    assert fastdl.autograd.gradcheck(lambda v: FS.gammaincc(a, v), (x,))
    assert fastdl.autograd.gradgradcheck(lambda v: fastdl.igammac(a, v), (x,))


# ---- Hurwitz zeta ------------------------------------------------------------------------------
def test_zeta_float64_matches_torch():
    r = np.random.default_rng(10)
    n = 5000
    x = np.concatenate([r.uniform(1, 20, n), 10 ** r.uniform(0, 2.5, n), r.integers(1, 8, 500),
                        [1, 0.5, 2, 2, 2, 2, 2, np.inf, 2, 3, np.nan, 2, 2.5, -3, 3, 4, np.nan,
                         np.inf]])
    q = np.concatenate([r.uniform(-10, 10, n), 10 ** r.uniform(-3, 3, n), r.uniform(-6, 0, 500),
                        [1, 1, 0, -1, -1.5, np.inf, -np.inf, 2, np.nan, -2.5, 1, 1e-300, -1.5, 1,
                         0.5, -2.3, -np.inf, -np.inf]])
    ours = FS.zeta(fastdl.tensor(x, dtype=fastdl.float64), fastdl.tensor(q, dtype=fastdl.float64))
    ref = TS.zeta(torch.from_numpy(x), torch.from_numpy(q)).numpy()
    _check(ours.numpy(), ref, 1e-13, 1e-300)
    x32, q32 = x.astype(np.float32), q.astype(np.float32)
    ours32 = FS.zeta(fastdl.tensor(x32), fastdl.tensor(q32))
    assert ours32.dtype == fastdl.float32
    _check(ours32.numpy(), TS.zeta(torch.from_numpy(x32), torch.from_numpy(q32)).numpy(),
           1e-6, 1e-38)


def test_zeta_scalars_broadcasting_and_riemann_values():
    q = fastdl.tensor([1.0, 2.0, 0.5], dtype=fastdl.float64)
    np.testing.assert_allclose(FS.zeta(2.0, q).numpy(),
                               [np.pi ** 2 / 6, np.pi ** 2 / 6 - 1, np.pi ** 2 / 2], rtol=1e-15)
    assert FS.zeta(q, 1.0).dtype == fastdl.float64
    assert FS.zeta(fastdl.tensor([4]), fastdl.tensor([1])).dtype == fastdl.float32
    assert FS.zeta(fastdl.tensor([4.0]), 1).item() == pytest.approx(np.pi ** 4 / 90, rel=1e-7)
    grid = FS.zeta(fastdl.tensor([[2.0], [3.0]], dtype=fastdl.float64), q)
    ref = TS.zeta(torch.tensor([[2.0], [3.0]], dtype=torch.float64),
                  torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
    np.testing.assert_allclose(grid.numpy(), ref.numpy(), rtol=1e-14)
    assert FS.zeta(fastdl.ones(0, 2), fastdl.ones(2)).shape == (0, 2)
    with pytest.raises(TypeError):
        FS.zeta(2.0, 1.0)


def test_zeta_gradient_in_q_and_error_in_x():
    r = np.random.default_rng(11)
    x, q, g = r.uniform(1.5, 5, 6), r.uniform(0.2, 4, 6), r.standard_normal(6)
    fq = fastdl.tensor(q, dtype=fastdl.float64, requires_grad=True)
    FS.zeta(fastdl.tensor(x, dtype=fastdl.float64), fq).backward(fastdl.tensor(g))
    tq = torch.tensor(q, requires_grad=True)
    TS.zeta(torch.tensor(x), tq).backward(torch.tensor(g))
    np.testing.assert_allclose(fq.grad.numpy(), tq.grad.numpy(), rtol=1e-12)
    fx = fastdl.tensor(x, dtype=fastdl.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="derivative for 'zeta'"):
        FS.zeta(fx, fastdl.tensor(q, dtype=fastdl.float64)).sum().backward()
    xs = fastdl.tensor(x, dtype=fastdl.float64)
    assert fastdl.autograd.gradcheck(lambda v: FS.zeta(xs, v), (fq.detach().requires_grad_(),))
    assert fastdl.autograd.gradgradcheck(lambda v: FS.zeta(xs, v),
                                         (fq.detach().requires_grad_(),))


# ---- polynomials -------------------------------------------------------------------------------
def _polynomial_grid(rng, n=3000):
    x = np.concatenate([rng.uniform(-1.2, 1.2, n), rng.uniform(-5, 5, n),
                        rng.uniform(-0.1, 1.1, n), np.tile([1, -1, 0, -0.0, 0.5, 1e-17, np.inf,
                                                            -np.inf, 2.0], 20)])
    degrees = [0, 1, 2, 3, 7, 9, 12, -1, np.nan, np.inf, -np.inf, 2.7, 600, 50, 8, 5, 6, 4,
               -2.5, 513]
    k = np.concatenate([rng.integers(-3, 30, 3 * n).astype(float), np.repeat(degrees, 9)])
    k[:100] = rng.integers(0, 700, 100)
    return x, k


def _hermite_majorant(name, x, k):
    """The Hermite recurrence with |x| and every term added: a bound on the magnitudes the
    recurrence cancels (near the zeros its result is only that accurate, in torch too)."""
    a = np.abs(np.nan_to_num(x, posinf=0, neginf=0))
    k = np.clip(np.nan_to_num(k, posinf=-1, neginf=-1), -1, 600).astype(np.int64)
    two = 2.0 if name == "hermite_polynomial_h" else 1.0
    p, q = np.ones_like(a), two * a
    out = np.where(k <= 0, 1.0, q)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(1, min(int(k.max()), 513)):
            p, q = q, two * a * q + two * j * p
            out = np.where(k == j + 1, q, out)
    return out


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_float64_matches_torch(name):
    x, k = _polynomial_grid(np.random.default_rng(12))
    ours = getattr(FS, name)(fastdl.tensor(x, dtype=fastdl.float64),
                             fastdl.tensor(k, dtype=fastdl.float64))
    assert ours.dtype == fastdl.float64 and not ours.requires_grad
    ref = getattr(TS, name)(torch.from_numpy(x), torch.from_numpy(k)).numpy()
    o = ours.numpy()
    np.testing.assert_array_equal(np.isnan(o), np.isnan(ref))
    np.testing.assert_array_equal(o[np.isinf(ref)], ref[np.isinf(ref)])
    finite = np.isfinite(ref)
    # the recurrence's and the trigonometric forms' rounding grows with the degree
    magnitude = (_hermite_majorant(name, x, k) if name.startswith("hermite") else np.abs(ref))
    with np.errstate(over="ignore"):  # an inf scale (a huge magnitude) accepts anything finite
        scale = np.maximum(magnitude[finite], 1.0) * np.maximum(np.nan_to_num(k[finite]), 1.0)
    assert (np.abs(o[finite] - ref[finite]) <= 1e-14 * scale).all()


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_float32_matches_torch(name):
    r = np.random.default_rng(13)
    x = np.concatenate([r.uniform(-1.1, 1.1, 2000), r.uniform(-3, 3, 2000)]).astype(np.float32)
    k = r.integers(-2, 20, 4000).astype(np.float32)
    ours = getattr(FS, name)(fastdl.tensor(x), fastdl.tensor(k)).numpy()
    assert ours.dtype == np.float32
    ref = getattr(TS, name)(torch.from_numpy(x), torch.from_numpy(k)).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    finite = np.isfinite(ref)
    magnitude = (_hermite_majorant(name, x.astype(np.float64), k) if name.startswith("hermite")
                 else np.abs(ref))
    with np.errstate(over="ignore"):
        scale = np.maximum(magnitude[finite], 1.0) * np.maximum(k[finite], 1.0)
    assert (np.abs(ours[finite] - ref[finite]) <= 3e-6 * scale).all()


def test_polynomial_scalar_degree_broadcasting_and_dtypes():
    x = fastdl.tensor([[0.3], [-0.7], [2.0]], dtype=fastdl.float64)
    n = fastdl.tensor([0, 1, 2, 3, 10])
    for name in POLYNOMIALS:
        ours = getattr(FS, name)(x, n)
        ref = getattr(TS, name)(torch.tensor([[0.3], [-0.7], [2.0]], dtype=torch.float64),
                                torch.tensor([0, 1, 2, 3, 10]))
        assert ours.shape == (3, 5) and ours.dtype == fastdl.float64
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-13)
        np.testing.assert_allclose(getattr(FS, name)(x, 3).numpy(),
                                   getattr(TS, name)(torch.tensor([[0.3], [-0.7], [2.0]],
                                                                  dtype=torch.float64), 3).numpy(),
                                   rtol=1e-14)
        scalar_x = getattr(FS, name)(0.25, fastdl.tensor([2.0, 5.0], dtype=fastdl.float64))
        np.testing.assert_allclose(
            scalar_x.numpy(),
            getattr(TS, name)(0.25, torch.tensor([2.0, 5.0], dtype=torch.float64)).numpy(),
            rtol=1e-14)
        ints = getattr(FS, name)(fastdl.tensor([1, 2]), fastdl.tensor([3, 4]))
        assert ints.dtype == fastdl.float32
        assert getattr(FS, name)(fastdl.ones(2, 0), 3).shape == (2, 0)
    # the closed forms: T_n(cos t) = cos(n t), U_n(cos t) = sin((n + 1) t) / sin t
    t = np.linspace(0.1, 3.0, 7)
    c = fastdl.tensor(np.cos(t), dtype=fastdl.float64)
    np.testing.assert_allclose(FS.chebyshev_polynomial_t(c, 40).numpy(), np.cos(40 * t),
                               atol=1e-12)
    np.testing.assert_allclose(FS.chebyshev_polynomial_u(c, 5).numpy(),
                               np.sin(6 * t) / np.sin(t), atol=1e-12)
    np.testing.assert_allclose(FS.legendre_polynomial_p(c, 2).numpy(),
                               1.5 * np.cos(t) ** 2 - 0.5, atol=1e-15)


def test_polynomial_conventions():
    x = fastdl.tensor([0.5, 3.0], dtype=fastdl.float64)
    assert FS.hermite_polynomial_h(x, -1).tolist() == [0.0, 0.0]
    assert np.isnan(FS.hermite_polynomial_h(x, 513).numpy()).all()
    small = fastdl.tensor([0.01], dtype=fastdl.float64)
    assert np.isfinite(FS.hermite_polynomial_h(small, 150).item())  # below the limit: a value
    assert FS.hermite_polynomial_h(small, 150).item() == pytest.approx(
        TS.hermite_polynomial_h(torch.tensor([0.01], dtype=torch.float64), 150).item(),
        rel=1e-12)
    assert np.isnan(FS.hermite_polynomial_he(fastdl.tensor([0.5]), 129).item())
    assert FS.chebyshev_polynomial_t(x, 2.9).tolist() == [-0.5, 17.0]  # degree truncated
    assert FS.laguerre_polynomial_l(fastdl.tensor([0.0]), 7).item() == 1.0
    # an overflowing recurrence meets inf - inf: NaN, as in torch
    assert np.isnan(FS.chebyshev_polynomial_t(fastdl.tensor([3.0], dtype=fastdl.float64),
                                              1000).item())
    assert np.isnan(TS.chebyshev_polynomial_t(torch.tensor([3.0], dtype=torch.float64),
                                              1000).item())


def test_polynomial_nan_x_gives_nan():
    """Deliberately different from torch: for NaN x and degree >= 2 torch's recurrence loop
    never runs and it returns an uninitialized value (U, V, W, L, P, the shifted ones); fastdl
    returns NaN."""
    for name in POLYNOMIALS:
        assert np.isnan(getattr(FS, name)(fastdl.tensor([np.nan]), 5).item())


def test_polynomial_results_do_not_require_grad():
    x = fastdl.tensor([0.5], dtype=fastdl.float64, requires_grad=True)
    n = fastdl.tensor([3.0], dtype=fastdl.float64, requires_grad=True)
    for name in POLYNOMIALS:
        assert not getattr(FS, name)(x, n).requires_grad
    with pytest.raises(TypeError):
        FS.legendre_polynomial_p(0.5, 2)
