"""Gamma(concentration, rate) and Exponential(rate)."""
from __future__ import annotations

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import digamma, lgamma
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.utils import array_sampler, broadcast_all, standard_uniform, tiny
from fastdl.tensor import _wrap

__all__ = ["Exponential", "Gamma", "standard_gamma"]


def standard_gamma(concentration, shape):
    """Gamma(concentration, 1) draws of ``shape`` (concentration broadcast to it), kept above
    the dtype's tiny so that their logs stay finite; from fastdl's generator."""
    expanded = concentration.detach().expand(*shape)
    draws = array_sampler(expanded).standard_gamma(expanded._data.astype("float64"))
    return _wrap(draws.astype(expanded.dtype)).clamp(min=tiny(expanded.dtype))


class Gamma(Distribution):
    """Density rate^a x^(a-1) exp(-rate x) / Gamma(a), a = concentration. Draws come from
    numpy's gamma sampler, outside autograd: there is no rsample (torch has one)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            shape = self._extended_shape(sample_shape)
            draws = standard_gamma(self.concentration, shape) / self.rate.detach()
            return draws.clamp(min=tiny(self.rate.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, rate = self.concentration, self.rate
        return fastdl.xlogy(a, rate) + fastdl.xlogy(a - 1, value) - rate * value - lgamma(a)

    def entropy(self):
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1.0 - a) * digamma(a)


class Exponential(Distribution):
    """Density rate exp(-rate x) on x >= 0; rsample is -log(u) / rate."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return fastdl.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        u = standard_uniform(self._extended_shape(sample_shape), self.rate)
        return -(1 - u).log() / self.rate  # 1 - u in (0, 1]: a finite draw

    def _checked(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return value

    def log_prob(self, value):
        return self.rate.log() - self.rate * self._checked(value)

    def cdf(self, value):
        return 1 - (-self.rate * self._checked(value)).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()
