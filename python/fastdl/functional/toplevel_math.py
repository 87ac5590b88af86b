"""torch's top-level ``binomial``, ``histogramdd``, ``lu_unpack``, ``nuclear_norm`` and
``frobenius_norm``, built on fastdl's sampling, histogram binning and linalg ops."""
from __future__ import annotations

import numpy as np

from fastdl._argcheck import check_tensor_arg
from fastdl.functional._core import _wrap, xp_of
from fastdl.tensor import Tensor


def _host(t):
    d = t._data
    return d if type(d) is np.ndarray else d.get()


def binomial(count, prob, generator=None):
    """Draws from Binomial(count, prob), elementwise (broadcast); like torch, prob >= 1 gives
    count itself, prob <= 0 or count <= 0 gives 0 and a NaN prob gives NaN. No gradient.

    Shape: the broadcast shape of count and prob, in count's (floating point) dtype.

    >>> fastdl.binomial(fastdl.tensor([10.0, 5.0]), fastdl.tensor([0.0, 1.0])).tolist()
    [0.0, 5.0]
    """
    from fastdl.random import _numpy_rng
    check_tensor_arg(count, "binomial", "count")
    check_tensor_arg(prob, "binomial", "prob", 2)
    dt = count._data.dtype
    if dt.kind != "f":
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: {dt}")
    if prob._data.dtype != dt:
        raise RuntimeError(f"Found dtype {prob._data.dtype} but expected {dt}")
    n, p = np.broadcast_arrays(_host(count).astype(np.float64), _host(prob).astype(np.float64))
    draws = _numpy_rng(generator).binomial(np.maximum(np.floor(n), 0).astype(np.int64),
                                           np.nan_to_num(np.clip(p, 0.0, 1.0), nan=0.0))
    out = np.where(p >= 1.0, n, draws.astype(np.float64))
    out = np.where(n <= 0, 0.0, out)
    out = np.where(np.isnan(p), np.nan, out).astype(dt)
    return _wrap(xp_of(count._data).asarray(out))


def _dd_edges(points, bins, rng, dim, dt):
    from fastdl.creation_ranges import torch_linspace
    if isinstance(bins, (list, tuple)) and bins and isinstance(bins[0], Tensor):
        if len(bins) != dim:
            raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                               "dimension of the input.")
        return [_host(b).astype(dt) for b in bins]
    counts = [int(bins)] * dim if not isinstance(bins, (list, tuple)) else [int(b) for b in bins]
    if len(counts) != dim:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    if rng is not None and len(rng) != 2 * dim:
        raise RuntimeError(f"torch.histogramdd: for a {dim}-dimensional histogram range should "
                           f"have {2 * dim} elements, but got {len(rng)}")
    edges = []
    for k, nb in enumerate(counts):
        if nb <= 0:
            raise RuntimeError(f"histogramdd(): bins must be > 0, but got {nb} for dimension {k}")
        col = points[:, k]
        # torch's range for no points is numpy's default, [0, 1]
        lo, hi = (float(rng[2 * k]), float(rng[2 * k + 1])) if rng is not None else (
            (float(col.min()), float(col.max())) if col.size else (0.0, 1.0))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension {k}'s range [{lo}, {hi}] is not "
                               "finite")
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {lo} "
                               f"max {hi} for dimension {k}")
        if lo == hi:  # an empty range: one unit around it, as torch
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(torch_linspace(lo, hi, nb + 1, dt))
    return edges


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """The D-dimensional histogram of the points in input's last dim: counts (or ``weight``
    sums) per cell. ``bins`` is an int, D ints (equal bins over ``range`` = [lo0, hi0, lo1,
    hi1, ...], each dim's min and max when None) or D 1-D tensors of edges. A point on a
    cell's left edge belongs to it; the last cell of each dim keeps its right edge too.

    Shape: hist (bins_0, ..., bins_{D-1}); bin_edges a tuple of D (bins_k + 1,) tensors.

    >>> hist, edges = fastdl.histogramdd(fastdl.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), 2)
    >>> hist.tolist(), edges[0].tolist()
    ([[1.0, 0.0], [1.0, 1.0]], [0.0, 0.5, 1.0])
    """
    check_tensor_arg(input, "histogramdd")
    d = input._data
    if d.dtype.kind != "f":
        raise NotImplementedError(f'"histogramdd" not implemented for {d.dtype}')
    if d.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    dim = d.shape[-1]
    points = _host(input).reshape(-1, dim)
    w = None
    if weight is not None:
        if tuple(weight._data.shape) != tuple(d.shape[:-1]):
            raise RuntimeError(f"histogramdd: weight should have shape {tuple(d.shape[:-1])}, "
                               f"got {tuple(weight._data.shape)}")
        w = _host(weight).reshape(-1)
    edges = _dd_edges(points, bins, range, dim, d.dtype)
    inside = np.ones(points.shape[0], dtype=bool)
    cells = []
    for k, e in enumerate(edges):
        inside &= (points[:, k] >= e[0]) & (points[:, k] <= e[-1])
    for k, e in enumerate(edges):  # the last edge at or below the value (torch's binning)
        cells.append(np.minimum(np.searchsorted(e, points[inside, k], side="right") - 1,
                                len(e) - 2))
    shape = tuple(len(e) - 1 for e in edges)
    flat = np.ravel_multi_index(cells, shape) if cells and inside.any() else \
        np.zeros(0, dtype=np.int64)
    hist = np.bincount(flat, weights=None if w is None else w[inside],
                       minlength=int(np.prod(shape))).reshape(shape).astype(np.float64)
    if density:
        volume = np.ones(shape)
        for k, e in enumerate(edges):
            view = [1] * dim
            view[k] = len(e) - 1
            volume = volume * np.diff(e.astype(np.float64)).reshape(view)
        hist = hist / hist.sum() / volume
    xp = xp_of(d)
    return (_wrap(xp.asarray(hist.astype(d.dtype))),
            tuple(_wrap(xp.asarray(e.astype(d.dtype))) for e in edges))


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """P, L, U with A = P @ L @ U from ``linalg.lu_factor``'s compact LU and its 1-based
    int32 row-swap pivots. L and U are differentiable in LU_data; a part not asked for comes
    back empty.

    Shape: LU (*, m, n), pivots (*, k) with k = min(m, n) -> P (*, m, m), L (*, m, k),
    U (*, k, n).

    >>> A = fastdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> P, L, U = fastdl.lu_unpack(*fastdl.linalg.lu_factor(A))
    >>> fastdl.allclose(P @ L @ U, A)
    True
    """
    from fastdl.creation import eye
    from fastdl.functional.everyday import tril, triu
    if LU_pivots._data.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor "
                           f"of int32 dtype, got {LU_pivots._data.dtype}")
    d = LU_data._data
    if d.ndim < 2:
        raise RuntimeError(f"torch.lu_unpack: expected LU_data of at least 2 dimensions, got "
                           f"shape {tuple(d.shape)}")
    m, n = d.shape[-2:]
    k = min(m, n)
    if tuple(LU_pivots._data.shape) != tuple(d.shape[:-2]) + (k,):
        raise RuntimeError(f"torch.lu_unpack: LU_pivots of shape {tuple(LU_pivots.shape)} do "
                           f"not match LU_data of shape {tuple(d.shape)}")
    xp = xp_of(d)
    empty = _wrap(xp.zeros(0, dtype=d.dtype))
    L = U = P = empty
    if unpack_data:
        L = tril(LU_data, -1)[..., :k] + eye(m, k, dtype=d.dtype, device=LU_data.device)
        U = triu(LU_data)[..., :k, :]
    if unpack_pivots:
        piv = _host(LU_pivots).reshape(-1, k).astype(np.int64) - 1
        perm = np.tile(np.arange(m), (piv.shape[0], 1))
        for b in np.arange(piv.shape[0]):
            for i in np.arange(k):  # LAPACK's swaps, applied in order
                j = piv[b, i]
                perm[b, i], perm[b, j] = perm[b, j], perm[b, i]
        mats = np.zeros((piv.shape[0], m, m), dtype=d.dtype)
        mats[np.arange(piv.shape[0])[:, None], perm, np.arange(m)[None, :]] = 1
        P = _wrap(xp.asarray(mats.reshape(tuple(d.shape[:-2]) + (m, m))))
    return P, L, U


def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of singular values of the matrices in the last two dims (or the two ``dim``);
    ``nuclear_norm(A, True)`` means keepdim, as torch's overload. torch keeps this name for
    old code (and warns); ``linalg.matrix_norm(A, 'nuc')`` is the same.

    >>> fastdl.nuclear_norm(fastdl.tensor([[3.0, 0.0], [0.0, -4.0]])).item()
    7.0
    """
    from fastdl.linalg import matrix_norm
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    return matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else tuple(dim),
                       keepdim=keepdim)


def frobenius_norm(input, dim, keepdim=False):
    """The square root of the sum of squares over ``dim`` (at most two dims; () means all).
    torch keeps this name for old code (and warns); ``linalg.vector_norm(A, 2, dim)`` is the
    same.

    >>> fastdl.frobenius_norm(fastdl.tensor([[3.0, 4.0]]), (0, 1)).item()
    5.0
    """
    from fastdl.linalg import vector_norm
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions "
                           f"instead.")
    return vector_norm(input, 2, dim=dims or None, keepdim=keepdim)


def ormqr(input, tau, other, left=True, transpose=False):
    """``op(Q) @ other`` (``left``) or ``other @ op(Q)``, op the transpose when ``transpose``,
    for Q = H_1 ... H_k given by geqrf's (input, tau), without forming Q: each reflector is
    applied as a rank-1 update. Differentiable in all three tensors.

    Shape: input (*, mn, k) with mn = other's rows (left) or columns (right), tau (*, k'),
    k' <= k, other (*, m, n) -> (*, m, n).

    >>> A = fastdl.tensor([[3.0, 1.0], [4.0, 2.0]])
    >>> a, tau = fastdl.geqrf(A)
    >>> R = fastdl.triu(a)
    >>> fastdl.allclose(fastdl.ormqr(a, tau, R), A, atol=1e-6)
    True
    """
    from fastdl.linalg.householder import apply_reflectors
    for position, t in enumerate((input, tau, other), 1):  # torch's schema names: input{n}
        check_tensor_arg(t, "ormqr", "input" if position == 1 else f"input{position}",
                         position)
    if input.ndim < 2 or other.ndim < 2:
        raise RuntimeError("torch.ormqr: input and other must have at least 2 dimensions")
    mn, k = input.shape[-2], tau.shape[-1] if tau.ndim else 0
    side = other.shape[-2] if left else other.shape[-1]
    if mn != side:
        raise RuntimeError(f"torch.ormqr: input.shape[-2] ({mn}) must equal other.shape"
                           f"[{-2 if left else -1}] ({side})")
    if k > input.shape[-1] or k > mn:
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] ({k}) must be at most "
                           f"min(input.shape[-2], input.shape[-1]) = "
                           f"{min(mn, input.shape[-1])}")
    if k == 0:  # no reflectors (a 0-d or empty tau): Q = I
        return other
    return apply_reflectors(input, tau, other, left, transpose)


# geqrf is fastdl.linalg.geqrf (torch's namedtuple), exported with the linalg top-level names
__all__ = ["binomial", "frobenius_norm", "histogramdd", "lu_unpack", "nuclear_norm", "ormqr"]
