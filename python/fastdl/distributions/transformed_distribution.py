"""TransformedDistribution(base, transforms): the law of transforms[-1](...transforms[0](x))
for x ~ base, with the change-of-variables log_prob; and LogNormal = exp of a Normal."""
from __future__ import annotations

from fastdl.distributions import constraints
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.independent import Independent, sum_rightmost
from fastdl.distributions.normal import Normal
from fastdl.distributions.transforms import ComposeTransform, ExpTransform, Transform

__all__ = ["LogNormal", "TransformedDistribution"]


class TransformedDistribution(Distribution):
    """log_prob(y) = base.log_prob(x) - sum log|det dT/dx| along the inverse path x = T^-1(y).

    >>> d = TransformedDistribution(Normal(fastdl.tensor(0.0), fastdl.tensor(1.0)),
    ...                             [ExpTransform()])
    >>> round(d.log_prob(fastdl.tensor(1.0)).item(), 6)  # the LogNormal(0, 1) density at 1
    -0.918939
    """

    arg_constraints: dict = {}

    def __init__(self, base_distribution, transforms, validate_args=None):
        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif not (isinstance(transforms, list) and all(isinstance(t, Transform)
                                                       for t in transforms)):
            raise ValueError(f"transforms must be a Transform or a list of Transforms, "
                             f"but was {transforms}")
        self.transforms = transforms
        transform = ComposeTransform(transforms)
        domain_event_dim = transform.domain.event_dim
        shape = base_distribution.batch_shape + base_distribution.event_shape
        if len(shape) < domain_event_dim:
            raise ValueError(f"base_distribution needs to have shape with size at least "
                             f"{domain_event_dim}, but got {shape}.")
        forward_shape = transform.forward_shape(shape)
        # parameters of the transforms may broadcast the batch: the base takes that batch
        # (in its own shape, which a stick-breaking or reshaping transform changes)
        expanded_base_shape = transform.inverse_shape(forward_shape)
        if expanded_base_shape != shape:
            base_batch = expanded_base_shape[:len(expanded_base_shape)
                                             - len(base_distribution.event_shape)]
            base_distribution = base_distribution.expand(base_batch)
        reinterpreted = domain_event_dim - len(base_distribution.event_shape)
        if reinterpreted > 0:
            base_distribution = Independent(base_distribution, reinterpreted)
        self.base_dist = base_distribution
        event_dim = transform.codomain.event_dim + max(
            len(base_distribution.event_shape) - domain_event_dim, 0)
        cut = len(forward_shape) - event_dim
        super().__init__(forward_shape[:cut], forward_shape[cut:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self)) if _instance is None else _instance
        batch_shape = tuple(batch_shape)
        base_event = self.base_dist.event_shape
        new.base_dist = self.base_dist.expand(batch_shape + self._event_shape[
            :len(self._event_shape) - len(base_event)])
        new.transforms = self.transforms
        return self._finish_expand(new, batch_shape)

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        if not self.transforms:
            return self.base_dist.support
        support = self.transforms[-1].codomain
        extra = len(self._event_shape) - support.event_dim
        return constraints.independent(support, extra) if extra > 0 else support

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    def _forward(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    def sample(self, sample_shape=()):
        return self._forward(self.base_dist.sample(sample_shape)).detach()

    def rsample(self, sample_shape=()):
        return self._forward(self.base_dist.rsample(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self._event_shape)
        log_prob = 0.0
        y = value
        for transform in reversed(self.transforms):
            x = transform.inv(y)
            event_dim += transform.domain.event_dim - transform.codomain.event_dim
            log_prob = log_prob - sum_rightmost(transform.log_abs_det_jacobian(x, y),
                                                event_dim - transform.domain.event_dim)
            y = x
        return log_prob + sum_rightmost(self.base_dist.log_prob(y),
                                        event_dim - len(self.base_dist.event_shape))

    def _monotonize_cdf(self, value):
        """A decreasing composition (a negative scale) turns the base cdf into 1 - cdf."""
        sign = 1
        for transform in self.transforms:
            sign = sign * transform.sign
        if isinstance(sign, int) and sign == 1:
            return value
        return sign * (value - 0.5) + 0.5

    def cdf(self, value):
        for transform in self.transforms[::-1]:
            value = transform.inv(value)
        if self._validate_args:
            self.base_dist._validate_sample(value)
        return self._monotonize_cdf(self.base_dist.cdf(value))

    def icdf(self, value):
        return self._forward(self.base_dist.icdf(self._monotonize_cdf(value)))


class LogNormal(TransformedDistribution):
    """exp(N(loc, scale^2)): positive, with log-normal moments in closed form."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(Normal(loc, scale, validate_args=validate_args), ExpTransform(),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, object.__new__(LogNormal))

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self):
        scale_squared = self.scale.pow(2)
        return scale_squared.expm1() * (2 * self.loc + scale_squared).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc

    def __repr__(self):
        return f"LogNormal(loc: {tuple(self.loc.shape)}, scale: {tuple(self.scale.shape)})"
