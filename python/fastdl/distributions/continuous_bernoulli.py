"""ContinuousBernoulli(probs or logits): the normalized density p^x (1 - p)^(1 - x) on [0, 1]
(Loaiza-Ganem & Cunningham, 2019), the proper likelihood of [0, 1]-valued pixels in a VAE."""
from __future__ import annotations

import math
import numbers

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions.bernoulli import GivenParameter, probs_or_logits
from fastdl.distributions.exp_family import ExponentialFamily
from fastdl.distributions.utils import (broadcast_all, clamp_probs, lazy_property,
                                        logits_to_probs, probs_to_logits, standard_uniform)
from fastdl.nn.functional import binary_cross_entropy_with_logits

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(GivenParameter, ExponentialFamily):
    """Density C(p) p^x (1 - p)^(1 - x) on [0, 1]; near p = 1/2 (inside ``lims``) the
    normalizer, mean and variance switch to Taylor expansions, where the closed forms lose
    precision. rsample is the inverse cdf of a uniform draw.

    >>> d = ContinuousBernoulli(probs=fastdl.tensor([0.2]))
    >>> round(d.mean.item(), 6), round(d.log_prob(fastdl.tensor([0.5])).item(), 6)
    (0.388014, -0.078831)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        name, param = probs_or_logits(probs, logits)
        is_scalar = isinstance(param, numbers.Number)
        (param,) = broadcast_all(param)
        if name == "probs":
            # torch checks here whenever validate_args is given, even as False
            if validate_args is not None and not bool(
                    self.arg_constraints["probs"].check(param).all()):
                raise ValueError("The parameter probs has invalid values")
            param = clamp_probs(param)
        self.__dict__[name] = param
        self._lims = lims
        super().__init__(() if is_scalar else param.shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        """probs with those near 1/2 replaced by lims[0], so the closed forms stay finite on
        the branch torch.where discards."""
        return fastdl.where(self._outside_unstable_region(), self.probs, self._lims[0])

    def _cont_bern_log_norm(self):
        """log C(p), the log normalizer in terms of probs."""
        cut = self._cut_probs()
        below_half = fastdl.where(cut <= 0.5, cut, 0.0)
        above_half = fastdl.where(cut >= 0.5, cut, 1.0)
        log_norm = ((-cut).log1p() - cut.log()).abs().log() - fastdl.where(
            cut <= 0.5, (-2.0 * below_half).log1p(), (2.0 * above_half - 1.0).log())
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return fastdl.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return fastdl.where(self._outside_unstable_region(), mus, taylor)

    @property
    def variance(self):
        cut = self._cut_probs()
        variances = (cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2)
                     + 1.0 / ((-cut).log1p() - cut.log()).pow(2))
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return fastdl.where(self._outside_unstable_region(), variances, taylor)

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        u = standard_uniform(self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return (-binary_cross_entropy_with_logits(logits, value, reduction="none")
                + self._cont_bern_log_norm())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut.pow(value) * (1.0 - cut).pow(1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = fastdl.where(self._outside_unstable_region(), cdfs, value)
        return fastdl.where(value <= 0.0, 0.0, fastdl.where(value >= 1.0, 1.0, unbounded))

    def icdf(self, value):
        cut = self._cut_probs()
        inverse = (((-cut + value * (2.0 * cut - 1.0)).log1p() - (-cut).log1p())
                   / (cut.log() - (-cut).log1p()))
        return fastdl.where(self._outside_unstable_region(), inverse, value)

    def entropy(self):
        log_probs0, log_probs1 = (-self.probs).log1p(), self.probs.log()
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log C as a function of the natural parameter (the logits)."""
        outside = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = fastdl.where(outside, x, self._lims[0] - 0.5)
        log_norm = cut.expm1().abs().log() - cut.abs().log()
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return fastdl.where(outside, log_norm, taylor)
