"""Samples for functional/pointwise_edges.py: copysign, hypot, logaddexp, xlogy and sinc, the
registered ops with torch's own gradient formulas (xlog1py's op is sampled in
op_samples_special.py). Values keep away from the edges (input 0 for copysign, the origin for
hypot), where those formulas are not derivatives."""
from op_samples import S, U, sample

sample("copysign", "broadcast", lambda L, a, b: L.T.copysign(a, b),
       lambda r: [S(r, (3, 4)), S(r, (4,))])
sample("copysign", "method_scalar", lambda L, a: a.copysign(-1.5), lambda r: [S(r, (2, 5))])
sample("hypot", "broadcast", lambda L, a, b: L.T.hypot(a, b),
       lambda r: [S(r, (3, 1)), U(r, (4,))])
sample("logaddexp", "broadcast", lambda L, a, b: L.T.logaddexp(a, b),
       lambda r: [U(r, (3, 1), -4.0, 4.0), U(r, (4,), -4.0, 4.0)])
sample("logaddexp", "logaddexp2_method", lambda L, a, b: a.logaddexp2(b),
       lambda r: [U(r, (2, 3), -4.0, 4.0), U(r, (2, 3), -4.0, 4.0)])
sample("xlogy", "broadcast", lambda L, x, y: L.T.xlogy(x, y),
       lambda r: [U(r, (3, 1)), U(r, (4,), 0.2, 2.0)])
sample("xlogy", "scalar_self", lambda L, y: L.T.special.xlogy(2.5, y),
       lambda r: [U(r, (2, 3), 0.2, 2.0)])
sample("sinc", "3x5", lambda L, x: L.T.sinc(x), lambda r: [U(r, (3, 5), -2.5, 2.5)])
# |pi x| < 1/2 takes the gradient's Taylor series
sample("sinc", "near_zero_method", lambda L, x: x.sinc(), lambda r: [U(r, (2, 6), -0.15, 0.15)])
