"""Cauchy(loc, scale), and the folded laws HalfCauchy(scale) and HalfNormal(scale): |X| of a
centred Cauchy or Gaussian, as torch builds them (an AbsTransform of the symmetric law)."""
from __future__ import annotations

import math

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions.location_scale import LocationScaleDistribution
from fastdl.distributions.normal import Normal
from fastdl.distributions.transformed_distribution import TransformedDistribution
from fastdl.distributions.transforms_more import AbsTransform
from fastdl.distributions.utils import standard_uniform

__all__ = ["Cauchy", "HalfCauchy", "HalfNormal"]

_LOG_TWO = math.log(2)


class Cauchy(LocationScaleDistribution):
    """Density 1 / (pi scale (1 + z^2)), z = (x - loc) / scale: no mean (NaN), infinite
    variance; rsample is loc + scale tan(pi (u - 1/2)).

    >>> d = Cauchy(fastdl.tensor([0.0]), fastdl.tensor([1.0]))
    >>> d.cdf(fastdl.tensor([1.0])).tolist(), round(d.log_prob(fastdl.tensor([0.0])).item(), 6)
    ([0.75], -1.14473)
    """

    def _standard_draws(self, shape):
        return (math.pi * (standard_uniform(shape, self.loc) - 0.5)).tan()

    def _full(self, value):
        return fastdl.full(self._extended_shape(), value, dtype=self.loc.dtype,
                           device=self.loc.device)

    @property
    def mean(self):
        return self._full(float("nan"))

    @property
    def variance(self):
        return self._full(float("inf"))

    def log_prob(self, value):
        z = self._standardize(value)
        return -math.log(math.pi) - self.scale.log() - (z * z).log1p()

    def cdf(self, value):
        return self._standardize(value).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class _Folded(TransformedDistribution):
    """|X| for X symmetric about 0: twice the base density on x >= 0."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, base_dist, validate_args=None):
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, object.__new__(type(self)))

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return fastdl.zeros_like(self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + _LOG_TWO
        return fastdl.where(value >= 0, log_prob, float("-inf"))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - _LOG_TWO

    def __repr__(self):
        return f"{type(self).__name__}(scale: {tuple(self.scale.shape)})"


class HalfNormal(_Folded):
    """|X| for X ~ N(0, scale^2): mean scale sqrt(2 / pi).

    >>> d = HalfNormal(fastdl.tensor([1.0]))
    >>> round(d.log_prob(fastdl.tensor([0.0])).item(), 6), round(d.mean.item(), 6)
    (-0.225791, 0.797885)
    """

    def __init__(self, scale, validate_args=None):
        super().__init__(Normal(0, scale, validate_args=False), validate_args=validate_args)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_Folded):
    """|X| for X ~ Cauchy(0, scale): infinite mean and variance.

    >>> d = HalfCauchy(fastdl.tensor([1.0]))
    >>> d.cdf(fastdl.tensor([1.0])).tolist(), d.mean.tolist()
    ([0.5], [inf])
    """

    def __init__(self, scale, validate_args=None):
        super().__init__(Cauchy(0, scale, validate_args=False), validate_args=validate_args)

    @property
    def mean(self):
        return fastdl.full(self._extended_shape(), float("inf"), dtype=self.scale.dtype,
                           device=self.scale.device)

    @property
    def variance(self):
        return self.base_dist.variance
