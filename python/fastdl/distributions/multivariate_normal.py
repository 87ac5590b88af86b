"""MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril)."""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl import linalg
from fastdl.distributions import constraints
from fastdl.distributions.distribution import Distribution
from fastdl.distributions.utils import lazy_property, standard_normal

__all__ = ["MultivariateNormal"]


def _broadcast_batch(matrix, other, other_event_dims):
    """matrix (..., n, n) and other (..., <other_event_dims dims>) expanded to one batch shape."""
    batch = tuple(np.broadcast_shapes(matrix.shape[:-2],
                                      other.shape[:other.ndim - other_event_dims]))
    return (matrix.expand(*batch, *matrix.shape[-2:]),
            other.expand(*batch, *other.shape[other.ndim - other_event_dims:]))


def batch_mahalanobis(scale_tril, x):
    """x^T (L L^T)^{-1} x per batch element, by one triangular solve L y = x (no inverse)."""
    scale_tril, x = _broadcast_batch(scale_tril, x, 1)
    y = linalg.solve_triangular(scale_tril, x.unsqueeze(-1), upper=False)
    return y.pow(2).sum((-2, -1))


def half_log_det(scale_tril):
    """log sqrt(det(L L^T)) = sum(log diag L)."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def _precision_to_scale_tril(precision):
    # the Cholesky factor of P's flip gives L^{-1} directly; one triangular solve inverts it
    flipped_factor = linalg.cholesky(precision.flip((-2, -1)))
    inverse_tril = flipped_factor.flip((-2, -1)).transpose(-2, -1)
    identity = fastdl.eye(precision.shape[-1], dtype=precision.dtype, device=precision.device)
    return linalg.solve_triangular(inverse_tril, identity.expand(*inverse_tril.shape),
                                   upper=False)


class GaussianVector(Distribution):
    """What the multivariate normals share: log_prob and entropy from a Mahalanobis distance
    and half the log-determinant of the covariance, which each computes its own way."""

    support = constraints.real_vector
    has_rsample = True

    def _matrix_shape(self):
        return (*self._batch_shape, *self._event_shape, *self._event_shape)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    def _mahalanobis(self, diff):
        raise NotImplementedError(f"{type(self).__name__} must implement _mahalanobis")

    def _half_log_det(self):
        raise NotImplementedError(f"{type(self).__name__} must implement _half_log_det")

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self._event_shape[0]
        return (-0.5 * (n * math.log(2 * math.pi) + self._mahalanobis(value - self.loc))
                - self._half_log_det())

    def entropy(self):
        n = self._event_shape[0]
        entropy = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return entropy.expand(*self._batch_shape) if self._batch_shape else entropy


class MultivariateNormal(GaussianVector):
    """N(loc, Sigma) over vectors, Sigma = L L^T given through exactly one of
    covariance_matrix, precision_matrix or its Cholesky factor scale_tril.

    >>> d = MultivariateNormal(fastdl.zeros(2), scale_tril=fastdl.eye(2) * 2)
    >>> round(d.log_prob(fastdl.zeros(2)).item(), 4), d.rsample((3,)).shape
    (-3.2242, (3, 2))
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = {"scale_tril": scale_tril, "covariance_matrix": covariance_matrix,
                 "precision_matrix": precision_matrix}
        given = {k: v for k, v in given.items() if v is not None}
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        ((name, matrix),) = given.items()
        if matrix.ndim < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional "
                             f"leading batch dimensions")
        batch_shape = tuple(np.broadcast_shapes(matrix.shape[:-2], loc.shape[:-1]))
        self.__dict__[name] = matrix.expand(*batch_shape, *matrix.shape[-2:])
        self.loc = loc.expand(*batch_shape, loc.shape[-1])
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(matrix)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(*self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        tril = self._unbroadcasted_scale_tril
        return (tril @ tril.transpose(-2, -1)).expand(*self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        return fastdl.cholesky_inverse(self._unbroadcasted_scale_tril).expand(
            *self._matrix_shape())

    @property
    def variance(self):
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(
            *self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=()):
        eps = standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _mahalanobis(self, diff):
        return batch_mahalanobis(self._unbroadcasted_scale_tril, diff)

    def _half_log_det(self):
        return half_log_det(self._unbroadcasted_scale_tril)
