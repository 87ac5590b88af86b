"""Laplace(loc, scale): the double exponential."""
from __future__ import annotations

import math

import numpy as np

from fastdl.distributions.location_scale import LocationScaleDistribution
from fastdl.distributions.utils import standard_uniform

__all__ = ["Laplace"]


class Laplace(LocationScaleDistribution):
    """Density exp(-|x - loc| / scale) / (2 scale)."""

    def _standard_draws(self, shape):
        # u in (-1, 1) (eps - 1 keeps log1p(-|u|) finite), then inverse-cdf of the standard one
        eps = float(np.finfo(self.loc.dtype).eps)
        u = standard_uniform(shape, self.loc) * (2 - eps) + (eps - 1)
        return -u.sign() * (-u.abs()).log1p()

    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    @property
    def variance(self):
        return 2 * self.scale * self.scale

    def log_prob(self, value):
        return -self._standardize(value).abs() - (2 * self.scale).log()

    def cdf(self, value):
        z = self._standardize(value)
        return 0.5 - 0.5 * z.sign() * (-z.abs()).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()
