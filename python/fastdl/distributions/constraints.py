"""The supports and parameter domains of the distributions (torch.distributions.constraints).

``constraint.check(value)`` answers, per batch element (event dims folded in), whether ``value``
lies in the set: a bool Tensor. ``validate_args`` uses it to raise torch's ValueErrors.
"""
from __future__ import annotations

import numpy as np

from fastdl import backend
from fastdl.tensor import Tensor, _wrap

__all__ = ["Constraint", "boolean", "cat", "corr_cholesky", "dependent", "dependent_property", "greater_than",
           "greater_than_eq", "half_open_interval", "independent", "integer_interval",
           "interval", "is_dependent", "less_than", "lower_cholesky", "multinomial", "nonnegative",
           "nonnegative_integer", "one_hot", "positive", "positive_definite", "positive_integer", "real",
           "real_vector", "simplex", "stack", "unit_interval"]


def _bound(bound):
    """A bound as an array or number (bounds may be Tensors: Uniform's low and high)."""
    return bound._data if isinstance(bound, Tensor) else bound


class Constraint:
    is_discrete = False
    event_dim = 0

    def check(self, value):
        """A bool Tensor: which batch elements of ``value`` satisfy the constraint."""
        return _wrap(self._check_array(value._data, backend.array_module(value._data)))

    def _check_array(self, x, xp):
        raise NotImplementedError(f"{type(self).__name__} must implement _check_array")

    def _arguments(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__.lstrip('_')}({self._arguments()})"


class _Dependent(Constraint):
    """The domain depends on other parameters (e.g. Uniform's low/high): not checked alone."""

    def __init__(self, *, is_discrete=False, event_dim=0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint):
    return isinstance(constraint, _Dependent)


class _DependentProperty(property, _Dependent):
    """A property whose value is a constraint built from the instance (``Uniform.support``)."""

    def __init__(self, fn=None, *, is_discrete=False, event_dim=0):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)


def dependent_property(fn=None, *, is_discrete=False, event_dim=0):
    if fn is None:
        return lambda f: _DependentProperty(f, is_discrete=is_discrete, event_dim=event_dim)
    return _DependentProperty(fn, is_discrete=is_discrete, event_dim=event_dim)


class _IndependentConstraint(Constraint):
    """``base`` with its rightmost ``reinterpreted_batch_ndims`` dims folded into the event."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = int(reinterpreted_batch_ndims)
        self.is_discrete = base_constraint.is_discrete
        self.event_dim = base_constraint.event_dim + self.reinterpreted_batch_ndims

    def _check_array(self, x, xp):
        ok = self.base_constraint._check_array(x, xp)
        if self.reinterpreted_batch_ndims:
            ok = ok.all(axis=tuple(range(-self.reinterpreted_batch_ndims, 0)))
        return ok

    def __repr__(self):
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


class _Boolean(Constraint):
    is_discrete = True

    def _check_array(self, x, xp):
        return (x == 0) | (x == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check_array(self, x, xp):
        return ((x % 1 == 0) & (_bound(self.lower_bound) <= x)
                & (x <= _bound(self.upper_bound)))

    def _arguments(self):
        return f"lower_bound={self.lower_bound}, upper_bound={self.upper_bound}"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check_array(self, x, xp):
        return (x % 1 == 0) & (x >= self.lower_bound)

    def _arguments(self):
        return f"lower_bound={self.lower_bound}"


class _Real(Constraint):
    def _check_array(self, x, xp):
        return x == x  # False only for NaN, as in torch


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _check_array(self, x, xp):
        return _bound(self.lower_bound) < x

    def _arguments(self):
        return f"lower_bound={self.lower_bound}"


class _GreaterThanEq(_GreaterThan):
    def _check_array(self, x, xp):
        return _bound(self.lower_bound) <= x


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _check_array(self, x, xp):
        return x < _bound(self.upper_bound)

    def _arguments(self):
        return f"upper_bound={self.upper_bound}"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check_array(self, x, xp):
        return (_bound(self.lower_bound) <= x) & (x <= _bound(self.upper_bound))

    def _arguments(self):
        return f"lower_bound={self.lower_bound}, upper_bound={self.upper_bound}"


class _HalfOpenInterval(_Interval):
    def _check_array(self, x, xp):
        return (_bound(self.lower_bound) <= x) & (x < _bound(self.upper_bound))


class _Simplex(Constraint):
    event_dim = 1

    def _check_array(self, x, xp):
        return (x >= 0).all(axis=-1) & (xp.abs(x.sum(axis=-1) - 1) < 1e-6)


class _LowerCholesky(Constraint):
    event_dim = 2

    def _check_array(self, x, xp):
        lower = (xp.triu(x, 1) == 0).all(axis=(-2, -1))
        positive_diagonal = (xp.diagonal(x, axis1=-2, axis2=-1) > 0).all(axis=-1)
        return lower & positive_diagonal


class _PositiveDefinite(Constraint):
    event_dim = 2

    def _check_array(self, x, xp):
        symmetric = xp.isclose(x, xp.swapaxes(x, -1, -2), atol=1e-6).all(axis=(-2, -1))
        with np.errstate(invalid="ignore"):
            eigenvalues = xp.linalg.eigvalsh(x)
        return symmetric & (eigenvalues > 0).all(axis=-1)


dependent = _Dependent()
boolean = _Boolean()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = _IndependentConstraint(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
independent = _IndependentConstraint


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def _check_array(self, x, xp):
        return ((x == 0) | (x == 1)).all(axis=-1) & (x.sum(axis=-1) == 1)


one_hot = _OneHot()


class _Multinomial(Constraint):
    """Nonnegative integer counts summing to at most ``upper_bound`` (torch checks the sum
    with <=, not ==)."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _check_array(self, x, xp):
        return (x >= 0).all(axis=-1) & (x.sum(axis=-1) <= self.upper_bound)

    def _arguments(self):
        return f"upper_bound={self.upper_bound}"


multinomial = _Multinomial


class _CorrCholesky(Constraint):
    """Cholesky factors of correlation matrices: lower triangular, positive diagonal, rows of
    unit length (to 10 eps per column)."""

    event_dim = 2

    def _check_array(self, x, xp):
        tol = float(np.finfo(x.dtype).eps) * x.shape[-1] * 10
        unit_rows = (xp.abs(xp.linalg.norm(x, axis=-1) - 1.0) <= tol).all(axis=-1)
        return lower_cholesky._check_array(x, xp) & unit_rows


corr_cholesky = _CorrCholesky()


def _along(x, axis, index):
    """x[..., index, ...] with ``index`` (an int or a slice) at ``axis``."""
    return x[(slice(None),) * (axis % x.ndim) + (index,)]


class _Cat(Constraint):
    """``cseq[i]`` on the i-th piece (of ``lengths[i]`` entries) of ``dim``: the domain of a
    CatTransform."""

    def __init__(self, cseq, dim=0, lengths=None):
        self.cseq, self.dim = list(cseq), dim
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.cseq)
        self.is_discrete = any(c.is_discrete for c in self.cseq)
        self.event_dim = max(c.event_dim for c in self.cseq)

    def _check_array(self, x, xp):
        checks, start = [], 0
        for constraint, length in zip(self.cseq, self.lengths):
            piece = _along(x, self.dim, slice(start, start + length))
            checks.append(constraint._check_array(piece, xp))
            start += length
        return xp.concatenate(checks, axis=self.dim)


class _Stack(Constraint):
    """``cseq[i]`` on the i-th slice of ``dim``: the domain of a StackTransform."""

    def __init__(self, cseq, dim=0):
        self.cseq, self.dim = list(cseq), dim
        self.is_discrete = any(c.is_discrete for c in self.cseq)
        self.event_dim = max(c.event_dim for c in self.cseq)
        if self.dim + self.event_dim < 0:
            self.event_dim += 1  # the stacking dim (counted from the right) is in the event

    def _check_array(self, x, xp):
        return xp.stack([c._check_array(_along(x, self.dim, i), xp)
                         for i, c in enumerate(self.cseq)], axis=self.dim)


cat = _Cat
stack = _Stack
