"""Bessel and Airy functions of float numpy/cupy arrays without scipy, for fastdl.special:
J0, J1, Y0, Y1, K0, K1 (plain and exponentially scaled), the spherical j0 and Airy Ai.

They follow the Cephes library (as torch.special does, so values at the special points and
the branch boundaries agree with torch's): rational approximations in x^2 below a split point
and Hankel's asymptotic form with rational P/Q factors above it (J, Y); Chebyshev series on
[0, 2] and in 8/x beyond (K); Airy Ai by its Maclaurin series in the middle and asymptotic
rational forms for |x| > 2.09. Like _special_arrays, everything is computed in float64 and
rounded once; inf and NaN are results, so floating-point warnings are silenced.

The coefficient tables are Cephes' (S. L. Moshier, Cephes Math Library Release 2.8, BSD
licensed; the same numbers torch's ATen/native/Math.h uses).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from fastdl.functional._special_arrays import _float64_inside, i0 as _i0, i1 as _i1
from fastdl.nn.functional._special import _xp

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TWO_OVER_PI = 2.0 / math.pi
_QUARTER_PI, _THREE_QUARTER_PI = math.pi / 4, 3 * math.pi / 4
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)

_J0_PP = (
    0.0007969367292973471, 0.08283523921074408, 1.239533716464143, 5.447250030587687,
    8.74716500199817, 5.303240382353949, 1.0,)
_J0_PQ = (
    0.0009244088105588637, 0.08562884743544745, 1.2535274390105895, 5.470977403304171,
    8.761908832370695, 5.306052882353947, 1.0,)
_J0_QP = (
    -0.011366383889846916, -1.2825271867050931, -19.553954425773597, -93.20601521237683,
    -177.68116798048806, -147.07750515495118, -51.41053267665993, -6.050143506007285,)
_J0_QQ = (
    64.3178256118178, 856.4300259769806, 3882.4018360540163, 7240.467741956525, 5930.727011873169,
    2062.0933166032783, 242.0057402402914,)
_J0_RP = (
    -4794432209.782018, 1956174919465.5657, -249248344360967.72, 9708622510473064.0,)
_J0_RQ = (
    499.563147152651, 173785.4016763747, 48440965.83399621, 11185553704.535683, 2112775201154.892,
    310518229857422.56, 3.1812195594320496e+16, 1.7108629408104315e+18,)
_J1_PP = (
    0.0007621256162081731, 0.07313970569409176, 1.1271960812968493, 5.112079511468076,
    8.424045901417724, 5.214515986823615, 1.0,)
_J1_PQ = (
    0.0005713231280725487, 0.06884559087544954, 1.105142326340617, 5.073863861286015,
    8.399855543276042, 5.209828486823619, 1.0,)
_J1_QP = (
    0.05108625947501766, 4.982138729512334, 75.82382841325453, 366.7796093601508,
    710.8563049989261, 597.4896124006136, 211.68875710057213, 25.207020585802372,)
_J1_QQ = (
    74.23732770356752, 1056.4488603826283, 4986.410583376536, 9562.318924047562,
    7997.041604473507, 2826.1927851763908, 336.0936078106983,)
_J1_RP = (
    -899971225.7055594, 452228297998.19403, -72749424522181.83, 3682957328638529.0,)
_J1_RQ = (
    620.8364781180543, 256987.25675774884, 83514679.14319493, 22151159547.97925,
    4749141220799.914, 784369607876235.9, 8.952223361846274e+16, 5.322786203326801e+18,)
_Y0_YP = (
    15592.436785523574, -14663929.59039716, 5435264770.518765, -982136065717.9115,
    87590639439536.7, -3466283033847297.0, 4.4273326857256984e+16, -1.8495080043698668e+16,)
_Y0_YQ = (
    1041.2835366425984, 626107.330137135, 268919633.39381415, 86400248710.3935,
    20297961275010.555, 3171577528429750.5, 2.5059625617265306e+17,)
_Y1_YP = (
    1263204747.9017804, -647355876379.1603, 114509511541823.73, -8127702555013251.0,
    2.024394757135949e+17, -7.788771962659501e+17,)
_Y1_YQ = (
    594.3015923461282, 235564.09294306856, 73481194.44597217, 18760131610.870617,
    3882312774962.3857, 620557727146953.8, 6.871410873553005e+16, 3.9727060811656064e+18,)
_K0_A = (
    1.374465435613523e-16, 4.25981614279661e-14, 1.0349695257633842e-11, 1.904516377220209e-09,
    2.5347910790261494e-07, 2.286212103119452e-05, 0.001264615411446926, 0.0359799365153615,
    0.3442898999246285, -0.5353273932339028,)
_K0_B = (
    5.300433772686263e-18, -1.6475804301524212e-17, 5.2103915050390274e-17,
    -1.678231096805412e-16, 5.512055978524319e-16, -1.848593377343779e-15, 6.3400764774050706e-15,
    -2.2275133269916698e-14, 8.032890775363575e-14, -2.9800969231727303e-13,
    1.140340588208475e-12, -4.514597883373944e-12, 1.8559491149547177e-11, -7.957489244477107e-11,
    3.577397281400301e-10, -1.69753450938906e-09, 8.574034017414225e-09, -4.660489897687948e-08,
    2.766813639445015e-07, -1.8317555227191195e-06, 1.39498137188765e-05, -0.00012849549581627802,
    0.0015698838857300533, -0.0314481013119645, 2.4403030820659555,)
_K1_A = (
    -7.023863479386288e-18, -2.427449850519366e-15, -6.666901694199329e-13,
    -1.4114883926335278e-10, -2.213387630734726e-08, -2.4334061415659684e-06,
    -0.0001730288957513052, -0.006975723859639864, -0.12261118082265715, -0.3531559607765449,
    1.5253002273389478,)
_K1_B = (
    -5.756744483665017e-18, 1.7940508731475592e-17, -5.689462558442859e-17, 1.838093544366639e-16,
    -6.057047248373319e-16, 2.038703165624334e-15, -7.019837090418314e-15, 2.4771544244813043e-14,
    -8.976705182324994e-14, 3.3484196660784293e-13, -1.2891739609510289e-12, 5.13963967348173e-12,
    -2.1299678384275683e-11, 9.218315187605006e-11, -4.1903547593418965e-10,
    2.015049755197033e-09, -1.0345762465678097e-08, 5.7410841254500495e-08,
    -3.5019606030878126e-07, 2.406484947837217e-06, -1.936197974166083e-05,
    0.00019521551847135162, -0.002857816859622779, 0.10392373657681724, 2.7206261904844427,)
_AIRY_AN = (
    0.346538101525629, 12.007595273964581, 76.27960536152345, 168.08922493463058,
    159.75639135016442, 70.53609068404442, 14.026469116338967, 1.0,)
_AIRY_AD = (
    0.5675945326387702, 14.75625625848472, 84.51389701414746, 177.31808814540045,
    164.2346928715297, 71.47784008255756, 14.095913560783403, 1.0,)
_AIRY_AFN = (
    -0.1316963234183318, -0.6264565444319123, -0.6931580360369335, -0.2797799815451191,
    -0.04919001326095003, -0.004062659235948854, -0.0001592764962392621, -2.776491081552329e-06,
    -1.6778769848911465e-08,)
_AIRY_AFD = (
    13.356042070655324, 32.682503279522464, 26.736704094149957, 9.187074029072596,
    1.4752914677166642, 0.11568717379518804, 0.004402916416152112, 7.547203482874142e-05,
    4.5185009297058035e-07,)
_AIRY_AGN = (
    0.01973399320916857, 0.39110302961568827, 1.0657989759959559, 0.9391692298166502,
    0.35146565610554764, 0.06338889196289255, 0.005858041130483885, 0.000282851600836737,
    6.98793669997261e-06, 8.117892395543892e-08, 3.415517847659236e-10,)
_AIRY_AGD = (
    9.30892908077442, 19.835292871831214, 15.564662893286462, 5.476860694229755,
    0.9542936116189619, 0.08645808263523921, 0.004126565238242226, 0.00010125908511650914,
    1.1716673321441352e-06, 4.9183457006293e-09,)


def _elementwise(fn):
    """``fn`` in float64 (the result rounded once to the input's dtype), NaN in -> NaN out (the
    branches evaluate on substitute values where they do not apply, NaN included)."""
    inner = _float64_inside(fn)

    @functools.wraps(fn)
    def wrapped(x):
        out = inner(x)
        return _xp(x).where(_xp(x).isnan(x), x, out)
    return wrapped


def _horner(coefficients, t):
    """sum c_k t^(n-k), the highest power first (Cephes' polevl)."""
    acc = 0.0
    for c in coefficients:
        acc = acc * t + c
    return acc


def _chebyshev(coefficients, t):
    """Cephes' chbevl: a Chebyshev series in t / 2 by Clenshaw's recurrence (t in [-2, 2])."""
    previous, current = 0.0, 0.0
    value = coefficients[0]
    for c in coefficients[1:]:
        previous, current = current, value
        value = t * current - previous + c
    return 0.5 * (value - previous)


def _hankel(a, pp, pq, qp, qq, w, phase, sine_first):
    """sqrt(2 / (pi a)) (P cos(a - phase) - (5 / a) Q sin(a - phase)) with P = pp / pq and
    Q = qp / qq rational in w = 25 / a^2 (J); the Y form swaps cos -> sin, sin -> -cos."""
    xp = _xp(a)
    p = _horner(pp, w) / _horner(pq, w)
    q = 5.0 / a * (_horner(qp, w) / _horner(qq, w))
    shifted = a - phase
    if sine_first:
        body = p * xp.sin(shifted) + q * xp.cos(shifted)
    else:
        body = p * xp.cos(shifted) - q * xp.sin(shifted)
    return body * _SQRT_2_OVER_PI / xp.sqrt(a)


def _j0_of_abs(a):
    xp = _xp(a)
    z = a * a
    small = (z - 5.78318596294678452118) * (z - 30.4712623436620863991) * (
        _horner(_J0_RP, z) / _horner(_J0_RQ, z))
    small = xp.where(a < 1e-5, 1.0 - z / 4.0, small)
    far = xp.maximum(a, 5.0)
    large = _hankel(far, _J0_PP, _J0_PQ, _J0_QP, _J0_QQ, 25.0 / (far * far), _QUARTER_PI, False)
    return xp.where(a <= 5.0, small, large)


@_elementwise
def bessel_j0(x):
    return _j0_of_abs(_xp(x).abs(x))


def _j1_small(x):
    """J1 for |x| <= 5; odd in x (keeps J1(-0) = -0)."""
    z = x * x
    return _horner(_J1_RP, z) / _horner(_J1_RQ, z) * x * (z - 14.6819706421238932572) * (
        z - 49.2184563216946036703)


def _j1_large(a):
    """J1 for a >= 5; torch forms 25 / a^2 as (5 / a)^2 here."""
    w = 5.0 / a * (5.0 / a)
    return _hankel(a, _J1_PP, _J1_PQ, _J1_QP, _J1_QQ, w, _THREE_QUARTER_PI, False)


@_elementwise
def bessel_j1(x):
    xp = _xp(x)
    a = xp.abs(x)
    large = _j1_large(xp.maximum(a, 5.0))
    return xp.where(a <= 5.0, _j1_small(xp.where(a <= 5.0, x, 0.0)),
                    xp.where(x < 0, -large, large))


def _positive_small(x, value):
    """Y0, Y1 and K0, K1 below their split: -inf (Y) or inf (K) at 0, NaN for x < 0."""
    xp = _xp(x)
    return xp.where(x < 0, xp.nan, value)


@_elementwise
def bessel_y0(x):
    xp = _xp(x)
    near = xp.where((x > 0) & (x <= 5.0), x, 1.0)
    z = near * near
    small = (_horner(_Y0_YP, z) / _horner(_Y0_YQ, z) +
             _TWO_OVER_PI * xp.log(near) * _j0_of_abs(near))
    small = _positive_small(x, xp.where(x == 0, -xp.inf, small))
    far = xp.where(x > 5.0, x, 5.0)
    large = _hankel(far, _J0_PP, _J0_PQ, _J0_QP, _J0_QQ, 25.0 / (far * far), _QUARTER_PI, True)
    return xp.where(x <= 5.0, small, large)


@_elementwise
def bessel_y1(x):
    xp = _xp(x)
    near = xp.where((x > 0) & (x <= 5.0), x, 1.0)
    z = near * near
    small = near * (_horner(_Y1_YP, z) / _horner(_Y1_YQ, z)) + _TWO_OVER_PI * (
        _j1_small(near) * xp.log(near) - 1.0 / near)
    small = _positive_small(x, xp.where(x == 0, -xp.inf, small))
    far = xp.where(x > 5.0, x, 5.0)
    w = 5.0 / far * (5.0 / far)
    large = _hankel(far, _J1_PP, _J1_PQ, _J1_QP, _J1_QQ, w, _THREE_QUARTER_PI, True)
    return xp.where(x <= 5.0, small, large)


def _growing(fn, odd):
    """I0 (odd=False) or I1 as torch computes them in the input's dtype: exp(|x|) times a factor
    below 1, so the result is +-inf once exp(|x|) overflows that dtype (|x| > 88.72 in float32)
    although the value itself may still fit; NaN at +-inf (exp(inf) * 0 in torch's form)."""
    def wrapped(x):
        xp = _xp(x)
        limit = math.log(float(np.finfo(x.dtype).max))
        overflow = xp.where(x < 0, -xp.inf, xp.inf) if odd else xp.inf
        out = xp.where(xp.abs(x) > limit, overflow, fn(x))
        return xp.where(xp.isinf(x), xp.nan, out).astype(x.dtype, copy=False)
    return wrapped


modified_bessel_i0 = _growing(_i0, odd=False)
modified_bessel_i1 = _growing(_i1, odd=True)


def _k_parts(x, small_table, large_table, order):
    """(the x <= 2 part without its exp factor, the x > 2 part without exp(-x)) for K0/K1."""
    xp = _xp(x)
    near = xp.where((x > 0) & (x <= 2.0), x, 1.0)
    series = _chebyshev(small_table, near * near - 2.0)
    if order == 0:
        small = series - xp.log(0.5 * near) * _i0(near)
    else:
        small = xp.log(0.5 * near) * _i1(near) + series / near
    far = xp.where(x > 2.0, x, 2.0)
    large = _chebyshev(large_table, 8.0 / far - 2.0) / xp.sqrt(far)
    return small, large, far


def _k(x, order, scaled):
    xp = _xp(x)
    small, large, far = _k_parts(x, _K0_A if order == 0 else _K1_A,
                                 _K0_B if order == 0 else _K1_B, order)
    if scaled:
        small = small * xp.exp(xp.where(x <= 2.0, x, 0.0))
    else:
        large = large * xp.exp(-far)
    out = xp.where(x <= 2.0, small, large)
    return xp.where(x == 0, xp.inf, xp.where(x < 0, xp.nan, out))


def _k_function(name, order, scaled):
    def fn(x):
        return _k(x, order, scaled)
    fn.__name__ = fn.__qualname__ = name
    return _elementwise(fn)


modified_bessel_k0 = _k_function("modified_bessel_k0", 0, False)
modified_bessel_k1 = _k_function("modified_bessel_k1", 1, False)
scaled_modified_bessel_k0 = _k_function("scaled_modified_bessel_k0", 0, True)
scaled_modified_bessel_k1 = _k_function("scaled_modified_bessel_k1", 1, True)


@_elementwise
def spherical_bessel_j0(x):
    xp = _xp(x)
    z = x * x
    series = 1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (
        1.0 / 362880.0 + z * (-1.0 / 39916800.0 + z * (1.0 / 6227020800.0))))))
    with_sine = xp.sin(x) / xp.where(x == 0, 1.0, x)
    out = xp.where(xp.abs(x) < 0.5, series, with_sine)
    return xp.where(xp.isinf(x), 0.0, out)


def _airy_maclaurin(x):
    """0.355... f(x) - 0.258... g(x), Ai's Maclaurin series (f, g its two solutions), summed
    per element until the next term of f falls below one ulp, as Cephes does."""
    xp = _xp(x)
    eps = float(xp.finfo(xp.float64).eps)
    f, g = xp.ones_like(x), x.copy()
    m, n, k = xp.ones_like(x), x.copy(), 1.0
    cube = x * x * x
    active = xp.ones(x.shape, dtype=bool)
    for _ in range(200):
        if not bool(active.any()):
            break
        m = m * cube / (k + 1.0)
        n = n * cube / (k + 2.0)
        m = m / (k + 2.0)
        n = n / (k + 3.0)
        k += 3.0
        f = xp.where(active, f + m, f)
        g = xp.where(active, g + n, g)
        active = active & (xp.abs(m / f) > eps)
    return 0.355028053887817239260 * f - 0.258819403792806798405 * g


@_elementwise
def airy_ai(x):
    xp = _xp(x)
    # x < -2.09: the oscillating asymptotic form with rational corrections in z = 1 / zeta
    neg = xp.where(x < -2.09, x, -3.0)
    zeta = -2.0 * neg * xp.sqrt(-neg) / 3.0
    z = 1.0 / zeta
    z2 = z * z
    t = zeta + 0.25 * math.pi
    oscillating = _ONE_OVER_SQRT_PI / xp.sqrt(xp.sqrt(-neg)) * (
        xp.sin(t) * (1.0 + z2 * _horner(_AIRY_AFN, z2) / _horner(_AIRY_AFD, z2)) -
        xp.cos(t) * (z * _horner(_AIRY_AGN, z2) / _horner(_AIRY_AGD, z2)))
    # x >= 2.09: the decaying form, a rational function of 1 / zeta
    pos = xp.where(x >= 2.09, x, 3.0)
    zeta_pos = 2.0 * pos * xp.sqrt(pos) / 3.0
    decaying = _ONE_OVER_SQRT_PI * (_horner(_AIRY_AN, 1.0 / zeta_pos) /
                                    _horner(_AIRY_AD, 1.0 / zeta_pos)) / (
        2.0 * xp.sqrt(xp.sqrt(pos)) * xp.exp(zeta_pos))
    middle = _airy_maclaurin(xp.where((x >= -2.09) & (x < 2.09), x, 0.0))
    out = xp.where(x < -2.09, oscillating, xp.where(x >= 2.09, decaying, middle))
    out = xp.where(x > 103.892, 0.0, out)
    return xp.where(xp.isinf(x), xp.nan, out)
