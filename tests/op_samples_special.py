"""Samples for the elementwise math of fastdl/functional/elementwise_math.py,
elementwise_more.py and fastdl/special.py: inverse trigonometric and hyperbolic functions, the
erf and gamma families, Bessel I0/I1, exp2, frac, atan2, fmax/fmin, frexp's mantissa and the
special-only entr, ndtri, log_ndtr, xlog1py, erfcx."""
from op_samples import S, U, nonint, sample


def away_from_integers(r, shape, lo, hi):
    """Values in [lo, hi) at least 0.15 from every integer (the gamma family's poles)."""
    return r.integers(lo, hi, shape) + r.uniform(0.15, 0.85, shape)


_UNARY = {
    "asin": (lambda L, x: L.T.asin(x), (-0.9, 0.9)),
    "acos": (lambda L, x: x.acos(), (-0.9, 0.9)),
    "atan": (lambda L, x: L.T.arctan(x), (-3.0, 3.0)),
    "sinh": (lambda L, x: x.sinh(), (-2.0, 2.0)),
    "cosh": (lambda L, x: L.T.cosh(x), (-2.0, 2.0)),
    "asinh": (lambda L, x: x.asinh(), (-3.0, 3.0)),
    "acosh": (lambda L, x: L.T.acosh(x), (1.2, 4.0)),
    "atanh": (lambda L, x: x.atanh(), (-0.8, 0.8)),
    "exp2": (lambda L, x: L.T.exp2(x), (-2.0, 2.0)),
    "erf": (lambda L, x: x.erf(), (-2.0, 2.0)),
    "erfc": (lambda L, x: L.T.erfc(x), (-2.0, 3.0)),
    "erfcx": (lambda L, x: L.T.special.erfcx(x), (-1.5, 12.0)),
    "erfinv": (lambda L, x: x.erfinv(), (-0.9, 0.9)),
    "i0": (lambda L, x: L.T.i0(x), (-3.0, 3.0)),
    "i1": (lambda L, x: L.T.special.i1(x), (-3.0, 3.0)),
    "ndtri": (lambda L, x: L.T.special.ndtri(x), (0.05, 0.95)),
    "log_ndtr": (lambda L, x: L.T.special.log_ndtr(x), (-0.9, 3.0)),
    "entr": (lambda L, x: L.T.special.entr(x), (0.1, 2.5)),
}
for _name, (_fn, (_lo, _hi)) in _UNARY.items():
    sample(_name, "3x5", _fn, lambda r, lo=_lo, hi=_hi: [U(r, (3, 5), lo, hi)])
    sample(_name, "0d", _fn, lambda r, lo=_lo, hi=_hi: [U(r, (), lo, hi)])

# the scaled Bessel functions have a kink at 0 (|x|): values away from it
sample("i0e", "3x5", lambda L, x: L.T.special.i0e(x), lambda r: [S(r, (3, 5), 0.2, 3.0)])
sample("i1e", "3x5", lambda L, x: L.T.special.i1e(x), lambda r: [S(r, (3, 5), 0.2, 3.0)])
sample("lgamma", "across_poles", lambda L, x: x.lgamma(),
       lambda r: [away_from_integers(r, (3, 5), -3, 4)])
# torch's trigamma (digamma's derivative) has ~1e-9 relative error (a short asymptotic series);
# fastdl's agrees with scipy to ~1e-15
TRIGAMMA_RTOL = 1e-8
sample("digamma", "across_poles", lambda L, x: L.T.digamma(x),
       lambda r: [away_from_integers(r, (3, 5), -3, 4)], torch_rtol=TRIGAMMA_RTOL)
sample("polygamma", "order_1", lambda L, x: L.T.polygamma(1, x),
       lambda r: [away_from_integers(r, (3, 5), -2, 4)], torch_rtol=TRIGAMMA_RTOL)
sample("polygamma", "order_3_method", lambda L, x: x.polygamma(3), lambda r: [U(r, (1, 7), 0.5, 4)])
sample("lgamma", "mvlgamma", lambda L, x: L.T.mvlgamma(x, 3), lambda r: [U(r, (2, 4), 1.2, 4.0)])
sample("frac", "3x5", lambda L, x: x.frac(), lambda r: [nonint(r, (3, 5))])

sample("atan2", "broadcast", lambda L, a, b: L.T.atan2(a, b),
       lambda r: [S(r, (3, 1)), S(r, (4,))])
sample("atan2", "method_0d_other", lambda L, a, b: a.arctan2(b), lambda r: [S(r, (2, 3)), S(r, ())])
# fmax/fmin: distinct values (a tie gives input the whole gradient: no central difference)
sample("fmax", "broadcast", lambda L, a, b: L.T.fmax(a, b),
       lambda r: [U(r, (3, 4)), U(r, (4,)) + 0.01])
sample("fmin", "broadcast", lambda L, a, b: a.fmin(b), lambda r: [U(r, (2, 5)), U(r, (2, 1))])
# frexp's mantissa is x / 2^e with e piecewise constant: no second derivative to check, and the
# first is discontinuous only where |x| crosses a power of 2
sample("frexp", "mantissa", lambda L, x: L.T.frexp(x)[0] * 1.0,
       lambda r: [S(r, (3, 5), 0.6, 40.0) * 1.03], check="grad")
sample("xlog1py", "broadcast", lambda L, a, b: L.T.special.xlog1py(a, b),
       lambda r: [U(r, (3, 1)), U(r, (4,), -0.5, 2.0)])
# nextafter: one ulp from input, so the gradient is 1 for input and 0 for other (torch's)
sample("nextafter", "broadcast", lambda L, a, b: L.T.nextafter(a, b),
       lambda r: [U(r, (3, 4)), U(r, (4,))])
sample("log_ndtr", "lower_tail", lambda L, x: L.T.special.log_ndtr(x),
       lambda r: [U(r, (3, 5), -12.0, -1.1)])

# igamma / igammac / zeta: differentiable in their second argument only (torch's backward
# raises for the first), so the first is a constant here
sample("igamma", "broadcast", lambda L, a, x: L.T.igamma(a, x),
       lambda r: [U(r, (3, 1), 0.5, 4.0), U(r, (4,), 0.2, 5.0)], nograd=(0,))
sample("igamma", "special_gammainc_0d", lambda L, a, x: L.T.special.gammainc(a, x),
       lambda r: [U(r, (2, 3), 1.0, 3.0), U(r, (), 0.5, 2.0)], nograd=(0,))
sample("igammac", "method", lambda L, a, x: a.igammac(x),
       lambda r: [U(r, (2, 3), 0.5, 4.0), U(r, (2, 3), 0.2, 5.0)], nograd=(0,))
sample("zeta", "broadcast", lambda L, x, q: L.T.special.zeta(x, q),
       lambda r: [U(r, (3, 1), 2.0, 5.0), U(r, (4,), 0.3, 3.0)], nograd=(0,))
