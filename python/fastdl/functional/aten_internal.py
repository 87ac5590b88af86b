"""ATen-internal names that torch's decompositions and compilers emit, with their eager
semantics: ``_unsafe_masked_index`` / ``_unsafe_masked_index_put_accumulate``, ``aten.slice``,
``max_pool2d_with_indices_backward``, ``native_dropout_backward`` and ``hash_tensor``. Each is
composed of fastdl's registered ops, so gradients (and their gradients) follow.

``slice`` is reachable as ``fastdl.slice`` but stays out of ``__all__``: a star import would
shadow Python's builtin (torch has it only as ``torch.ops.aten.slice``).
"""
from __future__ import annotations

import operator

import numpy as np

from fastdl._argcheck import check_tensor_arg
from fastdl.functional.toplevel_utils import _slice

__all__ = ["_unsafe_masked_index", "_unsafe_masked_index_put_accumulate", "hash_tensor",
           "max_pool2d_with_indices_backward", "native_dropout_backward"]


def _clamped_indices(indices, shape, fn):
    """torch's clamp of each index into [-size, size - 1] of its dim: an index the mask
    rejects may lie anywhere, and must still be readable."""
    from fastdl.functional.arithmetic import clamp
    from fastdl.tensor import Tensor
    indices = list(indices)
    if len(indices) > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)} "
                         f"(got {len(indices)})")
    out = []
    for n, (index, size) in enumerate(zip(indices, shape)):
        if not isinstance(index, Tensor):
            raise TypeError(f"expected Tensor as element {n} in argument 2, but got "
                            f"{type(index).__name__}")
        if np.dtype(index.dtype) not in (np.dtype(np.int64), np.dtype(np.int32)):
            raise RuntimeError(f"{fn} found unexpected index type {index.dtype}")
        out.append(clamp(index, -size, size - 1))
    return tuple(out)


def _unsafe_masked_index(input, mask, indices, fill):
    """``where(mask, input[indices], fill)`` where an index the mask rejects may be out of
    range (indices are clamped into their dims first, as in torch's eager version).

    >>> x = fastdl.tensor([10.0, 20.0, 30.0])
    >>> fastdl._unsafe_masked_index(x, fastdl.tensor([True, False]), [fastdl.tensor([2, 7])],
    ...                             -1.0).tolist()
    [30.0, -1.0]
    """
    from fastdl.creation import full
    from fastdl.functional.arithmetic import logical_not
    check_tensor_arg(input, "_unsafe_masked_index")
    check_tensor_arg(mask, "_unsafe_masked_index")
    key = _clamped_indices(indices, tuple(input.shape), "_unsafe_masked_index")
    if input.numel() == 0:
        # every element is the fill: torch indexes a stand-in whose indexed dims keep their
        # size (1 where empty) and whose unindexed trailing dims are empty
        sizes = [max(s, 1) for s in input.shape[:len(key)]] + [0] * (input.ndim - len(key))
        return full(sizes, fill, dtype=input.dtype)[key]
    return input[key].masked_fill(logical_not(mask), fill)


def _unsafe_masked_index_put_accumulate(input, mask, indices, values):
    """``index_put(input, indices, values.masked_fill(~mask, 0), accumulate=True)`` with the
    indices clamped into their dims (the backward of ``_unsafe_masked_index``).

    >>> fastdl._unsafe_masked_index_put_accumulate(
    ...     fastdl.zeros(3), fastdl.tensor([True, True, False]),
    ...     [fastdl.tensor([0, 0, 9])], fastdl.tensor([1.0, 2.0, 5.0])).tolist()
    [3.0, 0.0, 0.0]
    """
    from fastdl.functional.index_more import index_put
    from fastdl.functional.arithmetic import logical_not
    check_tensor_arg(input, "_unsafe_masked_index_put_accumulate")
    check_tensor_arg(values, "_unsafe_masked_index_put_accumulate")
    if input.numel() == 0:
        return input.clone()
    key = _clamped_indices(indices, tuple(input.shape), "_unsafe_masked_index")
    return index_put(input, key, values.masked_fill(logical_not(mask), 0), accumulate=True)


def aten_slice(input, dim=0, start=None, end=None, step=1):
    """``torch.ops.aten.slice``: the view ``input[..., start:end:step, ...]`` along ``dim``
    (``fastdl.slice``).

    >>> fastdl.slice(fastdl.arange(6.0).view(2, 3), 1, 1, None, 1).tolist()
    [[1.0, 2.0], [4.0, 5.0]]
    """
    check_tensor_arg(input, "slice")
    if input.ndim == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    return _slice(input, dim, start, end, step)


def native_dropout_backward(grad_output, mask, scale):
    """The input gradient of ``native_dropout``: ``grad_output * mask * scale`` (an integer or
    bool grad_output gives the default float dtype, as in torch).

    >>> fastdl.native_dropout_backward(fastdl.tensor([1.0, 2.0]), fastdl.tensor([True, False]),
    ...                                2.0).tolist()
    [2.0, 0.0]
    """
    check_tensor_arg(grad_output, "native_dropout_backward")
    check_tensor_arg(mask, "native_dropout_backward")
    return grad_output * mask * float(scale)


def max_pool2d_with_indices_backward(grad_output, input, kernel_size, stride, padding,
                                     dilation, ceil_mode, indices):
    """The input gradient of ``max_pool2d``: ``grad_output`` added at the argmax ``indices``
    into zeros of ``input``'s shape. Differentiable in grad_output; input's gradient is zero
    (as torch's), and a NaN or inf in input does not reach the result.

    >>> x = fastdl.tensor([[[[1.0, 3.0], [2.0, 0.0]]]])
    >>> out, idx = fastdl.nn.functional.max_pool2d_with_indices(x, 2)
    >>> fastdl.max_pool2d_with_indices_backward(fastdl.ones(1, 1, 1, 1), x, 2, 2, 0, 1,
    ...                                         False, idx).tolist()
    [[[[0.0, 1.0], [0.0, 0.0]]]]
    """
    from fastdl.autograd.grad_mode import grad_wanted
    from fastdl.functional.arithmetic import where
    from fastdl.nn.functional import pooling as P
    fn = "max_pool2d_with_indices_backward"
    check_tensor_arg(grad_output, fn)
    check_tensor_arg(indices, fn)
    kernel, stride, padding, dilation = P._window_args(fn, 2, kernel_size, stride, padding,
                                                       dilation)
    x, unbatched = P._check_input(input, 2, fn)
    in_size = tuple(x.shape[2:])
    out_size = P._out_sizes(fn, in_size, kernel, stride, padding, dilation, ceil_mode)
    expected = tuple(input.shape[:-2]) + out_size
    for name, t in (("grad_output", grad_output), ("indices", indices)):
        if tuple(t.shape) != expected:
            raise RuntimeError(f"{fn}(): expected {name} of shape {expected} (the pooled size "
                               f"of input {tuple(input.shape)}), got {tuple(t.shape)}")
    if grad_output.dtype != input.dtype:
        raise RuntimeError(f"{fn}(): expected grad_output of input's dtype {input.dtype}, got "
                           f"{grad_output.dtype}")
    if np.dtype(indices.dtype) != np.dtype(np.int64):
        raise RuntimeError(f"{fn}(): expected int64 indices, got {indices.dtype}")
    g = grad_output.unsqueeze(0) if unbatched else grad_output
    index = indices._data[None] if unbatched else indices._data
    dilated = any(d > 1 for d in dilation)
    grad_input = P._unbatch(P.pool_scatter_op.apply((g,), index, in_size, dilated), unbatched)
    if grad_wanted(input):
        # connects input to the result with torch's zero gradient, never reading its values
        grad_input = where(input.new_ones((), dtype=bool), grad_input, input)
    return grad_input


def _hash_dims(input, dim):
    from fastdl.tensor import _norm_dim
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(input.ndim))
    dims = [dim] if not isinstance(dim, (tuple, list)) else list(dim)
    normed = [_norm_dim(operator.index(d), input.ndim) for d in dims]
    for d in normed:
        if normed.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return tuple(normed)


def hash_tensor(input, dim=None, keepdim=False, *, mode=0):
    """torch's xor hash (mode 0): every element upcast to its 64-bit float/integer type,
    reinterpreted as uint64, xor-reduced over ``dim`` (all dims by default). uint64 result;
    no gradient.

    >>> fastdl.hash_tensor(fastdl.tensor([1, -2, 3])).item()
    18446744073709551612
    """
    from fastdl.functional._core import xp_of
    from fastdl.tensor import _wrap
    check_tensor_arg(input, "hash_tensor")
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    data = input._data
    if dim is None and data.size == 0:
        raise RuntimeError("hash_tensor: Expected reduction dim to be specified for "
                           "input.numel() == 0. Specify the reduction dim with the 'dim' "
                           "argument.")
    dims = _hash_dims(input, dim)
    if data.ndim == 0:  # (its one element: dim 0 or -1 was accepted above)
        dims = ()
    for d in dims:
        if data.shape[d] == 0:
            raise IndexError(f"hash_tensor: Expected reduction dim {d} to have non-zero size.")
    kind = data.dtype.kind
    if kind == "u" and data.dtype.itemsize > 1:  # torch's xor kernel has no uint16/32/64
        raise NotImplementedError(f'"xor_sum_cpu" not implemented for {data.dtype}')
    wide = np.float64 if kind == "f" else np.uint64 if kind in "bu" else np.int64
    bits = np.asarray(data.get() if hasattr(data, "get") else data).astype(wide).view(np.uint64)
    if bits.ndim == 0:
        out = bits.copy()
    else:
        out = np.bitwise_xor.reduce(bits, axis=dims, keepdims=keepdim)
    return _wrap(xp_of(data).asarray(np.asarray(out, dtype=np.uint64)))
