"""Bernoulli(probs or logits): one coin flip per batch element."""
from __future__ import annotations

import numbers

import numpy as np

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions.exp_family import ExponentialFamily
from fastdl.distributions.utils import (broadcast_all, lazy_property, logits_to_probs,
                                        probs_to_logits, standard_uniform)
from fastdl.nn.functional import binary_cross_entropy_with_logits

__all__ = ["Bernoulli"]


def probs_or_logits(probs, logits):
    """The one parameter given; torch's ValueError when both or neither are."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


class GivenParameter:
    """``_param``: whichever of probs and logits the distribution was built from (the other
    is derived lazily), and its shape."""

    @property
    def _param(self):
        return self.__dict__["probs"] if "probs" in self.__dict__ else self.__dict__["logits"]

    @property
    def param_shape(self):
        return tuple(self._param.shape)


class BinaryProbsOrLogits(GivenParameter):
    """probs and logits = log(probs / (1 - probs)) of a yes/no outcome, the one not given
    computed (and cached) from the other on first use."""

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)


class Bernoulli(BinaryProbsOrLogits, ExponentialFamily):
    """1 with probability ``probs`` (= sigmoid(``logits``)), else 0; values in probs' dtype.

    >>> Bernoulli(probs=fastdl.tensor([0.25])).log_prob(fastdl.tensor([1.0])).tolist()
    [-1.3862943649291992]
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, param = probs_or_logits(probs, logits)
        is_scalar = isinstance(param, numbers.Number)
        (param,) = broadcast_all(param)
        self.__dict__[name] = param
        super().__init__(() if is_scalar else param.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        probs = self.probs
        mode = (probs >= 0.5).to(probs.dtype)
        return fastdl.where(probs == 0.5, float("nan"), mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            probs = self.probs.detach()
            u = standard_uniform(self._extended_shape(sample_shape), probs)
            return (u < probs).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value.to(logits.dtype), reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = fastdl.tensor(np.arange(2), dtype=self._param.dtype, device=self._param.device)
        values = values.view(-1, *([1] * len(self._batch_shape)))
        return values.expand(2, *self._batch_shape) if expand else values

    # the exponential-family form (natural parameters and log normalizer), as torch's, for
    # ExponentialFamily's generic entropy and Bregman KL
    @property
    def _natural_params(self):
        return (self.probs.logit(),)

    def _log_normalizer(self, x):
        return x.exp().log1p()
