"""LowRankMultivariateNormal(loc, cov_factor, cov_diag): covariance W W^T + diag(D) with a
thin W (n x m, m << n), handled in O(n m^2) through the m x m capacitance matrix
I + W^T D^-1 W (Woodbury identity and matrix determinant lemma)."""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl import linalg
from fastdl.distributions import constraints
from fastdl.distributions.multivariate_normal import GaussianVector, batch_mahalanobis
from fastdl.distributions.utils import lazy_property, standard_normal

__all__ = ["LowRankMultivariateNormal"]


def _plus_identity(matrix):
    return matrix + fastdl.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)


def _capacitance_tril(cov_factor, cov_diag):
    """Cholesky factor of I + W^T D^-1 W."""
    scaled_transpose = cov_factor.transpose(-2, -1) / cov_diag.unsqueeze(-2)
    return linalg.cholesky(_plus_identity(scaled_transpose @ cov_factor))


def _lowrank_logdet(cov_diag, capacitance_tril):
    # det(W W^T + D) = det(I + W^T D^-1 W) det(D)
    return (2 * capacitance_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
            + cov_diag.log().sum(-1))


def _lowrank_mahalanobis(cov_factor, cov_diag, x, capacitance_tril):
    # x^T (W W^T + D)^-1 x = x^T D^-1 x - |C^-1 W^T D^-1 x|^2 (Woodbury), C C^T the capacitance
    scaled_transpose = cov_factor.transpose(-2, -1) / cov_diag.unsqueeze(-2)
    projected = (scaled_transpose @ x.unsqueeze(-1)).squeeze(-1)
    return (x.pow(2) / cov_diag).sum(-1) - batch_mahalanobis(capacitance_tril, projected)


class LowRankMultivariateNormal(GaussianVector):
    """N(loc, W W^T + diag(D)) over vectors of size n, W = cov_factor (n x m), D = cov_diag.

    >>> d = LowRankMultivariateNormal(fastdl.zeros(3), fastdl.ones(3, 1), fastdl.ones(3))
    >>> d.covariance_matrix.tolist()
    [[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]]
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        n = loc.shape[-1]
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading "
                             "batch dimensions")
        if cov_factor.shape[-2] != n:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m")
        if tuple(cov_diag.shape[-1:]) != (n,):
            raise ValueError(f"cov_diag must be a batch of vectors with shape {(n,)}")
        try:
            batch_shape = tuple(np.broadcast_shapes(loc.shape[:-1], cov_factor.shape[:-2],
                                                    cov_diag.shape[:-1]))
        except ValueError:
            raise ValueError(f"Incompatible batch shapes: loc {tuple(loc.shape)}, cov_factor "
                             f"{tuple(cov_factor.shape)}, cov_diag {tuple(cov_diag.shape)}")
        self.loc = loc.expand(*batch_shape, n)
        self.cov_factor = cov_factor.expand(*batch_shape, *cov_factor.shape[-2:])
        self.cov_diag = cov_diag.expand(*batch_shape, n)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        # validated before the Cholesky factorization, so that a non-positive cov_diag is
        # torch's ValueError naming it (torch itself fails inside the factorization there)
        super().__init__(batch_shape, (n,), validate_args=validate_args)
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)

    def expand(self, batch_shape, _instance=None):
        batch_shape = tuple(batch_shape)
        n = self._event_shape[0]
        new = object.__new__(type(self))
        new.loc = self.loc.expand(*batch_shape, n)
        new.cov_factor = self.cov_factor.expand(*batch_shape, *self.cov_factor.shape[-2:])
        new.cov_diag = self.cov_diag.expand(*batch_shape, n)
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        return self._finish_expand(new, batch_shape)

    @lazy_property
    def variance(self):
        return (self._unbroadcasted_cov_factor.pow(2).sum(-1)
                + self._unbroadcasted_cov_diag).expand(*self._batch_shape, *self._event_shape)

    @lazy_property
    def scale_tril(self):
        # W W^T + D = D^1/2 (D^-1/2 W W^T D^-1/2 + I) D^1/2: factor the inner matrix
        diag_sqrt = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)
        scaled = self._unbroadcasted_cov_factor / diag_sqrt
        inner = _plus_identity(scaled @ scaled.transpose(-2, -1))
        return (diag_sqrt * linalg.cholesky(inner)).expand(*self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_cov_factor
        covariance = factor @ factor.transpose(-2, -1) + fastdl.diag_embed(
            self._unbroadcasted_cov_diag)
        return covariance.expand(*self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        # Woodbury: D^-1 - D^-1 W C^-T C^-1 W^T D^-1
        factor, diag = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        scaled_transpose = factor.transpose(-2, -1) / diag.unsqueeze(-2)
        solved = linalg.solve_triangular(
            self._capacitance_tril.expand(*scaled_transpose.shape[:-2],
                                          *self._capacitance_tril.shape[-2:]),
            scaled_transpose, upper=False)
        precision = fastdl.diag_embed(diag.reciprocal()) - solved.transpose(-2, -1) @ solved
        return precision.expand(*self._matrix_shape())

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        factor = self._unbroadcasted_cov_factor
        eps_factor = standard_normal(shape[:-1] + factor.shape[-1:], self.loc)
        eps_diag = standard_normal(shape, self.loc)
        return (self.loc + (factor @ eps_factor.unsqueeze(-1)).squeeze(-1)
                + self._unbroadcasted_cov_diag.sqrt() * eps_diag)

    def _mahalanobis(self, diff):
        return _lowrank_mahalanobis(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag,
                                    diff, self._capacitance_tril)

    def _half_log_det(self):
        return 0.5 * _lowrank_logdet(self._unbroadcasted_cov_diag, self._capacitance_tril)
