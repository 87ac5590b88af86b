"""Invertible maps y = f(x) with log|det df/dx| (torch.distributions.transforms): the pieces of
TransformedDistribution, normalizing flows and squashed policies (tanh of a Gaussian)."""
from __future__ import annotations

import math
import numbers

import numpy as np

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions.independent import sum_rightmost
from fastdl.nn.functional import softplus
from fastdl.tensor import Tensor

__all__ = ["AffineTransform", "ComposeTransform", "ExpTransform", "SigmoidTransform",
           "TanhTransform", "Transform", "identity_transform"]


class Transform:
    """y = transform(x), x = transform.inv(y); ``log_abs_det_jacobian(x, y)`` per element
    (summed over ``event_dim`` rightmost dims). With ``cache_size=1`` the last (x, y) pair is
    remembered, so inverting a sample returns its exact x (tanh's inverse loses precision
    near +-1)."""

    bijective = False
    domain = constraints.real
    codomain = constraints.real
    sign = 1

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise ValueError("cache_size must be 0 or 1")
        self._cache_size = cache_size
        self._cached = None  # (x, y)
        self._inverse_transform = None

    @property
    def event_dim(self):
        if self.domain.event_dim == self.codomain.event_dim:
            return self.domain.event_dim
        raise ValueError("Please use either .domain.event_dim or .codomain.event_dim")

    @property
    def inv(self):
        if self._inverse_transform is None:
            self._inverse_transform = _InverseTransform(self)
        return self._inverse_transform

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        if type(self).__init__ is Transform.__init__:
            return type(self)(cache_size=cache_size)
        raise NotImplementedError(f"{type(self)}.with_cache is not implemented")

    def __call__(self, x):
        if self._cache_size and self._cached is not None and self._cached[0] is x:
            return self._cached[1]
        y = self._call(x)
        if self._cache_size:
            self._cached = (x, y)
        return y

    def _inv_call(self, y):
        if self._cache_size and self._cached is not None and self._cached[1] is y:
            return self._cached[0]
        x = self._inverse(y)
        if self._cache_size:
            self._cached = (x, y)
        return x

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement _call")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} must implement _inverse")

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError(f"{type(self).__name__} must implement log_abs_det_jacobian")

    def forward_shape(self, shape):
        return tuple(shape)

    def inverse_shape(self, shape):
        return tuple(shape)

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f"{type(self).__name__}()"


class _InverseTransform(Transform):
    def __init__(self, transform):
        super().__init__(cache_size=transform._cache_size)
        self._inverse_transform = transform

    domain = property(lambda self: self._inverse_transform.codomain)
    codomain = property(lambda self: self._inverse_transform.domain)
    bijective = property(lambda self: self._inverse_transform.bijective)
    sign = property(lambda self: self._inverse_transform.sign)

    @property
    def inv(self):
        return self._inverse_transform

    def __call__(self, x):
        return self._inverse_transform._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inverse_transform.log_abs_det_jacobian(y, x)

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and \
            self._inverse_transform == other._inverse_transform

    __hash__ = Transform.__hash__

    def __repr__(self):
        return f"{self._inverse_transform!r}.inv"


class _StatelessTransform(Transform):
    """A transform without parameters: any two of a class are the same map."""

    bijective = True

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


class ExpTransform(_StatelessTransform):
    codomain = constraints.positive

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


def _clipped_sigmoid(x):
    # sigmoid kept inside (tiny, 1 - eps): its logit (the inverse) then stays finite
    finfo = np.finfo(x.dtype)
    return x.sigmoid().clamp(min=float(finfo.tiny), max=1.0 - float(finfo.eps))


class SigmoidTransform(_StatelessTransform):
    codomain = constraints.unit_interval

    def _call(self, x):
        return _clipped_sigmoid(x)

    def _inverse(self, y):
        finfo = np.finfo(y.dtype)
        y = y.clamp(min=float(finfo.tiny), max=1.0 - float(finfo.eps))
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)


class TanhTransform(_StatelessTransform):
    """tanh: squashes a Gaussian policy into (-1, 1) (SAC); log|det| written without
    1 - tanh(x)^2, which rounds to 0 for |x| > ~9."""

    codomain = constraints.interval(-1.0, 1.0)
    sign = 1

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return 0.5 * (y.log1p() - (-y).log1p())  # atanh

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class AffineTransform(Transform):
    """y = loc + scale * x, over ``event_dim`` rightmost dims (their log|det| summed)."""

    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        return constraints.independent(constraints.real, self._event_dim) if self._event_dim \
            else constraints.real

    codomain = domain

    @property
    def sign(self):
        if isinstance(self.scale, numbers.Real):
            return 1 if float(self.scale) > 0 else -1 if float(self.scale) < 0 else 0
        return self.scale.sign()

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        if isinstance(self.scale, numbers.Real):
            result = fastdl.full_like(x, math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log()
            shape = tuple(np.broadcast_shapes(result.shape, x.shape))
            result = result.expand(*shape) if result.shape != shape else result
        return sum_rightmost(result, self._event_dim)

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(shape, getattr(self.loc, "shape", ()),
                                         getattr(self.scale, "shape", ())))

    inverse_shape = forward_shape

    def __eq__(self, other):
        if not isinstance(other, AffineTransform):
            return False
        return _same_value(self.loc, other.loc) and _same_value(self.scale, other.scale)

    __hash__ = Transform.__hash__


def _same_value(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a, b = (fastdl.as_tensor(v) if not isinstance(v, Tensor) else v for v in (a, b))
        return a.shape == b.shape and bool((a == b).all())
    return a == b


class ComposeTransform(Transform):
    """parts[-1](... parts[0](x)); log|det| summed over the parts (each over its event dims)."""

    def __init__(self, parts, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.parts = [p.with_cache(cache_size) for p in parts] if cache_size else list(parts)

    @property
    def bijective(self):
        return all(p.bijective for p in self.parts)

    @property
    def sign(self):
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    @property
    def domain(self):
        if not self.parts:
            return constraints.real
        domain = self.parts[0].domain
        event_dim = max(p.domain.event_dim for p in self.parts)  # elementwise parts: equal
        return constraints.independent(domain, event_dim - domain.event_dim) \
            if event_dim > domain.event_dim else domain

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        codomain = self.parts[-1].codomain
        event_dim = max(p.codomain.event_dim for p in self.parts)
        return constraints.independent(codomain, event_dim - codomain.event_dim) \
            if event_dim > codomain.event_dim else codomain

    @property
    def inv(self):
        return ComposeTransform([p.inv for p in reversed(self.parts)])

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else ComposeTransform(self.parts,
                                                                            cache_size)

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return fastdl.zeros_like(x)
        event_dim = self.domain.event_dim
        total = 0.0
        for part in self.parts:
            y_part = part(x)
            total = total + sum_rightmost(part.log_abs_det_jacobian(x, y_part),
                                          event_dim - part.domain.event_dim)
            x = y_part
        return total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return tuple(shape)

    def __eq__(self, other):
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    __hash__ = Transform.__hash__

    def __repr__(self):
        return "ComposeTransform(\n    " + ",\n    ".join(map(repr, self.parts)) + "\n)"


identity_transform = ComposeTransform([])


# torch.distributions.transforms holds every transform: the newer ones live in their own
# modules (they import Transform from here, so they come last) and are re-exported here
from fastdl.distributions.transforms_more import (AbsTransform,  # noqa: E402
                                                 CumulativeDistributionTransform,
                                                 PowerTransform, SoftplusTransform)
from fastdl.distributions.transforms_joined import (CatTransform,  # noqa: E402
                                                   CorrCholeskyTransform, StackTransform)
from fastdl.distributions.transforms_structured import (IndependentTransform,  # noqa: E402
                                                       LowerCholeskyTransform,
                                                       PositiveDefiniteTransform,
                                                       ReshapeTransform, SoftmaxTransform,
                                                       StickBreakingTransform)

__all__ += ["AbsTransform", "CatTransform", "CorrCholeskyTransform",
            "CumulativeDistributionTransform", "IndependentTransform",
            "LowerCholeskyTransform", "PositiveDefiniteTransform", "PowerTransform",
            "ReshapeTransform", "SoftmaxTransform", "SoftplusTransform",
            "StackTransform", "StickBreakingTransform"]
