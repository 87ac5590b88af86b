"""Special functions of float numpy/cupy arrays without scipy: erfc, erfcx, erfinv, ndtri,
lgamma, digamma, the Hurwitz zeta function (for polygamma) and the modified Bessel functions
I0, I1 (plain and exponentially scaled).

Every function computes in float64 and rounds once to the input's dtype; inf and NaN are results
(as in torch), so numpy's floating-point warnings are silenced. Methods, chosen to stay accurate
to ~1e-15 relative in float64:
- erfcx(x) = exp(x^2) erfc(x): Chebyshev pieces on [0, 10) fitted at import to ``math.erfc``
  (exp(v^2) taken in extended precision), Laplace's continued fraction beyond;
- erfc from erfcx with exp(-x^2) split so that x^2 is never rounded (Cephes' expx2);
- erfinv / erfcinv: Giles' approximation as a start, then Newton steps on erf near 0 and on
  log(erfc) in the tails (which reach 1 - 1e-300 without underflow);
- lgamma: Taylor series of lgamma(1 + e) near 1 and 2 (keeps relative accuracy at its zeros),
  elsewhere the recurrence up to x >= 10 and Stirling's series; reflection for x < 0;
- digamma: recurrence up to x >= 10 and the asymptotic series; reflection for x < 0;
- Hurwitz zeta: direct sum up to q + k >= 12, then Euler-Maclaurin with 12 Bernoulli terms;
- I0, I1: their power series (all terms positive) for |x| <= 30, the asymptotic expansion beyond.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from fastdl.nn.functional._special import _xp, erf as _erf

_SQRT_PI = math.sqrt(math.pi)
_EULER_GAMMA = 0.57721566490153286061


def _float64_inside(fn):
    """Run ``fn`` on the float64 copy of its first argument, return in that argument's dtype."""
    @functools.wraps(fn)
    def wrapped(x, *args):
        with np.errstate(all="ignore"):
            return fn(x.astype(np.float64), *args).astype(x.dtype, copy=False)
    return wrapped


class _ChebyshevPieces:
    """A function tabulated on [start, start + width * pieces) as Chebyshev series of
    ``degree`` on each piece (fitted at Chebyshev nodes), evaluated with Clenshaw's
    recurrence."""

    def __init__(self, fn, start, width, pieces, degree):
        self.start, self.width, self.pieces, self.degree = start, width, pieces, degree
        nodes = np.cos(np.pi * (np.arange(2 * degree + 2) + 0.5) / (2 * degree + 2))
        table = np.empty((degree + 1, pieces))
        for piece in range(pieces):
            center = start + (piece + 0.5) * width
            values = np.array([fn(center + 0.5 * width * u) for u in nodes])
            table[:, piece] = np.polynomial.chebyshev.chebfit(nodes, values, degree)
        self._tables = {np: table}

    def __call__(self, a):
        xp = _xp(a)
        table = self._tables.get(xp)
        if table is None:
            table = self._tables[xp] = xp.asarray(self._tables[np])
        offset = (a - self.start) * (1.0 / self.width)
        # fmin/fmax map NaN to a valid piece (the result stays NaN through offset)
        piece = xp.fmax(xp.fmin(offset, self.pieces - 1), 0).astype(np.intp)
        two_u = 4.0 * (offset - piece) - 2.0
        b1, b2 = xp.take(table[self.degree], piece), xp.zeros_like(a)
        for j in range(self.degree - 1, 0, -1):
            b1, b2 = two_u * b1 - b2 + xp.take(table[j], piece), b1
        return 0.5 * two_u * b1 - b2 + xp.take(table[0], piece)


def _erfcx_exact(v):
    """exp(v^2) erfc(v) to ~1 ulp for the fit: v^2 = hi + lo with lo from extended precision."""
    hi = v * v
    lo = float(np.longdouble(v) * np.longdouble(v) - np.longdouble(hi))
    return math.erfc(v) * math.exp(hi) * (1.0 + lo)


_ERFCX_TABLE_END = 10.0
_ERFCX_PIECES = _ChebyshevPieces(_erfcx_exact, 0.0, 0.25, 40, 13)


def _erfcx_positive(a):
    """erfcx for a >= 0 (float64)."""
    xp = _xp(a)
    # Laplace's continued fraction 1 / (a + (1/2) / (a + 1 / (a + (3/2) / ...))), from the back
    big = xp.maximum(a, _ERFCX_TABLE_END)
    t = big
    for k in range(40, 0, -1):
        t = big + (0.5 * k) / t
    return xp.where(a < _ERFCX_TABLE_END, _ERFCX_PIECES(xp.minimum(a, _ERFCX_TABLE_END)),
                    1.0 / (_SQRT_PI * t))


def _exp_neg_square(x):
    """exp(-x^2) without rounding x^2: x = h + l with h a multiple of 1/16 (h^2 is exact)."""
    xp = _xp(x)
    h = xp.floor(x * 16.0) / 16.0
    low = x - h
    return xp.exp(-h * h) * xp.exp(-(2.0 * h + low) * low)


def _exp_square(x):
    xp = _xp(x)
    h = xp.floor(x * 16.0) / 16.0
    low = x - h
    return xp.exp(h * h) * xp.exp((2.0 * h + low) * low)


@_float64_inside
def erfcx(x):
    xp = _xp(x)
    a = xp.abs(x)
    positive = _erfcx_positive(a)
    # exp(27^2) overflows already: the clamp keeps -inf's result inf, not inf - inf
    return xp.where(x >= 0, positive, 2.0 * _exp_square(xp.minimum(a, 27.0)) - positive)


@_float64_inside
def erfc(x):
    xp = _xp(x)
    a = xp.minimum(xp.abs(x), 30.0)  # erfc(30) underflows to 0 already (and erfc(inf) = 0)
    tail = _exp_neg_square(a) * _erfcx_positive(a)
    return xp.where(a < 0.5, 1.0 - _erf(x), xp.where(x > 0, tail, 2.0 - tail))


def _giles_start(a):
    """Giles' single-precision erfinv(a) / a (relative error ~1e-7) for 0 <= a < 1."""
    xp = _xp(a)
    w = -xp.log((1.0 - a) * (1.0 + a))
    central, tail = w - 2.5, xp.sqrt(w) - 3.0
    p_central = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p_central = c + p_central * central
    p_tail = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        p_tail = c + p_tail * tail
    return xp.where(w < 5.0, p_central, p_tail)


def _erfinv_central(a):
    """erfinv(a) for 0 <= a <= 0.5: Newton on erf(y) = a."""
    xp = _xp(a)
    y = _giles_start(a) * a
    for _ in range(3):
        y = y - (_erf(y) - a) * (0.5 * _SQRT_PI) * xp.exp(y * y)
    return y


def _erfcinv_tail(c):
    """y >= 0 with erfc(y) = c for 0 < c <= 0.5: Newton on log(erfc(y)) - log(c), whose
    derivative is -2 / (sqrt(pi) erfcx(y)); the log keeps c down to 1e-308 in range."""
    xp = _xp(c)
    log_c = xp.log(c)
    # the start: Giles' formula while it holds, else erfc(y) ~ exp(-y^2) / (y sqrt(pi))
    rough = xp.sqrt(-log_c)
    asymptotic = xp.sqrt(xp.maximum(-log_c - xp.log(rough * _SQRT_PI), 0.25))
    a = 1.0 - c
    y = xp.where(c > 1e-12, _giles_start(xp.where(c > 1e-12, a, 0.5)) * a, asymptotic)
    for _ in range(5):
        ex = _erfcx_positive(y)
        y = y + (xp.log(ex) - y * y - log_c) * (0.5 * _SQRT_PI) * ex
    return y


def _erfcinv_array(c):
    """erfcinv for float64 c: NaN outside [0, 2], +-inf at 0 and 2."""
    xp = _xp(c)
    below = c < 0.5  # 1 - c is exact for c >= 0.5 (Sterbenz), so erfinv(1 - c) is used there
    tail = _erfcinv_tail(xp.where(below & (c > 0), c, 0.5))
    rest = 1.0 - c
    central = xp.sign(rest) * _erfinv_central(xp.minimum(xp.abs(rest), 0.5))
    upper_tail = -_erfcinv_tail(xp.where((c > 1.5) & (c < 2), 2.0 - c, 0.5))
    out = xp.where(below, tail, xp.where(c <= 1.5, central, upper_tail))
    out = xp.where(c == 0, xp.inf, xp.where(c == 2, -xp.inf, out))
    return xp.where((c < 0) | (c > 2) | xp.isnan(c), xp.nan, out)


@_float64_inside
def erfinv(x):
    xp = _xp(x)
    a = xp.abs(x)
    central = _erfinv_central(xp.minimum(a, 0.5))
    tail = _erfcinv_tail(xp.where((a > 0.5) & (a < 1), 1.0 - a, 0.5))
    out = xp.sign(x) * xp.where(a <= 0.5, central, tail)
    out = xp.where(a == 1, xp.sign(x) * xp.inf, out)
    return xp.where(a > 1, xp.nan, out)


@_float64_inside
def ndtri(p):
    """The standard normal quantile: -sqrt(2) erfcinv(2 p) (2 p is exact)."""
    return -math.sqrt(2.0) * _erfcinv_array(2.0 * p) + 0.0  # + 0.0: ndtri(0.5) is +0, not -0


# ---- the Hurwitz zeta function, for polygamma and the series of lgamma near 1 ----------------
# B_2j / (2j)!: Euler-Maclaurin's tail coefficients
_BERNOULLI_OVER_FACTORIAL = [1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160,
                             -691 / 1307674368000, 1 / 74724249600, -3617 / 10670622842880000,
                             43867 / 5109094217170944000, -174611 / 802857662698291200000,
                             77683 / 14101100039391805440000,
                             -236364091 / 1693824136731743669452800000]
_ZETA_SHIFT = 12.0


def _hurwitz_zeta64(s, q):
    """sum_k (q + k)^-s for float64 arrays (s > 1); inf at the poles q = 0, -1, -2 ... A
    negative q is only meaningful for integer s (polygamma's case)."""
    xp = _xp(q)
    s, q = xp.broadcast_arrays(xp.asarray(s, dtype=np.float64), q)
    finite_q = xp.where(xp.isfinite(q), q, 1.0)
    steps = xp.maximum(xp.ceil(_ZETA_SHIFT - finite_q), 0.0)
    total = xp.zeros_like(finite_q)
    for k in range(int(steps.max()) if steps.size else 0):
        total = total + xp.where(k < steps, (finite_q + k) ** -s, 0.0)
    a = finite_q + steps
    total = total + a ** (1.0 - s) / (s - 1.0) + 0.5 * a ** -s
    rising = s  # s (s + 1) ... (s + 2j - 2)
    power = a ** (-s - 1.0)
    for j, coefficient in enumerate(_BERNOULLI_OVER_FACTORIAL):
        total = total + coefficient * rising * power
        rising = rising * (s + 2 * j + 1) * (s + 2 * j + 2)
        power = power / (a * a)
    total = xp.where(q == xp.inf, 0.0, xp.where((q == -xp.inf) | xp.isnan(q), xp.nan, total))
    return xp.where((q <= 0) & (q == xp.floor(q)), xp.inf, total)


@functools.lru_cache(maxsize=None)
def _cot_derivative_polynomial(n):
    """Coefficients (lowest first) of P_n with d^n/dz^n cot(z) = P_n(cot z): P_0(c) = c,
    P_k+1(c) = -(1 + c^2) P_k'(c)."""
    p = np.polynomial.Polynomial([0.0, 1.0])
    for _ in range(n):
        p = -np.polynomial.Polynomial([1.0, 0.0, 1.0]) * p.deriv()
    return tuple(p.coef)


@_float64_inside
def polygamma_positive_order(x, n):
    """polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x) for an integer n >= 1; for x < 0 by the
    reflection polygamma(n, x) = (-1)^n polygamma(n, 1 - x) - pi^(n+1) P_n(cot(pi x)), so the
    direct sum of the zeta function never runs over more than 12 terms."""
    xp = _xp(x)
    negative = x < 0
    scale = (-1.0) ** (n + 1) * math.factorial(n)
    positive_side = scale * _hurwitz_zeta64(float(n + 1), xp.where(negative, 1.0 - x, x))
    r = xp.where(negative & xp.isfinite(x), x - xp.round(x), 0.25)  # cot(pi x) has period 1
    cot_term = math.pi ** (n + 1) * _polynomial(_cot_derivative_polynomial(n),
                                                1.0 / xp.tan(math.pi * r))
    reflected = (-1.0) ** n * positive_side - cot_term
    out = xp.where(negative, reflected, positive_side)
    poles = (x <= 0) & (x == xp.floor(x))
    out = xp.where(poles, scale * xp.inf, out)
    return xp.where(x == -xp.inf, xp.nan, out)


# ---- lgamma -----------------------------------------------------------------------------------
_ZETA_AT_INTEGERS = _hurwitz_zeta64(np.arange(2.0, 31.0), np.ones(29))  # zeta(2) ... zeta(30)
_NEAR = 0.25  # the series of lgamma(1 + e) is used for |e| < _NEAR: its terms fall as 4^-k


def _lgamma_one_plus(e):
    """lgamma(1 + e) = -gamma e + sum_k>=2 (-1)^k zeta(k) e^k / k, for |e| < 1/4."""
    acc = 0.0
    for k in range(30, 1, -1):
        acc = acc * e + (-1.0) ** k * _ZETA_AT_INTEGERS[k - 2] / k
    return e * (acc * e - _EULER_GAMMA) + 0.0  # + 0.0: lgamma(1) is +0, not -0


def _shift_up(x, step_term, minimum=10.0):
    """Apply x -> x + 1 until x >= minimum (at most ``minimum`` times), accumulating
    step_term(x) before each step."""
    xp = _xp(x)
    acc = xp.zeros_like(x)
    for _ in range(int(minimum)):
        low = x < minimum
        acc = acc + xp.where(low, step_term(xp.where(low, x, 1.0)), 0.0)
        x = xp.where(low, x + 1.0, x)
    return x, acc


def _stirling(z):
    """lgamma(z) for z >= 10."""
    xp = _xp(z)
    inv, inv2 = 1.0 / z, 1.0 / (z * z)
    series = inv * (1 / 12 + inv2 * (-1 / 360 + inv2 * (1 / 1260 + inv2 * (
        -1 / 1680 + inv2 * (1 / 1188 + inv2 * (-691 / 360360 + inv2 / 156))))))
    return (z - 0.5) * xp.log(z) - z + 0.5 * math.log(2 * math.pi) + series


def _lgamma_positive(x):
    xp = _xp(x)
    safe = xp.where(x > 0, x, 1.0)
    shifted, log_product = _shift_up(safe, xp.log)
    general = _stirling(shifted) - log_product
    near_one = _lgamma_one_plus(xp.where(xp.abs(safe - 1) < _NEAR, safe - 1, 0.0))
    e2 = xp.where(xp.abs(safe - 2) < _NEAR, safe - 2, 0.0)
    near_two = _lgamma_one_plus(e2) + xp.log1p(e2)
    tiny = _lgamma_one_plus(xp.where(safe < _NEAR, safe, 0.0)) - xp.log(safe)
    return xp.where(xp.abs(safe - 1) < _NEAR, near_one,
                    xp.where(xp.abs(safe - 2) < _NEAR, near_two,
                             xp.where(safe < _NEAR, tiny, general)))


def _sin_pi(x):
    """sin(pi x) with x reduced exactly to [-1/2, 1/2] first."""
    xp = _xp(x)
    n = xp.round(x)
    return xp.sin(math.pi * (x - n)) * (1.0 - 2.0 * xp.remainder(n, 2.0))


@_float64_inside
def lgamma(x):
    xp = _xp(x)
    negative = x <= 0
    reflected = xp.where(negative, 1.0 - x, 1.0)
    sin_part = xp.abs(_sin_pi(xp.where(negative & xp.isfinite(x), x, 0.5)))
    via_reflection = math.log(math.pi) - xp.log(sin_part) - _lgamma_positive(reflected)
    out = xp.where(negative, via_reflection, _lgamma_positive(x))
    poles = negative & (x == xp.floor(x))  # 0, -1, -2 ... and -inf
    return xp.where(poles | (x == xp.inf), xp.inf, xp.where(xp.isnan(x), x, out))


# ---- digamma ----------------------------------------------------------------------------------
def _digamma_positive(x):
    xp = _xp(x)
    shifted, reciprocals = _shift_up(x, lambda z: 1.0 / z)
    inv2 = 1.0 / (shifted * shifted)
    # sum_k B_2k / (2k z^2k), Horner in 1 / z^2
    series = 0.0
    for coefficient in (-3617 / 8160, 1 / 12, -691 / 32760, 1 / 132, -1 / 240, 1 / 252,
                        -1 / 120, 1 / 12):
        series = (series + coefficient) * inv2
    return xp.log(shifted) - 0.5 / shifted - series - reciprocals


@_float64_inside
def digamma(x):
    xp = _xp(x)
    negative = x < 0
    safe = xp.where(negative | (x == 0), 1.0, x)
    positive = _digamma_positive(xp.where(x == xp.inf, 1.0, safe))
    finite_negative = xp.where(negative & xp.isfinite(x), x, -0.5)
    r = finite_negative - xp.round(finite_negative)  # tan(pi x) has period 1
    reflected = _digamma_positive(1.0 - finite_negative) - math.pi / xp.tan(math.pi * r)
    out = xp.where(negative, reflected, positive)
    out = xp.where(negative & (x == xp.floor(x)), xp.nan, out)  # the poles and -inf
    out = xp.where(x == xp.inf, xp.inf, out)
    return xp.where(x == 0, xp.where(xp.signbit(x), xp.inf, -xp.inf), out)  # torch: -inf at +0


# ---- modified Bessel functions I0, I1 ----------------------------------------------------------
_SERIES_END = 30.0
_I0_SERIES = [1.0 / math.factorial(k) ** 2 for k in range(60)]
_I1_SERIES = [1.0 / (math.factorial(k) * math.factorial(k + 1)) for k in range(60)]


def _asymptotic_coefficients(order, terms=30):
    """(-1)^k prod_{j<=k} (4 order^2 - (2j - 1)^2) / (k! 8^k): I_order(x) ~ e^x / sqrt(2 pi x)
    times sum_k coefficient_k / x^k."""
    mu, out, c = 4.0 * order * order, [1.0], 1.0
    for k in range(1, terms):
        c *= -(mu - (2 * k - 1) ** 2) / (k * 8.0)
        out.append(c)
    return out


_I0_ASYMPTOTIC, _I1_ASYMPTOTIC = _asymptotic_coefficients(0), _asymptotic_coefficients(1)


def _polynomial(coefficients, t):
    acc = 0.0
    for c in reversed(coefficients):
        acc = acc * t + c
    return acc


def _bessel_scaled(a, series, asymptotic, odd):
    """exp(-a) I(a) for a = |x| >= 0."""
    xp = _xp(a)
    small = xp.minimum(a, _SERIES_END)
    t = 0.25 * small * small
    near = _polynomial(series, t) * (0.5 * small if odd else 1.0) * xp.exp(-small)
    large = xp.maximum(a, _SERIES_END)
    far = _polynomial(asymptotic, 1.0 / large) / xp.sqrt(2.0 * math.pi * large)
    return xp.where(a <= _SERIES_END, near, far)


@_float64_inside
def i0e(x):
    return _bessel_scaled(_xp(x).abs(x), _I0_SERIES, _I0_ASYMPTOTIC, False)


@_float64_inside
def i0(x):
    a = _xp(x).abs(x)
    return _bessel_scaled(a, _I0_SERIES, _I0_ASYMPTOTIC, False) * _xp(x).exp(a)


@_float64_inside
def i1e(x):
    xp = _xp(x)
    return xp.sign(x) * _bessel_scaled(xp.abs(x), _I1_SERIES, _I1_ASYMPTOTIC, True)


@_float64_inside
def i1(x):
    xp = _xp(x)
    a = xp.abs(x)
    return xp.sign(x) * _bessel_scaled(a, _I1_SERIES, _I1_ASYMPTOTIC, True) * xp.exp(a)
