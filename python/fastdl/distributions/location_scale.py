"""The shared shape of Normal, Laplace and Gumbel: a real ``loc`` and a positive ``scale``."""
from __future__ import annotations

from fastdl.distributions import constraints
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.utils import broadcast_all


class LocationScaleDistribution(Distribution):
    """``loc + scale * X`` for a fixed standard X: rsample draws X and shifts/scales it, so the
    draw is differentiable in loc (slope 1) and scale (slope X)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def _standard_draws(self, shape):
        raise NotImplementedError(f"{type(self).__name__} must implement _standard_draws")

    def rsample(self, sample_shape=()):
        standard = self._standard_draws(self._extended_shape(sample_shape))
        return self.loc + standard * self.scale

    def _standardize(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (value - self.loc) / self.scale

    @property
    def mode(self):
        return self.loc
