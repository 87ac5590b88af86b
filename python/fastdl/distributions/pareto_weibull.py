"""Pareto(scale, alpha) and Weibull(scale, concentration): transformed exponential laws, as
torch builds them (scale * exp(E) and scale * E^(1 / concentration)), with closed-form
moments and entropies."""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import lgamma
from fastdl.distributions.gamma import Exponential
from fastdl.distributions.transformed_distribution import TransformedDistribution
from fastdl.distributions.transforms import AffineTransform, ExpTransform
from fastdl.distributions.transforms_more import PowerTransform
from fastdl.distributions.utils import broadcast_all

__all__ = ["Pareto", "Weibull"]

_EULER_GAMMA = 0.57721566490153286061


class Pareto(TransformedDistribution):
    """Density alpha scale^alpha / x^(alpha + 1) on x >= scale: scale * exp(E), E ~
    Exponential(alpha). Infinite mean for alpha <= 1, infinite variance for alpha <= 2.

    >>> d = Pareto(fastdl.tensor([1.0]), fastdl.tensor([3.0]))
    >>> d.mean.tolist(), d.variance.tolist(), d.cdf(fastdl.tensor([2.0])).tolist()
    ([1.5], [0.75], [0.875])
    """

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base, [ExpTransform(), AffineTransform(loc=0, scale=self.scale)],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        new.scale = self.scale.expand(*batch_shape)
        new.alpha = self.alpha.expand(*batch_shape)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)
        return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())

    def __repr__(self):
        return f"Pareto(scale: {tuple(self.scale.shape)}, alpha: {tuple(self.alpha.shape)})"


class Weibull(TransformedDistribution):
    """Density (k / scale) (x / scale)^(k-1) exp(-(x / scale)^k), k = concentration:
    scale * E^(1 / k) for E ~ Exponential(1).

    >>> d = Weibull(fastdl.tensor([2.0]), fastdl.tensor([1.0]))  # k = 1: Exponential(1 / 2)
    >>> d.mean.tolist(), d.variance.tolist()
    ([2.0], [4.0])
    """

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base = Exponential(fastdl.ones_like(self.scale), validate_args=validate_args)
        super().__init__(base, self._transforms(), validate_args=validate_args)

    def _transforms(self):
        return [PowerTransform(exponent=self.concentration_reciprocal),
                AffineTransform(loc=0, scale=self.scale)]

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        new.scale = self.scale.expand(*batch_shape)
        new.concentration = self.concentration.expand(*batch_shape)
        new.concentration_reciprocal = new.concentration.reciprocal()
        TransformedDistribution.__init__(new, self.base_dist.expand(batch_shape),
                                         new._transforms(), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.scale * lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self):
        k = self.concentration
        with np.errstate(invalid="ignore"):  # k < 1: a negative base, NaN as in torch
            return self.scale * ((k - 1) / k).pow(k.reciprocal())

    @property
    def variance(self):
        k_inv = self.concentration_reciprocal
        return self.scale.pow(2) * (lgamma(1 + 2 * k_inv).exp()
                                    - (2 * lgamma(1 + k_inv)).exp())

    def entropy(self):
        k_inv = self.concentration_reciprocal
        return _EULER_GAMMA * (1 - k_inv) + (self.scale * k_inv).log() + 1

    def __repr__(self):
        return (f"Weibull(scale: {tuple(self.scale.shape)}, "
                f"concentration: {tuple(self.concentration.shape)})")
