"""Kumaraswamy, InverseGamma and LogisticNormal: laws torch builds as transformed uniform,
gamma and Gaussian variables, with closed-form moments and entropies."""
from __future__ import annotations

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import digamma, lgamma
from fastdl.distributions.dirichlet import Beta
from fastdl.distributions.gamma import Gamma
from fastdl.distributions.normal import Normal
from fastdl.distributions.transformed_distribution import TransformedDistribution
from fastdl.distributions.transforms import AffineTransform
from fastdl.distributions.transforms_more import PowerTransform
from fastdl.distributions.transforms_structured import StickBreakingTransform
from fastdl.distributions.uniform import Uniform
from fastdl.distributions.utils import broadcast_all

__all__ = ["InverseGamma", "Kumaraswamy", "LogisticNormal"]

_EULER_GAMMA = 0.57721566490153286061


def _kumaraswamy_moment(a, b, n):
    """E[x^n] = b B(1 + n / a, b)."""
    shifted = 1 + n / a
    return b * (lgamma(shifted) + lgamma(b) - lgamma(shifted + b)).exp()


class Kumaraswamy(TransformedDistribution):
    """Density a b x^(a-1) (1 - x^a)^(b-1) on [0, 1] (a = concentration1, b =
    concentration0): (1 - u^(1/b))^(1/a) for u ~ U(0, 1), so rsample is differentiable.

    >>> d = Kumaraswamy(fastdl.tensor([1.0]), fastdl.tensor([1.0]))  # U(0, 1)
    >>> d.mean.tolist(), round(d.variance.item(), 6), d.log_prob(fastdl.tensor([0.3])).tolist()
    ([0.5], 0.083333, [0.0])
    """

    arg_constraints = Beta.arg_constraints  # the same two shape parameters on [0, 1]
    support = Beta.support
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base = Uniform(fastdl.zeros_like(self.concentration0),
                       fastdl.ones_like(self.concentration0), validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()),
                      AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        new.concentration1 = self.concentration1.expand(*batch_shape)
        new.concentration0 = self.concentration0.expand(*batch_shape)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        log_mode = b.reciprocal() * (-b).log1p() - (-b * a).log1p()
        return fastdl.where((b < 1) | (a < 1), float("nan"), log_mode).exp()

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        return _kumaraswamy_moment(a, b, 2) - self.mean.pow(2)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic = digamma(b + 1) + _EULER_GAMMA
        return (1 - b.reciprocal()) + (1 - a.reciprocal()) * harmonic - a.log() - b.log()

    def __repr__(self):
        return (f"Kumaraswamy(concentration1: {tuple(self.concentration1.shape)}, "
                f"concentration0: {tuple(self.concentration0.shape)})")


class InverseGamma(TransformedDistribution):
    """1 / X for X ~ Gamma(concentration, rate): density rate^a x^(-a-1) exp(-rate / x) /
    Gamma(a); infinite mean for a <= 1 and variance for a <= 2.

    >>> d = InverseGamma(fastdl.tensor([3.0]), fastdl.tensor([4.0]))
    >>> d.mean.tolist(), d.mode.tolist(), d.variance.tolist()
    ([2.0], [1.0], [4.0])
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base = Gamma(concentration, rate, validate_args=validate_args)
        minus_one = -fastdl.ones((), dtype=base.rate.dtype, device=base.rate.device)
        super().__init__(base, PowerTransform(minus_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, object.__new__(type(self)))

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        a = self.concentration
        return fastdl.where(a > 1, self.rate / (a - 1), float("inf"))

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        a = self.concentration
        finite = self.rate.square() / ((a - 1).square() * (a - 2))
        return fastdl.where(a > 2, finite, float("inf"))

    def entropy(self):
        a = self.concentration
        return a + self.rate.log() + lgamma(a) - (1 + a) * digamma(a)

    def __repr__(self):
        return (f"InverseGamma(concentration: {tuple(self.concentration.shape)}, "
                f"rate: {tuple(self.rate.shape)})")


class LogisticNormal(TransformedDistribution):
    """A Gaussian on R^K pushed onto the (K+1)-simplex by StickBreakingTransform: a
    reparametrizable alternative to the Dirichlet.

    >>> d = LogisticNormal(fastdl.zeros(3), fastdl.ones(3))
    >>> d.event_shape, d.rsample((5,)).shape
    ((4,), (5, 4))
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand([1])
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, object.__new__(type(self)))

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale

    def __repr__(self):
        return f"LogisticNormal(loc: {tuple(self.loc.shape)}, scale: {tuple(self.scale.shape)})"
