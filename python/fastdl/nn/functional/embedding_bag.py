"""``embedding_bag``: sums, means or maxima of bags of embedding rows, without materializing
the (bags, bag size, dim) lookup.

Composed from differentiable ops: the looked-up rows come from ``embedding`` (so ``max_norm``
and ``scale_grad_by_freq`` behave as there), bags are added up with ``index_add`` and the max
picks, per bag and dim, the first row holding the maximum with a ``gather`` of the weight
(torch's choice for ties). Entries equal to ``padding_idx`` are left out of their bag (and of
the mean's count); an empty bag gives zeros. ``scale_grad_by_freq`` divides each row's gradient
by its index's count in the input, as documented (torch 2.13's CPU kernel divides some rows by
another index's count: pytorch/pytorch#190063). With ``include_last_offset`` the last offset
ends the last bag, as documented and as torch's float32 CPU kernel does (its float64 kernel
runs the last bag to the input's end instead).
"""
from __future__ import annotations

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import indexing as I
from fastdl.functional.index_slices import index_add
from fastdl.nn.functional._checks import check_float, check_tensor
from fastdl.nn.functional.sparse import embedding
from fastdl.tensor import _wrap


def _bags(input, offsets, include_last_offset):
    """Flat indices, the bag of each (-1: after the last bag's end) and the number of bags."""
    idx = np.asarray(input._data)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag(): input must hold indices (integers), got dtype "
                        f"{idx.dtype}")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets)}")
        bags, length = idx.shape
        return idx.reshape(-1), np.repeat(np.arange(bags), length), bags
    if idx.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    check_tensor(offsets, "embedding_bag", "offsets")
    starts = np.asarray(offsets._data)
    if starts.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    if starts.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag(): offsets must be integers, got dtype {starts.dtype}")
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(starts[0])}")
    if starts.size and (np.any(np.diff(starts) < 0) or starts[-1] > idx.size):
        raise RuntimeError(f"embedding_bag(): offsets must be non-decreasing and at most the "
                           f"number of indices ({idx.size}), got {starts.tolist()}")
    if include_last_offset:  # the last offset ends the last bag; indices after it are unused
        if starts.size == 0:
            raise RuntimeError("embedding_bag(): include_last_offset needs at least one offset")
        count, end = starts.size - 1, int(starts[-1])
    else:
        count, end = starts.size, idx.size
    bag_of = np.searchsorted(starts[:count], np.arange(idx.size), side="right") - 1
    bag_of[np.arange(idx.size) >= end] = -1
    return idx, bag_of, count


def _first_max_rows(values, bag_of, count, flat_idx):
    """Per bag and dim, the weight row holding the bag's maximum (its first occurrence), and
    which bags are empty."""
    dim = values.shape[1]
    best = np.full((count, dim), -np.inf, dtype=values.dtype)
    np.maximum.at(best, bag_of, values)
    is_best = values == best[bag_of]
    position = np.where(is_best, np.arange(values.shape[0])[:, None], values.shape[0])
    first = np.full((count, dim), values.shape[0], dtype=np.int64)
    np.minimum.at(first, bag_of, position)
    empty = first[:, 0] == values.shape[0]
    if not values.shape[0]:  # every bag empty: (count, dim) zeros, not a broadcast scalar
        return np.zeros((count, dim), dtype=np.int64), empty
    rows = np.where(empty[:, None], 0, flat_idx[np.minimum(first, values.shape[0] - 1)])
    return rows, empty


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights=None, include_last_offset: bool = False,
                  padding_idx=None):
    """Per bag, the sum/mean/max of ``weight``'s rows at its indices. ``input`` is (B, L)
    (B bags of L indices) or 1-D with ``offsets`` giving each bag's start (and, with
    ``include_last_offset``, the end of the last). ``per_sample_weights`` (input's shape,
    mode 'sum') scale each row. Output (bags, embedding_dim)."""
    name = "embedding_bag"
    check_tensor(input, name)
    check_float(weight, name, "weight")
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(input.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}"
                         f") is not None, then it must have the same shape as the input "
                         f"({tuple(input.shape)})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    flat_idx, bag_of, count = _bags(input, offsets, include_last_offset)
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    num_rows = weight.shape[0]
    if padding_idx is not None:
        if not -num_rows <= padding_idx < num_rows:
            raise ValueError(f"embedding_bag(): padding_idx {padding_idx} must be within "
                             f"num_embeddings {num_rows}")
        padding_idx %= num_rows
    rows = embedding(_wrap(flat_idx), weight, max_norm=max_norm, norm_type=norm_type,
                     scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
    kept = bag_of >= 0
    if padding_idx is not None:
        kept &= flat_idx != padding_idx
    positions = np.flatnonzero(kept)
    bag_of = bag_of[positions]
    dtype = weight._data.dtype
    if mode == "max":
        picked, empty = _first_max_rows(rows._data[positions], bag_of, count,
                                        flat_idx[positions])
        out = I.gather(weight, 0, _wrap(picked))
        return A.where(_wrap(empty[:, None]), 0.0, out) if empty.any() else out
    rows = I.index_select(rows, 0, _wrap(positions))
    if per_sample_weights is not None:
        check_float(per_sample_weights, name, "per_sample_weights")
        scale = I.index_select(per_sample_weights.reshape(-1), 0, _wrap(positions))
        rows = rows * scale.unsqueeze(1)
    totals = index_add(_wrap(np.zeros((count, weight.shape[1]), dtype=dtype)), 0,
                         _wrap(bag_of), rows)
    if mode == "sum":
        return totals
    sizes = np.bincount(bag_of, minlength=count).astype(dtype)
    return totals / _wrap(np.maximum(sizes, 1)[:, None])
