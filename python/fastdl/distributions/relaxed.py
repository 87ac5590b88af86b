"""Continuous relaxations of Bernoulli and one-hot Categorical draws (Concrete / Gumbel-softmax,
Maddison et al. 2017): reparametrized samples whose sharpness is set by ``temperature``."""
from __future__ import annotations

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions._special import lgamma
from fastdl.distributions.bernoulli import BinaryProbsOrLogits, probs_or_logits
from fastdl.distributions.categorical import Categorical
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.transformed_distribution import TransformedDistribution
from fastdl.distributions.transforms import ExpTransform, SigmoidTransform
from fastdl.distributions.utils import (as_float_tensor, broadcast_all, clamp_probs,
                                        standard_uniform)

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"]


class LogitRelaxedBernoulli(BinaryProbsOrLogits, Distribution):
    """(logit(u) + logits) / temperature for u ~ U(0, 1): the logit of a RelaxedBernoulli."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        name, param = probs_or_logits(probs, logits)
        (param,) = broadcast_all(param)
        self.temperature = as_float_tensor(temperature)
        self.__dict__[name] = param
        super().__init__(param.shape, validate_args=validate_args)

    def rsample(self, sample_shape=()):
        u = clamp_probs(standard_uniform(self._extended_shape(sample_shape), self.logits))
        return (u.log() - (-u).log1p() + self.logits) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return self.temperature.log() + diff - 2 * diff.exp().log1p()


class RelaxedBernoulli(TransformedDistribution):
    """sigmoid of a LogitRelaxedBernoulli: values in (0, 1), 1 with probability probs as the
    temperature goes to 0 (P(x > 1/2) = probs at every temperature).

    >>> d = RelaxedBernoulli(fastdl.tensor(0.5), probs=fastdl.tensor([0.3, 0.9]))
    >>> d.rsample((4,)).shape
    (4, 2)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    temperature = property(lambda self: self.base_dist.temperature)
    probs = property(lambda self: self.base_dist.probs)
    logits = property(lambda self: self.base_dist.logits)


class ExpRelaxedCategorical(Distribution):
    """log of a RelaxedOneHotCategorical draw: log_softmax((logits + Gumbel noise) / T)."""

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        self.temperature = as_float_tensor(temperature)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self))
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)

    def rsample(self, sample_shape=()):
        u = clamp_probs(standard_uniform(self._extended_shape(sample_shape), self.logits))
        gumbels = -(-u.log()).log()
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        log_scale = lgamma(fastdl.full_like(self.temperature, float(k))) \
            + (k - 1) * self.temperature.log()
        score = self.logits - value * self.temperature
        return (score - score.logsumexp(-1, keepdim=True)).sum(-1) + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """exp of an ExpRelaxedCategorical: points of the simplex that approach one-hot draws of
    Categorical(probs) as the temperature goes to 0 (the Gumbel-softmax trick)."""

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    temperature = property(lambda self: self.base_dist.temperature)
    probs = property(lambda self: self.base_dist.probs)
    logits = property(lambda self: self.base_dist.logits)
