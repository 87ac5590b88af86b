"""Chi2(df) = Gamma(df / 2, 1 / 2) and StudentT(df, loc, scale): a Gaussian divided by the
root of an independent Chi2 / df, so rsample is differentiable in df through the gamma draw."""
from __future__ import annotations

import math

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import digamma, lgamma
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.gamma import Gamma
from fastdl.distributions.utils import broadcast_all, standard_normal

__all__ = ["Chi2", "StudentT"]

_HALF_LOG_PI = 0.5 * math.log(math.pi)


class Chi2(Gamma):
    """The sum of ``df`` squared standard Gaussians: Gamma(df / 2, rate 1 / 2).

    >>> d = Chi2(fastdl.tensor([4.0]))
    >>> d.mean.tolist(), d.variance.tolist(), d.df.tolist()
    ([4.0], [8.0], [4.0])
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        # df is derived from the concentration: expand the stored Gamma parameters
        new.concentration = self.concentration.expand(*batch_shape)
        new.rate = self.rate.expand(*batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def df(self):
        return self.concentration * 2


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, shifted by ``loc`` and scaled by ``scale``;
    the mean is NaN for df <= 1, the variance infinite for 1 < df <= 2 and NaN for df <= 1.

    >>> d = StudentT(fastdl.tensor([3.0]), 1.0, 2.0)
    >>> d.mean.tolist(), d.variance.tolist()
    ([1.0], [12.0])
    >>> round(d.log_prob(fastdl.tensor([1.0])).item(), 6)
    -1.694036
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        shape = tuple(batch_shape)
        new.df, new.loc, new.scale = (p.expand(*shape) for p in (self.df, self.loc, self.scale))
        new._chi2 = self._chi2.expand(shape)
        return self._finish_expand(new, shape)

    @property
    def mean(self):
        return fastdl.where(self.df <= 1, float("nan"), self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        above_two = df > 2
        # a denominator of 1 off the df > 2 branch keeps its gradient finite at df == 2
        finite = self.scale.pow(2) * df / fastdl.where(above_two, df - 2, 1.0)
        heavy = fastdl.where(df <= 1, float("nan"), float("inf")).to(df.dtype)
        return fastdl.where(above_two, finite, heavy)

    def rsample(self, sample_shape=()):
        x = standard_normal(self._extended_shape(sample_shape), self.df)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * x * (z / self.df).rsqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        df = self.df
        normalizer = (self.scale.log() + 0.5 * df.log() + _HALF_LOG_PI + lgamma(0.5 * df)
                      - lgamma(0.5 * (df + 1.0)))
        return -0.5 * (df + 1.0) * (y * y / df).log1p() - normalizer

    def entropy(self):
        df = self.df
        log_beta = lgamma(0.5 * df) + math.lgamma(0.5) - lgamma(0.5 * (df + 1))
        return (self.scale.log() + 0.5 * (df + 1) * (digamma(0.5 * (df + 1)) - digamma(0.5 * df))
                + 0.5 * df.log() + log_beta)
