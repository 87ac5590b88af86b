"""Distances and similarities between vectors (torch.nn.functional names and formulas)."""
from __future__ import annotations

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional import shape as S
from fastdl.functional.composites_shapes import cdist
from fastdl.nn.functional._checks import check_dim, check_tensor


def _broadcast_pair(x1, x2):
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    return S.expand(x1, *shape), S.expand(x2, *shape)


def _unit_along(x, dim, eps):
    """x / max(||x||, eps): the clamp changes the value only; the gradient is that of
    x / ||x|| (torch clamps the norm in place under no_grad)."""
    norm = R.norm(x, 2, dim, keepdim=True)
    clamp_shift = (A.clamp(norm.detach(), min=eps) - norm.detach()).detach()
    return x / (norm + clamp_shift)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """<x1, x2> / (max(||x1||, eps) * max(||x2||, eps)) along ``dim``, each vector normalized
    first (torch's order, which keeps the result in [-1, 1]); x1 and x2 broadcast.

    Shape: x1 and x2 broadcast together; output that shape without ``dim``.

    >>> fastdl.cosine_similarity(fastdl.tensor([[1.0, 0.0]]), fastdl.tensor([[2.0, 2.0]])).tolist()
    [0.7071067690849304]
    """
    check_tensor(x1, "cosine_similarity", "x1")
    check_tensor(x2, "cosine_similarity", "x2")
    if x1._data.dtype.kind != "f" and x2._data.dtype.kind != "f":
        raise RuntimeError(f"cosine_similarity(): expected common dtype to be floating point, "
                           f"yet common dtype is {x1._data.dtype}")
    a, b = _broadcast_pair(x1, x2)
    dim = check_dim(dim, a.ndim, "cosine_similarity")
    return R.sum(_unit_along(a, dim, eps) * _unit_along(b, dim, eps), dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """||x1 - x2 + eps||_p over the last dim (torch adds eps to the difference).

    Shape: x1 and x2 broadcast to (*, D); output (*) (or (*, 1) with keepdim).

    >>> fastdl.pairwise_distance(fastdl.zeros(2, 2), fastdl.tensor([[3.0, 4.0]]), eps=0.0).tolist()
    [5.0, 5.0]
    """
    check_tensor(x1, "pairwise_distance", "x1")
    check_tensor(x2, "pairwise_distance", "x2")
    diff = x1 - x2 + eps
    if diff.ndim == 0:  # torch takes dim -1 of a 0-d tensor as its one element
        return R.norm(diff.reshape(1), p, 0, keepdim=False).reshape(())
    return R.norm(diff, p, -1, keepdim)


def pdist(input, p: float = 2.0):
    """The p-norm distance between every pair of rows i < j of an (N, M) input, in row-major
    order of the pairs: an (N (N - 1) / 2,) tensor (cdist's distances, so its gradients).

    Shape: input (N, M); output (N (N - 1) / 2,).

    >>> fastdl.pdist(fastdl.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])).tolist()
    [5.0, 1.0, 4.242640495300293]
    """
    check_tensor(input, "pdist")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"pdist only supports floating-point dtypes, got {input._data.dtype}")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    rows, cols = np.triu_indices(input.shape[0], 1)
    if rows.size == 0:  # fewer than two rows: no pairs (still connected to input's graph)
        return input.sum(1)[:0]
    # a batch of 1 x 1 distance matrices, one per pair
    return cdist(input[rows].unsqueeze(-2), input[cols].unsqueeze(-2), p).reshape(-1)
