"""Transforms that join others or build correlation factors (torch.distributions.transforms):
CatTransform and StackTransform apply one transform per piece (per slice) of a dim, as
torch.cat and torch.stack would join them; CorrCholeskyTransform maps R^(D(D-1)/2) onto the
Cholesky factors of D x D correlation matrices (LKJ priors)."""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl.distributions import constraints
from fastdl.distributions.independent import sum_rightmost
from fastdl.distributions.transforms import Transform
from fastdl.nn.functional import pad, softplus

__all__ = ["CatTransform", "CorrCholeskyTransform", "StackTransform"]


def _tril_flat_indices(n, diag):
    """Flat (row-major) positions in an n x n matrix of the entries on or below diagonal
    ``diag``, in row order."""
    rows, cols = np.nonzero(np.arange(n) < np.arange(n)[:, None] + (diag + 1))
    return rows * n + cols


def tril_matrix_to_vec(mat, diag=0):
    """The entries of ``mat`` on or below diagonal ``diag``, row by row."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    flat = mat.reshape(tuple(mat.shape[:-2]) + (n * n,))
    return flat[..., fastdl.tensor(_tril_flat_indices(n, diag))]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: zeros elsewhere, differentiable in ``vec``."""
    size = vec.shape[-1]
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * size + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(n) - n) > 1e-9:
        raise ValueError(f"The size of last dimension is {size} which cannot be expressed as "
                         f"the lower triangular part of a square D x D matrix.")
    n = round(n)
    # every entry reads vec, the ones above the diagonal read an appended zero
    source = np.full(n * n, size)
    source[_tril_flat_indices(n, diag)] = np.arange(size)
    padded = pad(vec, (0, 1), value=0.0)
    return padded[..., fastdl.tensor(source)].reshape(tuple(vec.shape[:-1]) + (n, n))


class CorrCholeskyTransform(Transform):
    """x in R^(D(D-1)/2) onto the Cholesky factor of a D x D correlation matrix: tanh of x
    fills the strict lower triangle row by row, and each row is rescaled by a signed stick
    breaking so that it has unit length.

    >>> y = CorrCholeskyTransform()(fastdl.tensor([0.0, 0.0, 0.0]))
    >>> y.tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def __eq__(self, other):
        return isinstance(other, CorrCholeskyTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        eps = float(np.finfo(x.dtype).eps)
        x = x.tanh().clamp(min=-1 + eps, max=1 - eps)
        r = vec_to_tril_matrix(x, diag=-1)
        remaining = (1 - r.pow(2)).sqrt().cumprod(-1)
        r = r + fastdl.eye(r.shape[-1], dtype=r.dtype, device=r.device)
        return r * pad(remaining[..., :-1], (1, 0), value=1.0)

    def _inverse(self, y):
        left = 1 - (y * y).cumsum(-1)
        left_shifted = pad(left[..., :-1], (1, 0), value=1.0)
        t = tril_matrix_to_vec(y, diag=-1) / tril_matrix_to_vec(left_shifted, diag=-1).sqrt()
        return (t.log1p() - (-t).log1p()) / 2

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        left = 1 - (y * y).cumsum(-1)
        stick_breaking = 0.5 * tril_matrix_to_vec(left, diag=-2).log().sum(-1)
        tanh = -2 * (x + softplus(-2 * x) - math.log(2.0)).sum(-1)
        return stick_breaking + tanh

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        n = shape[-1]
        d = round((0.25 + 2 * n) ** 0.5 + 0.5)
        if d * (d - 1) // 2 != n:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return tuple(shape[:-1]) + (d, d)

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        d = shape[-1]
        return tuple(shape[:-2]) + (d * (d - 1) // 2,)


class _Joined(Transform):
    """The shared part of CatTransform and StackTransform: a list of transforms, one per
    piece of ``dim``."""

    def __init__(self, tseq, dim=0, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise AssertionError("All elements of tseq must be Transform instances")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms, self.dim = list(tseq), dim

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    def _check(self, z, name, size, what):
        if not -z.ndim <= self.dim < z.ndim:
            raise AssertionError(f"dim {self.dim} out of range for {name} with {z.ndim} "
                                 f"dimensions")
        if z.shape[self.dim] != size:
            raise AssertionError(f"{name}.size({self.dim}) = {z.shape[self.dim]} must equal "
                                 f"{what} {size}")

    def _map(self, z, inverse):
        pieces = [(t.inv if inverse else t)(piece)
                  for t, piece in zip(self.transforms, self._pieces(z))]
        return self._join(pieces)

    def _call(self, x):
        self._check(x, "x", *self._expected())
        return self._map(x, inverse=False)

    def _inverse(self, y):
        self._check(y, "y", *self._expected())
        return self._map(y, inverse=True)


class CatTransform(_Joined):
    """``tseq[i]`` on the i-th piece (``lengths[i]`` entries, 1 by default) of ``dim``, the
    results concatenated as torch.cat would.

    >>> t = CatTransform([ExpTransform(), AffineTransform(0.0, 2.0)], dim=0, lengths=[1, 2])
    >>> t(fastdl.tensor([0.0, 1.0, 2.0])).tolist()
    [1.0, 2.0, 4.0]
    """

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        super().__init__(tseq, dim, cache_size)
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.transforms)
        if len(self.lengths) != len(self.transforms):
            raise AssertionError(f"lengths ({len(self.lengths)}) must match transforms "
                                 f"({len(self.transforms)})")

    @property
    def event_dim(self):
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self):
        return sum(self.lengths)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _expected(self):
        return self.length, "length"

    def _pieces(self, z):
        starts = np.cumsum([0] + self.lengths[:-1])
        return [z.narrow(self.dim, int(s), n) for s, n in zip(starts, self.lengths)]

    def _join(self, pieces):
        return fastdl.cat(pieces, dim=self.dim)

    def log_abs_det_jacobian(self, x, y):
        self._check(x, "x", *self._expected())
        self._check(y, "y", *self._expected())
        jacobians = []
        for t, x_piece, y_piece in zip(self.transforms, self._pieces(x), self._pieces(y)):
            jacobian = t.log_abs_det_jacobian(x_piece, y_piece)
            jacobians.append(sum_rightmost(jacobian, self.event_dim - t.event_dim))
        dim = (self.dim - x.ndim if self.dim >= 0 else self.dim) + self.event_dim
        # a dim inside the event was summed over: the pieces' log|det|s add up
        return fastdl.cat(jacobians, dim=dim) if dim < 0 else sum(jacobians)

    @property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)


class StackTransform(_Joined):
    """``tseq[i]`` on the i-th slice of ``dim``, the results stacked as torch.stack would.

    >>> t = StackTransform([ExpTransform(), AffineTransform(1.0, 1.0)], dim=1)
    >>> t(fastdl.zeros(2, 2)).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _expected(self):
        return len(self.transforms), "len(transforms)"

    def _pieces(self, z):
        return [z.select(self.dim, i) for i in range(z.shape[self.dim])]

    def _join(self, pieces):
        return fastdl.stack(pieces, dim=self.dim)

    def log_abs_det_jacobian(self, x, y):
        self._check(x, "x", *self._expected())
        self._check(y, "y", *self._expected())
        return fastdl.stack([t.log_abs_det_jacobian(x_piece, y_piece) for t, x_piece, y_piece
                             in zip(self.transforms, self._pieces(x), self._pieces(y))],
                            dim=self.dim)

    @property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)
