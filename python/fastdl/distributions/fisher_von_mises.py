"""FisherSnedecor(df1, df2): the ratio of two scaled chi-squares, and VonMises(loc,
concentration): the circular Gaussian on angles."""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl import backend, special
from fastdl.distributions import constraints
from fastdl.distributions._special import lgamma
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.gamma import Gamma
from fastdl.distributions.utils import array_sampler, broadcast_all, lazy_property, tiny
from fastdl.tensor import _wrap

__all__ = ["FisherSnedecor", "VonMises"]


class FisherSnedecor(Distribution):
    """F(df1, df2) = (X1 / df1) / (X2 / df2) for independent chi-squares; rsample is
    differentiable in both through the gamma draws. Mean NaN for df2 <= 2, variance NaN for
    df2 <= 4, mode NaN for df1 <= 2.

    >>> d = FisherSnedecor(fastdl.tensor([4.0]), fastdl.tensor([6.0]))
    >>> d.mean.tolist(), d.mode.tolist(), d.variance.tolist()
    ([1.5], [0.375], [4.5])
    """

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False)
        super().__init__(self.df1.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        new.df1, new.df2 = self.df1.expand(*batch_shape), self.df2.expand(*batch_shape)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def mean(self):
        df2 = fastdl.where(self.df2 <= 2, float("nan"), self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return fastdl.where(self.df1 <= 2, float("nan"), mode)

    @property
    def variance(self):
        df1, df2 = self.df1, fastdl.where(self.df2 <= 4, float("nan"), self.df2)
        return 2 * df2.pow(2) * (df1 + df2 - 2) / (df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=()):
        x1 = self._gamma1.rsample(sample_shape)
        x2 = self._gamma2.rsample(sample_shape).clamp(min=tiny(self.df1.dtype))
        return (x1 / x2).clamp(min=tiny(self.df1.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        half1, half2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        log_beta = lgamma(half1 + half2) - lgamma(half1) - lgamma(half2)
        return (log_beta + half1 * ratio.log() + (half1 - 1) * value.log()
                - (half1 + half2) * (ratio * value).log1p())


def _log_bessel_i0(x):
    return special.i0e(x).log() + x


def _best_fisher_draws(kappa, shape, rng, xp):
    """Angles around 0 drawn by Best and Fisher's (1979) wrapped-Cauchy rejection sampler,
    in float64 (float32 proposals hang for tiny concentrations, as torch notes)."""
    tau = 1 + xp.sqrt(1 + 4 * kappa ** 2)
    rho = (tau - xp.sqrt(2 * tau)) / (2 * kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        proposal_r = xp.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
    kappa, proposal_r = xp.broadcast_to(kappa, shape), xp.broadcast_to(proposal_r, shape)
    x, done = xp.zeros(shape), xp.zeros(shape, dtype=bool)
    while not bool(done.all()):
        u1, u2, u3 = (rng.random(shape) for _ in range(3))
        z = xp.cos(math.pi * u1)
        f = (1 + proposal_r * z) / (proposal_r + z)
        c = kappa * (proposal_r - f)
        with np.errstate(divide="ignore", invalid="ignore"):
            accept = ((c * (2 - c) - u2) > 0) | (xp.log(c / u2) + 1 - c >= 0)
        accept &= ~done
        x = xp.where(accept, xp.sign(u3 - 0.5) * xp.arccos(xp.clip(f, -1, 1)), x)
        done |= accept
    return x


class VonMises(Distribution):
    """Density exp(concentration cos(x - loc)) / (2 pi I0(concentration)) on angles (loc and
    values are any reals, read modulo 2 pi; draws lie in [-pi, pi)). mean and variance are the
    circular ones; log I0 comes from fastdl.special.i0e (torch uses a polynomial fit, ~1e-7
    relative off).

    >>> d = VonMises(fastdl.tensor([0.5]), fastdl.tensor([2.0]))
    >>> d.mean.tolist(), round(d.log_prob(fastdl.tensor([0.5])).item(), 6)
    ([0.5], -0.661871)
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        """The circular mean (and the mode): loc."""
        return self.loc

    mode = mean

    @lazy_property
    def variance(self):
        kappa = self.concentration
        return 1 - special.i1e(kappa) / special.i0e(kappa)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * (value - self.loc).cos() - math.log(2 * math.pi)
                - _log_bessel_i0(self.concentration))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        loc = self.loc.detach()._data.astype(np.float64)
        kappa = self.concentration.detach()._data.astype(np.float64)
        xp = backend.array_module(loc)
        x = _best_fisher_draws(kappa, shape, array_sampler(self.loc), xp)
        angles = (x + math.pi + loc) % (2 * math.pi) - math.pi
        return _wrap(angles.astype(self.loc.dtype))
