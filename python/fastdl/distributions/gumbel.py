"""Gumbel(loc, scale): the distribution of maxima (Gumbel-max sampling of categories)."""
from __future__ import annotations

import math

import numpy as np

from fastdl.distributions.location_scale import LocationScaleDistribution
from fastdl.distributions.utils import standard_uniform, tiny

__all__ = ["Gumbel"]

_EULER_GAMMA = 0.57721566490153286061


class Gumbel(LocationScaleDistribution):
    """Density exp(-(z + exp(-z))) / scale with z = (x - loc) / scale."""

    def _standard_draws(self, shape):
        # u inside (0, 1) so that -log(-log(u)) stays finite
        eps = float(np.finfo(self.loc.dtype).eps)
        u = standard_uniform(shape, self.loc).clamp(min=tiny(self.loc.dtype), max=1 - eps)
        return -(-u.log()).log()

    @property
    def mean(self):
        return self.loc + self.scale * _EULER_GAMMA

    @property
    def stddev(self):
        return self.scale * (math.pi / math.sqrt(6))

    @property
    def variance(self):
        return self.stddev.pow(2)

    def log_prob(self, value):
        z = self._standardize(value)
        return -(self.scale.log() + z + (-z).exp())

    def cdf(self, value):
        return (-(-self._standardize(value)).exp()).exp()

    def icdf(self, value):
        return self.loc - self.scale * (-value.log()).log()

    def entropy(self):
        return self.scale.log() + (1 + _EULER_GAMMA)
