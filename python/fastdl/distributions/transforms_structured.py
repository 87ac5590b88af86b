"""Transforms that act on whole events (torch.distributions.transforms): onto the simplex
(softmax, stick-breaking), onto Cholesky factors and positive-definite matrices, reshapes, and
an elementwise transform read as acting on ``reinterpreted_batch_ndims`` event dims."""
from __future__ import annotations

import fastdl
from fastdl import linalg
from fastdl.distributions import constraints
from fastdl.distributions.independent import sum_rightmost
from fastdl.distributions.transforms import Transform, _clipped_sigmoid
from fastdl.distributions.utils import tiny
from fastdl.nn.functional import logsigmoid, pad

__all__ = ["IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
           "ReshapeTransform", "SoftmaxTransform", "StickBreakingTransform"]


def _at_least_one_dim(shape):
    if len(shape) < 1:
        raise ValueError("Too few dimensions on input")
    return tuple(shape)


class _ParameterFree(Transform):
    """Any two transforms of such a class are the same map."""

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


class SoftmaxTransform(_ParameterFree):
    """y = exp(x) / sum(exp(x)) over the last dim; not bijective (x + c gives the same y), its
    "inverse" is log(y).

    >>> SoftmaxTransform()(fastdl.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    def _call(self, x):
        probs = (x - x.max(-1, True)[0]).exp()
        return probs / probs.sum(-1, True)

    def _inverse(self, y):
        return y.log()

    def forward_shape(self, shape):
        return _at_least_one_dim(shape)

    inverse_shape = forward_shape


def _stick_offset(n, like):
    """log(n), log(n - 1), ..., log(1): centres each stick's logit so x = 0 maps to the
    simplex centre."""
    return (n + 1 - fastdl.ones(n, dtype=like.dtype, device=like.device).cumsum(-1)).log()


class StickBreakingTransform(_ParameterFree):
    """R^K onto the (K+1)-simplex by breaking sticks: piece k takes the fraction
    sigmoid(x_k - log(K - k)) of what is left (bijective, so LogisticNormal can use it).

    >>> StickBreakingTransform()(fastdl.tensor([0.0, 0.0])).tolist()  # doctest: +ELLIPSIS
    [0.333..., 0.333..., 0.333...]
    """

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def _call(self, x):
        z = _clipped_sigmoid(x - _stick_offset(x.shape[-1], x))
        remaining = (1 - z).cumprod(-1)
        return pad(z, (0, 1), value=1.0) * pad(remaining, (1, 0), value=1.0)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        left = (1 - y_crop.cumsum(-1)).clamp(min=tiny(y.dtype))
        return y_crop.log() - left.log() + _stick_offset(y_crop.shape[-1], y)

    def log_abs_det_jacobian(self, x, y):
        x = x - _stick_offset(x.shape[-1], x)
        return (-x + logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        shape = _at_least_one_dim(shape)
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        shape = _at_least_one_dim(shape)
        return shape[:-1] + (shape[-1] - 1,)


class LowerCholeskyTransform(_ParameterFree):
    """Square matrices onto lower-triangular ones with a positive diagonal: the strict lower
    part kept, the diagonal exponentiated.

    >>> LowerCholeskyTransform()(fastdl.zeros(2, 2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def _call(self, x):
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()


class PositiveDefiniteTransform(_ParameterFree):
    """Square matrices onto positive-definite ones: L L^T of their LowerCholeskyTransform.

    >>> PositiveDefiniteTransform()(fastdl.zeros(2, 2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x):
        tril = LowerCholeskyTransform()(x)
        return tril @ tril.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(linalg.cholesky(y))


class ReshapeTransform(Transform):
    """The rightmost ``in_shape`` dims reshaped to ``out_shape`` (same number of elements);
    its log|det| is 0.

    >>> ReshapeTransform((4,), (2, 2))(fastdl.zeros(3, 4)).shape
    (3, 2, 2)
    """

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if _numel(self.in_shape) != _numel(self.out_shape):
            raise ValueError("in_shape, out_shape have different numbers of elements")
        super().__init__(cache_size=cache_size)

    @property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def _call(self, x):
        return x.reshape(tuple(x.shape[:x.ndim - len(self.in_shape)]) + self.out_shape)

    def _inverse(self, y):
        return y.reshape(tuple(y.shape[:y.ndim - len(self.out_shape)]) + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(tuple(x.shape[:x.ndim - len(self.in_shape)]))

    @staticmethod
    def _replace_tail(shape, old, new):
        shape = tuple(shape)
        if len(shape) < len(old):
            raise ValueError("Too few dimensions on input")
        cut = len(shape) - len(old)
        if shape[cut:] != old:
            raise ValueError(f"Shape mismatch: expected {shape[cut:]} but got {old}")
        return shape[:cut] + new

    def forward_shape(self, shape):
        return self._replace_tail(shape, self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        return self._replace_tail(shape, self.out_shape, self.in_shape)


def _numel(shape):
    count = 1
    for size in shape:
        count *= size
    return count


class IndependentTransform(Transform):
    """``base_transform`` unchanged, its log|det| summed over ``reinterpreted_batch_ndims``
    more rightmost dims (as Independent does for a distribution).

    >>> t = IndependentTransform(ExpTransform(), 1)
    >>> t.log_abs_det_jacobian(fastdl.tensor([1.0, 2.0]), None).item()
    3.0
    """

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims,
                                    cache_size=cache_size)

    @property
    def domain(self):
        return constraints.independent(self.base_transform.domain,
                                       self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return constraints.independent(self.base_transform.codomain,
                                       self.reinterpreted_batch_ndims)

    @property
    def bijective(self):
        return self.base_transform.bijective

    @property
    def sign(self):
        return self.base_transform.sign

    def _call(self, x):
        if x.ndim < self.domain.event_dim:
            raise ValueError("Too few dimensions on input")
        return self.base_transform(x)

    def _inverse(self, y):
        if y.ndim < self.codomain.event_dim:
            raise ValueError("Too few dimensions on input")
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y),
                             self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"
