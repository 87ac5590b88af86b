"""Elementwise transforms beyond exp/sigmoid/tanh/affine (torch.distributions.transforms):
|x|, x^p, softplus and a distribution's cdf. HalfNormal and HalfCauchy fold a symmetric law with
AbsTransform; Weibull, Kumaraswamy and InverseGamma bend an exponential or uniform law with
PowerTransform; copulas push marginals through CumulativeDistributionTransform."""
from __future__ import annotations

import numpy as np

from fastdl.distributions import constraints
from fastdl.distributions.transforms import Transform, _StatelessTransform
from fastdl.distributions.utils import broadcast_all
from fastdl.nn.functional import softplus

__all__ = ["AbsTransform", "CumulativeDistributionTransform", "PowerTransform",
           "SoftplusTransform"]


class AbsTransform(Transform):
    """y = |x|: not injective, so its "inverse" returns the nonnegative preimage.

    >>> AbsTransform()(fastdl.tensor([-2.0, 3.0])).tolist()
    [2.0, 3.0]
    """

    codomain = constraints.positive

    def __eq__(self, other):
        return isinstance(other, AbsTransform)

    def __hash__(self):
        return hash(AbsTransform)

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


class PowerTransform(Transform):
    """y = x^exponent on the positive reals (exponent a Tensor or number, broadcast with x).

    >>> t = PowerTransform(fastdl.tensor(2.0))
    >>> t(fastdl.tensor([3.0])).tolist(), t.inv(fastdl.tensor([16.0])).tolist()
    ([9.0], [4.0])
    """

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size=0):
        super().__init__(cache_size=cache_size)
        (self.exponent,) = broadcast_all(exponent)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return PowerTransform(self.exponent, cache_size=cache_size)

    @property
    def sign(self):
        return self.exponent.sign()

    def __eq__(self, other):
        if not isinstance(other, PowerTransform):
            return False
        return bool((self.exponent == other.exponent).all())

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        return (self.exponent * y / x).abs().log()

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), tuple(self.exponent.shape)))

    inverse_shape = forward_shape


class SoftplusTransform(_StatelessTransform):
    """y = log(1 + e^x), onto the positive reals; log|dy/dx| = -softplus(-x).

    >>> round(SoftplusTransform()(fastdl.tensor(0.0)).item(), 6)
    0.693147
    """

    codomain = constraints.positive

    def _call(self, x):
        return softplus(x)

    def _inverse(self, y):
        return (-(-y).expm1()).log() + y  # log(e^y - 1) without overflow for large y

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x)


class CumulativeDistributionTransform(Transform):
    """y = distribution.cdf(x), onto [0, 1]; its log|det| is the density (a Gaussian copula
    pushes a MultivariateNormal through the Normal(0, 1) cdf).

    >>> t = CumulativeDistributionTransform(Normal(0.0, 1.0))
    >>> t(fastdl.tensor([0.0])).tolist(), round(t.inv(fastdl.tensor(0.5)).item(), 6)
    ([0.5], 0.0)
    """

    bijective = True
    codomain = constraints.unit_interval
    sign = 1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)
