"""More ATen-level names torch exposes at top level: ``_softmax_backward_data``,
``_safe_softmax``, ``grid_sampler_2d`` / ``grid_sampler_3d``, ``as_strided_scatter`` and
``_chunk_cat``, each composed of fastdl's differentiable ops."""
from __future__ import annotations

import math

import numpy as np

from fastdl._argcheck import check_tensor_arg

__all__ = ["_chunk_cat", "_safe_softmax", "_softmax_backward_data", "as_strided_scatter",
           "grid_sampler_2d", "grid_sampler_3d"]

_GRID_MODES = ("bilinear", "nearest", "bicubic")
_GRID_PADDINGS = ("zeros", "border", "reflection")


def _softmax_backward_data(grad_output, output, dim, input_dtype):
    """The input gradient of ``softmax(x, dim)`` given its ``output`` and ``grad_output``:
    ``output * (grad_output - sum(grad_output * output, dim))``, in ``input_dtype``.

    >>> y = fastdl.tensor([0.5, 0.5])
    >>> fastdl._softmax_backward_data(fastdl.tensor([1.0, 0.0]), y, 0, fastdl.float32).tolist()
    [0.25, -0.25]
    """
    check_tensor_arg(grad_output, "_softmax_backward_data")
    check_tensor_arg(output, "_softmax_backward_data")
    inner = (grad_output * output).sum(dim, keepdim=True)
    return (output * (grad_output - inner)).to(input_dtype)


def _safe_softmax(input, dim, dtype=None):
    """``softmax(input, dim, dtype)`` with 0 (not NaN) along every slice whose elements are all
    -inf -- what attention with a fully masked row needs; such slices get a 0 gradient.

    >>> x = fastdl.tensor([[0.0, 0.0], [float("-inf"), float("-inf")]])
    >>> fastdl._safe_softmax(x, 1).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """
    from fastdl.functional import softmax, where
    check_tensor_arg(input, "_safe_softmax")
    masked = (input == -math.inf).all(dim, keepdim=True)
    # the softmax of such a slice is NaN, and NaN * 0 would reach the gradient through where:
    # those slices go in as zeros instead
    out = softmax(where(masked, 0.0, input), dim, dtype=dtype)
    return where(masked, 0.0, out)


def _grid_sampler(name, dims, input, grid, interpolation_mode, padding_mode, align_corners):
    from fastdl.nn.functional.grid_sample import grid_sample
    if check_tensor_arg(input, name).ndim != dims + 2:
        raise RuntimeError(f"{name}(): expected {dims + 2}-D input, got shape "
                           f"{tuple(input.shape)}")
    if interpolation_mode not in range(3) or padding_mode not in range(3):
        raise ValueError(f"{name}(): interpolation_mode and padding_mode are 0, 1 or 2, got "
                         f"{interpolation_mode} and {padding_mode}")
    return grid_sample(input, grid, _GRID_MODES[interpolation_mode],
                       _GRID_PADDINGS[padding_mode], bool(align_corners))


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    """``nn.functional.grid_sample`` of a 4-D input under its ATen signature: integer modes,
    interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros, 1 border, 2 reflection.

    >>> x = fastdl.arange(4.0).reshape(1, 1, 2, 2)
    >>> fastdl.grid_sampler_2d(x, fastdl.zeros(1, 1, 1, 2), 0, 0, False).item()
    1.5
    """
    return _grid_sampler("grid_sampler_2d", 2, input, grid, interpolation_mode, padding_mode,
                         align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    """``grid_sampler_2d`` for a 5-D input and (N, D, H, W, 3) grid (bilinear means
    trilinear; bicubic is 2-D only, as in torch).

    >>> x = fastdl.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> fastdl.grid_sampler_3d(x, fastdl.zeros(1, 1, 1, 1, 3), 0, 0, True).item()
    3.5
    """
    return _grid_sampler("grid_sampler_3d", 3, input, grid, interpolation_mode, padding_mode,
                         align_corners)


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A copy of ``input`` (read as its contiguous storage) with ``src`` written into the
    ``as_strided(size, stride, storage_offset)`` view; differentiable in both.

    >>> fastdl.as_strided_scatter(fastdl.zeros(2, 2), fastdl.ones(2), (2,), (3,)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    from fastdl.creation import zeros_like
    check_tensor_arg(input, "as_strided_scatter")
    check_tensor_arg(src, "as_strided_scatter")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = int(storage_offset or 0)
    if tuple(src.shape) != size:
        raise RuntimeError(f"as_strided_scatter: expected src to have a size equal to the slice "
                           f"of self. src size = {list(src.shape)}, slice size = {list(size)}")
    index = np.full(size, offset, dtype=np.int64)
    for k, (n, s) in enumerate(zip(size, stride)):
        index = index + (np.arange(n) * s).reshape((n,) + (1,) * (len(size) - k - 1))
    numel = math.prod(input.shape)
    if index.size and (index.min() < 0 or index.max() >= numel):
        itemsize = np.dtype(input.dtype).itemsize
        need = (offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1) * itemsize
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {itemsize} requiring a storage size "
                           f"of {need} are out of bounds for storage of size {numel * itemsize}")
    from fastdl.tensor import Tensor
    flat_index = Tensor(index.reshape(-1))
    flat = input.reshape(-1)
    # the written places lose input's value (and gradient), then take src's
    keep = zeros_like(flat).index_fill(0, flat_index, 1.0) == 0
    written = zeros_like(flat).index_put((flat_index,), src.reshape(-1))
    return (flat * keep + written).reshape(input.shape)


def _chunk_cat(tensors, dim, num_chunks):
    """Each tensor split into ``num_chunks`` chunks along ``dim`` (zero-padded to equal
    sizes), every chunk flattened from ``dim`` on, and the i-th chunks concatenated: shape
    ``(*tensors[0].shape[:dim], num_chunks, total)``.

    >>> fastdl._chunk_cat([fastdl.arange(3.0), fastdl.ones(2)], 0, 2).tolist()
    [[0.0, 1.0, 1.0], [2.0, 0.0, 1.0]]
    """
    from fastdl.functional.shape import cat
    from fastdl.nn.functional.padding import pad
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("_chunk_cat expects a non-empty input tensor list")
    if num_chunks < 1:
        raise RuntimeError(f"_chunk_cat expects positive num_chunks, got {num_chunks}")
    ndims = {t.ndim for t in tensors}
    if dim < 0:
        if len(ndims) > 1:
            raise RuntimeError("_chunk_cat expects non-negative dim when input tensors have "
                               "different ndims")
        dim += tensors[0].ndim
    lead = tuple(tensors[0].shape[:dim])
    pieces = []
    for t in tensors:
        check_tensor_arg(t, "_chunk_cat")
        if not 0 <= dim < t.ndim or tuple(t.shape[:dim]) != lead or t.numel() == 0:
            raise RuntimeError(f"_chunk_cat expects non-empty tensors of at least {dim + 1} "
                               f"dims agreeing on the sizes before dim {dim}, got "
                               f"{[tuple(x.shape) for x in tensors]}")
        size = t.shape[dim]
        padded = -(-size // num_chunks) * num_chunks
        if padded != size:
            t = pad(t, (0, 0) * (t.ndim - dim - 1) + (0, padded - size))
        pieces.append(t.reshape(lead + (num_chunks, -1)))
    return cat(pieces, dim + 1)
