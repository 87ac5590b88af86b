"""Categorical(probs or logits) over {0, ..., K-1}, and OneHotCategorical: the same draws as
one-hot vectors."""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl import backend
from fastdl.distributions import constraints
from fastdl.distributions.bernoulli import GivenParameter, probs_or_logits
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.utils import (lazy_property, logits_to_probs, probs_to_logits,
                                        standard_uniform)
from fastdl.tensor import _wrap

__all__ = ["Categorical", "OneHotCategorical", "OneHotCategoricalStraightThrough"]


class Categorical(GivenParameter, Distribution):
    """Index k with probability probs[..., k]; probs are normalized along the last dim, logits
    are log-normalized (so ``d.logits`` is log(probs)).

    >>> d = Categorical(probs=fastdl.tensor([1.0, 3.0]))
    >>> d.probs.tolist(), d.log_prob(fastdl.tensor(1)).exp().item()
    ([0.25, 0.75], 0.75)
    """

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, param = probs_or_logits(probs, logits)
        if param.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if name == "probs":
            self.probs = param / param.sum(-1, keepdim=True)
        else:
            self.logits = param - param.logsumexp(-1, keepdim=True)
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @property
    def mean(self):
        return fastdl.full(self._extended_shape(), float("nan"), dtype=self._param.dtype,
                           device=self._param.device)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.mean

    def sample(self, sample_shape=()):
        """Inverse-cdf draws: the first index whose cumulative probability exceeds u."""
        probs = self.probs.detach()._data
        xp = backend.array_module(probs)
        cumulative = xp.cumsum(probs, axis=-1)
        u = standard_uniform(tuple(sample_shape) + self._batch_shape + (1,), self.probs)._data
        index = (cumulative < u * cumulative[..., -1:]).sum(axis=-1)
        return _wrap(xp.minimum(index, self._num_events - 1).astype(np.int64))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = tuple(np.broadcast_shapes(value.shape, self.logits.shape))
        index = value.expand(*shape[:-1], 1)
        return self.logits.expand(*shape).gather(-1, index).squeeze(-1)

    def entropy(self):
        # logits of zero probs are -inf; clamping keeps 0 * log 0 at 0 instead of NaN
        logits = self.logits.clamp(min=float(np.finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = fastdl.arange(self._num_events, dtype=fastdl.int64, device=self._param.device)
        values = values.view(-1, *([1] * len(self._batch_shape)))
        return values.expand(self._num_events, *self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """Categorical with one-hot vector values (event_shape ``(K,)``)."""

    arg_constraints = Categorical.arg_constraints
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self))
        new._categorical = self._categorical.expand(batch_shape)
        return self._finish_expand(new, tuple(batch_shape))

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return fastdl.one_hot(self.probs.argmax(-1), self._event_shape[0]).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        indices = self._categorical.sample(sample_shape)
        return fastdl.one_hot(indices, self._event_shape[0]).to(self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self._event_shape[0]
        values = fastdl.eye(n, dtype=self.probs.dtype, device=self.probs.device)
        values = values.view(n, *([1] * len(self._batch_shape)), n)
        return values.expand(n, *self._batch_shape, n) if expand else values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical with a straight-through rsample (Bengio et al., 2013): the one-hot
    draw forward, the gradient of probs backward.

    >>> p = fastdl.tensor([0.2, 0.8], requires_grad=True)
    >>> x = OneHotCategoricalStraightThrough(probs=p).rsample()
    >>> grad = fastdl.autograd.grad((x * fastdl.tensor([1.0, 2.0])).sum(), [p])[0]
    >>> [round(g, 6) for g in grad.tolist()]  # through probs = p / p.sum()
    [-0.8, 0.2]
    """

    has_rsample = True

    def rsample(self, sample_shape=()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())
