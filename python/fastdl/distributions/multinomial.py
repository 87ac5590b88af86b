"""Multinomial(total_count, probs or logits): counts of total_count categorical draws over
the categories (event_shape ``(K,)``), as floats in the parameter's dtype."""
from __future__ import annotations

import math

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import lgamma
from fastdl.distributions.categorical import Categorical
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.poisson_binomial import Binomial
from fastdl.distributions.utils import broadcast_all

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """``total_count`` (one Python int for the whole batch) draws of Categorical(probs or
    logits), counted per category; log_prob accepts counts of any total.

    >>> d = Multinomial(4, probs=fastdl.tensor([0.5, 0.25, 0.25]))
    >>> d.mean.tolist(), round(d.log_prob(fastdl.tensor([2.0, 1.0, 1.0])).exp().item(), 6)
    ([2.0, 1.0, 1.0], 0.1875)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs,
                                 validate_args=False)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new.probs,
                                 validate_args=False)
        return self._finish_expand(new, batch_shape)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            draws = self._categorical.sample((self.total_count,) + tuple(sample_shape))
            counts = fastdl.one_hot(draws, self._event_shape[0]).sum(0)
            return counts.to(self.probs.dtype)

    def entropy(self):
        n = self.total_count
        # the marginal counts are Binomial(n, p_k): E[log x_k!] summed over the categories
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = lgamma(support + 1)
        expected_log_factorials = (binomial_probs * weights).sum((0, -1))
        return n * self._categorical.entropy() - math.lgamma(n + 1) + expected_log_factorials

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # zero counts of impossible categories contribute 0, not 0 * -inf
        logits = fastdl.where((value == 0) & (logits == float("-inf")), 0.0, logits)
        log_factorial_n = lgamma(value.sum(-1) + 1)
        log_factorial_xs = lgamma(value + 1).sum(-1)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)
