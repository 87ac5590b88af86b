"""Normal(loc, scale): the Gaussian."""
from __future__ import annotations

import math

from fastdl.distributions._special import erf, erfinv
from fastdl.distributions.exp_family import ExponentialFamily
from fastdl.distributions.location_scale import LocationScaleDistribution
from fastdl.distributions.utils import standard_normal

__all__ = ["Normal"]

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class Normal(LocationScaleDistribution, ExponentialFamily):
    """N(loc, scale^2), batched by broadcasting loc and scale.

    >>> d = Normal(fastdl.tensor([0.0, 1.0]), fastdl.tensor([1.0, 2.0]))
    >>> d.log_prob(fastdl.tensor([0.0, 1.0])).tolist()  # doctest: +ELLIPSIS
    [-0.918938..., -1.612085...]
    """

    def _standard_draws(self, shape):
        return standard_normal(shape, self.loc)

    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def log_prob(self, value):
        z = self._standardize(value)
        return -0.5 * z * z - self.scale.log() - _HALF_LOG_TWO_PI

    def cdf(self, value):
        return 0.5 * (1 + erf(self._standardize(value) * (1 / math.sqrt(2))))

    def icdf(self, value):
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + _HALF_LOG_TWO_PI + self.scale.log()

    # the exponential-family form (natural parameters and log normalizer), as torch's, for
    # ExponentialFamily's generic entropy and Bregman KL
    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(2).reciprocal())

    def _log_normalizer(self, x, y):
        return -0.25 * x.pow(2) / y + 0.5 * (-math.pi / y).log()
