"""Geometric(probs or logits) and NegativeBinomial(total_count, probs or logits): counts of
successes before the first (the total_count-th) failure-or-success, as floats in the
parameter's dtype (torch's convention)."""
from __future__ import annotations

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import lgamma
from fastdl.distributions.bernoulli import BinaryProbsOrLogits, probs_or_logits
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.gamma import Gamma
from fastdl.distributions.poisson_binomial import Poisson
from fastdl.distributions.utils import broadcast_all, standard_uniform, tiny
from fastdl.nn.functional import binary_cross_entropy_with_logits, logsigmoid

__all__ = ["Geometric", "NegativeBinomial"]


class Geometric(BinaryProbsOrLogits, Distribution):
    """P(k) = (1 - p)^k p for k = 0, 1, ...: the failures before the first success of
    probability p = ``probs`` (= sigmoid(``logits``)).

    >>> d = Geometric(probs=fastdl.tensor([0.25]))
    >>> d.mean.tolist(), d.variance.tolist(), d.log_prob(fastdl.tensor([0.0])).exp().tolist()
    ([3.0], [12.0], [0.25])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, param = probs_or_logits(probs, logits)
        (param,) = broadcast_all(param)
        self.__dict__[name] = param
        super().__init__(param.shape, validate_args=validate_args)
        if self._validate_args and name == "probs" and not bool((param > 0).all()):
            raise ValueError(
                f"Expected parameter probs ({type(param).__name__} of shape "
                f"{tuple(param.shape)}) of distribution {self!r} to be positive but found "
                f"invalid values:\n{param}")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return fastdl.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            probs = self.probs.detach()
            u = standard_uniform(self._extended_shape(sample_shape), probs)
            u = u.clamp(min=tiny(probs.dtype))  # log(0) would give an infinite count
            return (u.log() / (-probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p = 1 puts all mass on 0: 0 * log(0) is 0 there, not NaN
        probs = fastdl.where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs,
                                                reduction="none") / self.probs


class NegativeBinomial(BinaryProbsOrLogits, Distribution):
    """Successes (each of probability ``probs``) before ``total_count`` failures; a real
    total_count is allowed. Draws are Poisson counts of a Gamma rate.

    >>> d = NegativeBinomial(3.0, probs=fastdl.tensor([0.5]))
    >>> d.mean.tolist(), d.variance.tolist(), d.log_prob(fastdl.tensor([0.0])).exp().tolist()
    ([3.0], [6.0], [0.125])
    """

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        name, param = probs_or_logits(probs, logits)
        self.total_count, param = broadcast_all(total_count, param)
        self.total_count = self.total_count.to(param.dtype)
        self.__dict__[name] = param
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            gamma = Gamma(self.total_count.detach(), (-self.logits.detach()).exp(),
                          validate_args=False)
            rate = gamma.sample(sample_shape)
            return Poisson(rate, validate_args=False).sample()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_unnormalized = n * logsigmoid(-logits) + value * logsigmoid(logits)
        log_normalization = -lgamma(n + value) + lgamma(1.0 + value) + lgamma(n)
        # total_count = value = 0: the point mass at 0 (lgamma(0) is infinite)
        log_normalization = log_normalization.masked_fill(n + value == 0.0, 0.0)
        return log_unnormalized - log_normalization
