"""MixtureSameFamily(mixture, components): a Categorical choice among the components that
the rightmost batch dim of one distribution indexes (a Gaussian mixture)."""
from __future__ import annotations

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions.categorical import Categorical
from fastdl.distributions.distribution import Distribution

__all__ = ["MixtureSameFamily"]


class _MixtureSupport(constraints.Constraint):
    """A value is in the mixture's support when every component's support holds it."""

    def __init__(self, base_constraint):
        self.base_constraint = base_constraint
        self.is_discrete = base_constraint.is_discrete
        self.event_dim = base_constraint.event_dim

    def _check_array(self, x, xp):
        padded = xp.expand_dims(x, -1 - self.event_dim)
        ok = self.base_constraint._check_array(padded, xp)
        return ok.reshape(ok.shape[:x.ndim - self.event_dim] + (-1,)).all(axis=-1)

    def __repr__(self):
        return f"MixtureSameFamilyConstraint({self.base_constraint!r})"


class MixtureSameFamily(Distribution):
    """log p(x) = logsumexp_k(log w_k + log p_k(x)); the mixture's batch shape is the
    components' without its last dim. Samples are not reparametrized (no rsample).

    >>> mix = Categorical(probs=fastdl.tensor([0.5, 0.5]))
    >>> comp = Normal(fastdl.tensor([-1.0, 1.0]), fastdl.tensor([1.0, 1.0]))
    >>> d = MixtureSameFamily(mix, comp)
    >>> d.mean.item(), d.variance.item(), d.sample((4,)).shape
    (0.0, 2.0, (4,))
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of "
                             "torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution needs to be an instance of "
                             "torch.distributions.Distribution")
        mixture_batch = mixture_distribution.batch_shape
        component_batch = component_distribution.batch_shape[:-1]
        for size1, size2 in zip(reversed(mixture_batch), reversed(component_batch)):
            if size1 != 1 and size2 != 1 and size1 != size2:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mixture_batch}) is "
                                 f"not compatible with `component_distribution."
                                 f"batch_shape`({component_batch})")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1]
        if km != kc:
            raise ValueError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(component_batch, component_distribution.event_shape,
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = tuple(batch_shape)
        new = object.__new__(type(self)) if _instance is None else _instance
        new._component_distribution = self._component_distribution.expand(
            batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        return self._finish_expand(new, batch_shape)

    @constraints.dependent_property
    def support(self):
        return _MixtureSupport(self._component_distribution.support)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def _pad_mixture_dimensions(self, x):
        """Mixture weights of shape batch + (k,) shaped to line up with the components'
        batch + (k,) + event."""
        dist_batch_ndims = len(self._batch_shape)
        cat_batch_ndims = len(self._mixture_distribution.batch_shape)
        pad_ndims = 0 if cat_batch_ndims == 1 else dist_batch_ndims - cat_batch_ndims
        shape = tuple(x.shape)
        return x.reshape(shape[:-1] + (1,) * pad_ndims + shape[-1:] + (1,) * self._event_ndims)

    @property
    def mean(self):
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        components = self._component_distribution
        mean_of_variances = (probs * components.variance).sum(-1 - self._event_ndims)
        spread = (components.mean - self._pad(self.mean)).pow(2)
        return mean_of_variances + (probs * spread).sum(-1 - self._event_ndims)

    def cdf(self, x):
        cdf_x = self._component_distribution.cdf(self._pad(x))
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        log_prob_x = self._component_distribution.log_prob(self._pad(x))
        log_weights = fastdl.log_softmax(self._mixture_distribution.logits, dim=-1)
        return (log_prob_x + log_weights).logsumexp(-1)

    def sample(self, sample_shape=()):
        with fastdl.no_grad():
            sample_shape = tuple(sample_shape)
            gather_dim = len(sample_shape) + len(self._batch_shape)
            event_shape = self._event_shape
            choice = self._mixture_distribution.sample(sample_shape)
            draws = self._component_distribution.sample(sample_shape)
            # the mixture's batch may be shorter than the components' (it broadcasts)
            mixture_batch = tuple(choice.shape[len(sample_shape):])
            lead = sample_shape + (1,) * (len(self._batch_shape) - len(mixture_batch))
            index = choice.reshape(lead + mixture_batch + (1,) * (len(event_shape) + 1))
            index = index.expand(*(sample_shape + self._batch_shape + (1,) + event_shape))
            return draws.gather(gather_dim, index).squeeze(gather_dim)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution},\n  "
                f"{self._component_distribution})")
