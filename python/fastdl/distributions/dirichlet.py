"""Dirichlet(concentration) over the probability simplex, and Beta(concentration1,
concentration0): its two-category case on [0, 1]."""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import digamma, lgamma
from fastdl.distributions.exp_family import ExponentialFamily
from fastdl.distributions.gamma import standard_gamma
from fastdl.distributions.utils import as_float_tensor, broadcast_all, tiny

__all__ = ["Beta", "Dirichlet"]


def _onto_simplex_interior(x):
    """Normalized draws kept inside (tiny, 1 - eps) so their logs stay finite (as torch)."""
    return x.clamp(min=tiny(x.dtype), max=1 - float(np.finfo(x.dtype).eps))


class Dirichlet(ExponentialFamily):
    """Density Gamma(a0) / prod Gamma(a_i) * prod x_i^(a_i - 1), a0 = sum a_i. Draws are
    normalized gamma draws, differentiable in the concentration through them."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:],
                         validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        excess = (self.concentration - 1).clamp(min=0.0)
        with np.errstate(invalid="ignore"):  # 0 / 0 where the corner below replaces it
            mode = excess / excess.sum(-1, keepdim=True)
        # every concentration below 1: the density peaks at the corner of the largest one
        corner = fastdl.one_hot(mode.argmax(-1), self._event_shape[0]).to(mode.dtype)
        all_below_one = (self.concentration < 1).all(-1, keepdim=True)
        return fastdl.where(all_below_one, corner, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        draws = standard_gamma(self.concentration, self._extended_shape(sample_shape))
        return _onto_simplex_interior(draws / draws.sum(-1, keepdim=True))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return (fastdl.xlogy(a - 1.0, value).sum(-1) + lgamma(a.sum(-1))
                - lgamma(a).sum(-1))

    def entropy(self):
        a = self.concentration
        k, total = a.shape[-1], a.sum(-1)
        return (lgamma(a).sum(-1) - lgamma(total) - (k - total) * digamma(total)
                - ((a - 1.0) * digamma(a)).sum(-1))

    # the exponential-family form (natural parameters and log normalizer), as torch's, for
    # ExponentialFamily's generic entropy and Bregman KL
    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return lgamma(x).sum(-1) - lgamma(x.sum(-1))


class Beta(ExponentialFamily):
    """Density x^(a-1) (1-x)^(b-1) / B(a, b) with a = concentration1, b = concentration0."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def _total(self):
        return self.concentration1 + self.concentration0

    @property
    def mean(self):
        return self.concentration1 / self._total

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        return Dirichlet(fastdl.stack([a, b], -1), validate_args=False).mode[..., 0]

    @property
    def variance(self):
        total = self._total
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(self.concentration1, shape)
        y = standard_gamma(self.concentration0, shape)
        return _onto_simplex_interior(x / (x + y))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        value = as_float_tensor(value)
        return (fastdl.xlogy(a - 1.0, value) + fastdl.xlogy(b - 1.0, 1.0 - value)
                - lgamma(a) - lgamma(b) + lgamma(a + b))

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (lgamma(a) + lgamma(b) - lgamma(total) - (a - 1) * digamma(a)
                - (b - 1) * digamma(b) + (total - 2) * digamma(total))

    # the exponential-family form (natural parameters and log normalizer), as torch's, for
    # ExponentialFamily's generic entropy and Bregman KL
    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return lgamma(x) + lgamma(y) - lgamma(x + y)
