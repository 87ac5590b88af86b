"""Poisson(rate) and Binomial(total_count, probs or logits): counts, as floats (torch's
convention: samples have the parameters' dtype)."""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import lgamma
from fastdl.distributions.bernoulli import BinaryProbsOrLogits, probs_or_logits
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.exp_family import ExponentialFamily
from fastdl.distributions.utils import array_sampler, broadcast_all
from fastdl.tensor import _wrap

__all__ = ["Binomial", "Poisson"]


class Poisson(ExponentialFamily):
    """P(k) = rate^k exp(-rate) / k!."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        rate = self.rate.detach().expand(*self._extended_shape(sample_shape))
        return _wrap(array_sampler(rate).poisson(rate._data).astype(rate.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return fastdl.xlogy(value, rate) - rate - lgamma(value + 1)

    # the exponential-family form (natural parameters and log normalizer), as torch's, for
    # ExponentialFamily's generic entropy and Bregman KL
    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()


def _clamp_by_zero(x):
    # max(x, 0) with gradient 1/2 at x = 0, as torch's (keeps Binomial's gradient symmetric)
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(BinaryProbsOrLogits, Distribution):
    """Successes in total_count independent trials of success probability probs."""

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        name, param = probs_or_logits(probs, logits)
        self.total_count, param = broadcast_all(total_count, param)
        self.total_count = self.total_count.to(param.dtype)
        self.__dict__[name] = param
        super().__init__(param.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return fastdl.minimum(((self.total_count + 1) * self.probs).floor(), self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        counts = self.total_count.detach().expand(*shape)
        probs = self.probs.detach().expand(*shape)
        draws = array_sampler(probs).binomial(counts._data.astype(np.int64), probs._data)
        return _wrap(draws.astype(probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_binomial_coefficient = lgamma(n + 1) - lgamma(value + 1) - lgamma(n - value + 1)
        # n log(1 + exp(logits)), overflow-free
        normalizer = n * _clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p()
        return value * logits + log_binomial_coefficient - normalizer

    def entropy(self):
        values = self.enumerate_support(expand=False)
        log_prob = self.log_prob(values)
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total = int(self.total_count.max().item())
        if not self.total_count.min().item() == total:
            raise NotImplementedError("Inhomogeneous total count not supported by "
                                      "`enumerate_support`.")
        values = fastdl.arange(1 + total, dtype=self.total_count.dtype,
                               device=self.total_count.device)
        values = values.view(-1, *([1] * len(self._batch_shape)))
        return values.expand(1 + total, *self._batch_shape) if expand else values
