"""The regularized incomplete gamma functions P(a, x), Q(a, x) and the Hurwitz zeta function
zeta(x, q) of float numpy/cupy arrays, for fastdl.special (gammainc, gammaincc, zeta).

Computed in float64 and rounded once; inf and NaN are results. Methods (the textbook ones,
chosen per element with the branch rules of Cephes' igam/igamc so that torch's values at the
boundaries and special points come out the same):
- the prefactor x^a e^-x / Gamma(a): directly for a < 10; for a >= 10 as
  exp(-a (s - log(x / a))) sqrt(a / 2 pi) / exp(stirling_tail(a)) with s = (x - a) / a, whose
  absolute error stays ~eps |x - a| instead of ~eps a (no cancellation of a log x and lgamma(a));
- P by its power series x^a e^-x / Gamma(a + 1) sum_k x^k / ((a + 1) ... (a + k)) when x is
  below ~a; Q by Legendre's continued fraction (modified Lentz) when x is above; for small x
  and small a, Q = -expm1(a log x - lgamma(1 + a)) - x^a / Gamma(a) sum_n (-x)^n / (n! (a + n)),
  which keeps Q's relative accuracy where P is close to 1;
- for a > 1000 and |x - a| < 0.3 a, Temme's uniform asymptotic expansion (DLMF 8.12), which
  also serves a ~ x ~ 1e20;
- Hurwitz zeta: Cephes' direct sum (at least 9 terms, up to q + k > 9, stopping per element once
  a term falls below one ulp of the sum) and Euler-Maclaurin with up to 12 Bernoulli terms.
Each iteration works on the elements still converging only, so a slow element (a ~ x ~ 1e6
needs ~sqrt(a) terms) does not make the others pay.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.functional._special_arrays import lgamma as _lgamma
from fastdl.nn.functional._special import _xp

_EPS = 2.0 ** -53
_MAX_ITERATIONS = 100_000


def _stirling_tail(a):
    """lgamma(a) - ((a - 1/2) log a - a + log(2 pi) / 2) for a >= 10."""
    inv, inv2 = 1.0 / a, 1.0 / (a * a)
    return inv * (1 / 12 + inv2 * (-1 / 360 + inv2 * (1 / 1260 + inv2 * (
        -1 / 1680 + inv2 * (1 / 1188 + inv2 * (-691 / 360360 + inv2 / 156))))))


def _prefactor(a, x):
    """x^a e^-x / Gamma(a) for a > 0, x > 0 (finite)."""
    xp = _xp(a)
    small = a < 10.0
    a_small = xp.where(small, a, 1.0)
    direct = xp.exp(a_small * xp.log(x) - x - _lgamma(a_small))
    a_big = xp.where(small, 10.0, a)
    s = (x - a_big) / a_big
    # log(x / a): log1p(s) near 1, but log(x / a) itself where x / a is far from 1 (1 + s
    # would carry s's rounding, relative 1e-11 of x / a = 1e-5, into the log)
    ratio = x / a_big
    log_ratio = xp.where(xp.abs(s) < 0.5, xp.log1p(s), xp.log(ratio))
    large = xp.exp(-a_big * (s - log_ratio) - _stirling_tail(a_big)) * xp.sqrt(
        a_big / (2.0 * math.pi))
    return xp.where(small, direct, large)


def _iterate(step, state, count):
    """Run ``step(state, k) -> (state, still_going)`` for k = 1, 2 ... on the elements still going:
    ``state`` is a tuple of equally shaped 1-d arrays, gathered once per round of steps."""
    xp = _xp(state[0])
    state = tuple(s.copy() for s in state)
    index = xp.arange(count)
    live = state
    for k in range(1, _MAX_ITERATIONS + 1):
        if index.size == 0:
            break
        live, going = step(live, k)
        if k % 8 == 0 or not bool(going.all()):
            for full, part in zip(state, live):
                full[index] = part
            index = index[going]
            live = tuple(part[going] for part in live)
    for full, part in zip(state, live):  # those still going after _MAX_ITERATIONS
        full[index] = part
    return state


def _p_series(a, x):
    """P(a, x) by its power series (x below ~a + 1, or x small)."""
    xp = _xp(a)

    def step(s, k):
        a_, x_, term, total = s
        term = term * x_ / (a_ + k)
        total = total + term
        return (a_, x_, term, total), term > _EPS * total

    _, _, _, total = _iterate(step, (a, x, xp.ones_like(a), xp.ones_like(a)), a.size)
    return total * _prefactor(a, x) / a


def _q_continued_fraction(a, x):
    """Q(a, x) by Legendre's continued fraction 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)),
    evaluated front to back with the modified Lentz method (x > 1.1 and x >= a)."""
    xp = _xp(a)
    tiny = 1e-300
    b = x + 1.0 - a
    c = xp.full_like(a, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()

    def step(s, k):
        a_, b_, c_, d_, h_ = s
        an = -k * (k - a_)
        b_ = b_ + 2.0
        d_ = an * d_ + b_
        d_ = xp.where(xp.abs(d_) < tiny, tiny, d_)
        c_ = b_ + an / c_
        c_ = xp.where(xp.abs(c_) < tiny, tiny, c_)
        d_ = 1.0 / d_
        delta = d_ * c_
        h_ = h_ * delta
        return (a_, b_, c_, d_, h_), xp.abs(delta - 1.0) > _EPS

    h = _iterate(step, (a, b, c, d, h), a.size)[4]
    return h * _prefactor(a, x)


def _q_small_x_series(a, x):
    """Q(a, x) for x <= 1.1 and small a: -expm1(a log x - lgamma(1 + a)) minus
    x^a / Gamma(a) sum_n>=1 (-x)^n / (n! (a + n))."""
    xp = _xp(a)

    def step(s, n):
        a_, x_, factor, total, term = s
        factor = factor * -x_ / n
        term = factor / (a_ + n)
        total = total + term
        return (a_, x_, factor, total, term), xp.abs(term) > _EPS * xp.abs(total)

    zeros = xp.zeros_like(a)
    total = _iterate(step, (a, x, xp.ones_like(a), zeros, zeros), a.size)[3]
    log_x = xp.log(x)
    return -xp.expm1(a * log_x - _lgamma(1.0 + a)) - xp.exp(a * log_x - _lgamma(a)) * total


def _pick(a, x, mask, fn):
    """fn on the elements where mask holds (1-d arrays), NaN elsewhere."""
    xp = _xp(a)
    out = xp.full_like(a, xp.nan)
    if bool(mask.any()):
        out[mask] = fn(a[mask], x[mask])
    return out


# Temme's uniform expansion Q(a, x) = erfc(eta sqrt(a / 2)) / 2 + exp(-a eta^2 / 2) /
# sqrt(2 pi a) sum_k c_k(eta) a^-k (DLMF 8.12.3-4) with c_k(eta) = sum_n _TEMME[k][n] eta^n, the
# coefficients of DiDonato & Morris (ACM TOMS 12, 1986); four rows of twelve keep the
# truncation below 1e-16 for a > _TEMME_A and |x - a| < 0.3 a
_TEMME = (
    (-3.3333333333333333e-1, 8.3333333333333333e-2, -1.4814814814814815e-2,
     1.1574074074074074e-3, 3.527336860670194e-4, -1.7875514403292181e-4,
     3.9192631785224378e-5, -2.1854485106799922e-6, -1.85406221071516e-6,
     8.296711340953086e-7, -1.7665952736826079e-7, 6.7078535434014986e-9),
    (-1.8518518518518519e-3, -3.4722222222222222e-3, 2.6455026455026455e-3,
     -9.9022633744855967e-4, 2.0576131687242798e-4, -4.0187757201646091e-7,
     -1.8098550334489978e-5, 7.6491609160811101e-6, -1.6120900894563446e-6,
     4.6471278028074343e-9, 1.378633446915721e-7, -5.752545603517705e-8),
    (4.1335978835978836e-3, -2.6813271604938272e-3, 7.7160493827160494e-4,
     2.0093878600823045e-6, -1.0736653226365161e-4, 5.2923448829120125e-5,
     -1.2760635188618728e-5, 3.4235787340961381e-8, 1.3721957309062933e-6,
     -6.298992138380055e-7, 1.4280614206064242e-7, -2.0477098421990866e-10),
    (6.4943415637860082e-4, 2.2947209362139918e-4, -4.6918949439525571e-4,
     2.6772063206283885e-4, -7.5618016718839764e-5, -2.3965051138672967e-7,
     1.1082654115347302e-5, -5.6749528269915966e-6, 1.4230900732435884e-6,
     -2.7861080291528142e-11, -1.6958404091930277e-7, 8.0994649053880824e-8),
)
_TEMME_A = 1000.0


def _s_minus_log1p(s):
    """s - log1p(s) >= 0; by its series s^2/2 - s^3/3 + ... for |s| < 0.1, where the direct
    difference would cancel (a ~ x ~ 1e20 puts s near 1e-10)."""
    xp = _xp(s)
    small = xp.where(xp.abs(s) < 0.1, s, 0.0)
    series = 0.0
    for k in range(30, 1, -1):
        series = series * small + (-1.0) ** k / k
    series = series * small * small
    return xp.where(xp.abs(s) < 0.1, series, s - xp.log1p(s))


def _temme(a, x, lower):
    """P (lower) or Q by Temme's expansion, for a > _TEMME_A and |x - a| < 0.3 a."""
    from fastdl.functional._special_arrays import erfc
    xp = _xp(a)
    s = (x - a) / a
    eta = xp.sign(s) * xp.sqrt(2.0 * _s_minus_log1p(s))
    total, inv_a = 0.0, 1.0 / a
    for row in reversed(_TEMME):
        c = 0.0
        for d in reversed(row):
            c = c * eta + d
        total = total * inv_a + c
    sign = -1.0 if lower else 1.0
    return 0.5 * erfc(sign * eta * xp.sqrt(a / 2.0)) + sign * xp.exp(
        -0.5 * a * eta * eta) * total / xp.sqrt(2.0 * math.pi * a)


def _upper_regular(a, x):
    """Q(a, x) for finite a > 0, x > 0 (1-d float64 arrays)."""
    xp = _xp(a)
    with np.errstate(divide="ignore"):
        small_x_rule = xp.where(x <= 0.5, -0.4 / xp.log(x) < a, 1.1 * x < a)
    via_p = xp.where(x > 1.1, x < a, small_x_rule)
    fraction = (x > 1.1) & ~via_p
    out = 1.0 - _pick(a, x, via_p, _p_series)
    out = xp.where(fraction, _pick(a, x, fraction, _q_continued_fraction), out)
    series = ~via_p & ~fraction
    return xp.where(series, _pick(a, x, series, _q_small_x_series), out)


def _lower_regular(a, x):
    """P(a, x) for finite a > 0, x > 0 (1-d float64 arrays)."""
    xp = _xp(a)
    complement = (x > 1.0) & (x > a)
    out = _pick(a, x, ~complement, _p_series)
    return xp.where(complement, 1.0 - _pick(a, x, complement, _upper_regular), out)


def _regular(a, x, lower):
    """P or Q for finite a > 0, x > 0: Temme's expansion for large a near x (where the series
    and the continued fraction would need ~sqrt(a) terms), the rest by their rules."""
    xp = _xp(a)
    temme = (a > _TEMME_A) & (xp.abs(x - a) < 0.3 * a)
    out = _pick(a, x, ~temme, _lower_regular if lower else _upper_regular)
    return xp.where(temme, _pick(a, x, temme, lambda a_, x_: _temme(a_, x_, lower)), out)


def _incomplete_gamma(a, x, lower):
    xp = _xp(a)
    a, x = xp.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    shape, dtype = a.shape, np.result_type(a.dtype, x.dtype)
    a, x = a.ravel(), x.ravel()
    with np.errstate(all="ignore"):
        regular = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        out = xp.full_like(a, xp.nan)
        if bool(regular.any()):
            out[regular] = _regular(a[regular], x[regular], lower)
        zero_side, one_side = (0.0, 1.0) if lower else (1.0, 0.0)
        # the boundaries as Cephes (and torch) define them, the first rule that applies
        # winning (so P(inf, NaN) = 0 and P(NaN, inf) = 1, as in torch)
        out = xp.where(xp.isinf(x), one_side, out)
        out = xp.where(xp.isinf(a), xp.where(xp.isinf(x), xp.nan, zero_side), out)
        out = xp.where(x == 0, zero_side, out)
        out = xp.where(a == 0, xp.where(x > 0, one_side, xp.nan), out)
        out = xp.where((x < 0) | (a < 0), xp.nan, out)
    return out.reshape(shape).astype(dtype, copy=False)


def gammainc(a, x):
    """P(a, x) = gamma(a, x) / Gamma(a), the regularized lower incomplete gamma function."""
    return _incomplete_gamma(a, x, True).astype(np.result_type(a, x), copy=False)


def gammaincc(a, x):
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function."""
    return _incomplete_gamma(a, x, False).astype(np.result_type(a, x), copy=False)


# Euler-Maclaurin's denominators (2j)! / B_2j, as Cephes tabulates them
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9,
           7.47242496e10, -2.950130727918164224e12, 1.1646782814350067249e14,
           -4.5979787224074726105e15, 1.8152105401943546773e17, -7.1661652561756670113e18)


def _zeta_regular(x, q):
    """zeta(x, q) for x > 1 and q not a pole (1-d float64 arrays)."""
    xp = _xp(x)
    total = q ** -x
    a = q.copy()
    b = xp.zeros_like(q)
    done = xp.zeros(q.shape, dtype=bool)
    steps = 0
    # the direct sum: at least 9 terms and on until a > 9 (that many steps for q << 0)
    while True:
        going = ~done & ((steps < 9) | (a <= 9.0))
        if not bool(going.any()):
            break
        steps += 1
        a = xp.where(going, a + 1.0, a)
        b = xp.where(going, a ** -x, b)
        total = xp.where(going, total + b, total)
        done = done | (going & (-_EPS * total < b) & (b < _EPS * total))
    w = a
    tail = ~done
    total = xp.where(tail, total + b * w / (x - 1.0) - 0.5 * b, total)
    factor, k = xp.ones_like(x), 0.0
    for denominator in _ZETA_A:
        factor = factor * (x + k)
        b = b / w
        term = factor * b / denominator
        total = xp.where(tail, total + term, total)
        tail = tail & ~(xp.abs(term / total) < _EPS)
        k += 1.0
        factor = factor * (x + k)
        b = b / w
        k += 1.0
    return total


def zeta(x, q):
    """The Hurwitz zeta function sum_k>=0 (q + k)^-x, with Cephes' (and torch's) domain rules:
    inf at x = 1 and at the poles q = 0, -1, -2 ...; NaN for x < 1, and for q < 0 unless x is
    an integer."""
    xp = _xp(x)
    dtype = np.result_type(x, q)
    x, q = xp.broadcast_arrays(x.astype(np.float64), q.astype(np.float64))
    shape = x.shape
    x, q = x.ravel(), q.ravel()
    with np.errstate(all="ignore"):
        pole = (q <= 0) & (q == xp.floor(q))
        undefined = (q <= 0) & ~pole & (x != xp.floor(x))
        regular = (x > 1) & ~pole & ~undefined
        out = xp.full_like(x, xp.nan)
        if bool(regular.any()):
            out[regular] = _zeta_regular(x[regular], q[regular])
        out = xp.where(~(x < 1) & pole, xp.inf, out)  # NaN x too (torch: zeta(NaN, -inf) = inf)
        out = xp.where(x == 1, xp.inf, out)
        return out.reshape(shape).astype(dtype, copy=False)
