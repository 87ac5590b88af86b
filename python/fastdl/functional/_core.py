"""Plumbing shared by the differentiable ops: recording a graph node, torch's type promotion,
and reducing a broadcast gradient back to an input's shape."""
from __future__ import annotations

import numpy as np

from fastdl.autograd import grad_mode as _gm
from fastdl.autograd.engine import Node
from fastdl.tensor import Tensor, _norm_dim, _wrap, float32, int64

__all__ = ["Tensor", "Node", "record", "needs_grad", "operands", "as_tensor_arg", "grad_for",
           "sum_to", "expand", "saved_output", "float_data", "norm_dim", "norm_dims", "_wrap",
           "_gm", "xp_of"]

norm_dim = _norm_dim


def record(data, backward, inputs) -> Tensor:
    """Wrap an op's result; attach a graph node if grad mode is on and an input requires grad."""
    out = _wrap(data)
    if _gm.enabled:
        for t in inputs:
            if t._requires_grad:
                out._requires_grad = True
                out._grad_fn = Node(backward, inputs)
                break
    return out


def needs_grad(*tensors) -> bool:
    if not _gm.enabled:
        return False
    for t in tensors:
        if t is not None and t._requires_grad:
            return True
    return False


def xp_of(data):
    """numpy or cupy for an array (creation functions need the module; ufuncs dispatch alone)."""
    if type(data) is np.ndarray:
        return np
    from fastdl import backend
    return backend.array_module(data)


def _const(x) -> Tensor:
    """A non-Tensor operand as a constant tensor; Python scalars get torch's default dtypes."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, bool):
        return _wrap(np.asarray(x))
    if isinstance(x, int):
        return _wrap(np.asarray(x, dtype=int64))
    if isinstance(x, float):
        return _wrap(np.asarray(x, dtype=float32))
    if isinstance(x, np.ndarray) or type(x).__module__.split(".")[0] == "cupy":
        return _wrap(x)
    if isinstance(x, np.generic):
        return _wrap(np.asarray(x))
    raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}")


as_tensor_arg = _const


def _category(dt) -> int:
    k = dt.kind
    return 0 if k == "b" else (2 if k == "f" else 1)


def promote(xd, yd):
    """torch's result dtype: the higher category (bool < int < float) wins; within a category,
    dimensioned tensors outrank 0-d ones."""
    cx, cy = _category(xd.dtype), _category(yd.dtype)
    if cx != cy:
        return xd.dtype if cx > cy else yd.dtype
    if xd.ndim == 0 and yd.ndim > 0:
        return yd.dtype
    if yd.ndim == 0 and xd.ndim > 0:
        return xd.dtype
    return np.promote_types(xd.dtype, yd.dtype)


def operands(x, y):
    """(x_tensor, y_tensor_or_None, x_array, y_array_or_scalar) cast to the result dtype.

    A Python scalar ``y`` stays a scalar (numpy keeps the array's dtype for it), except that a
    float scalar with an integer/bool tensor gives float32, as in torch.
    """
    if not isinstance(x, Tensor):
        x = _weak_const(x, y._data.dtype) if isinstance(y, Tensor) else _const(x)
    xd = x._data
    if isinstance(y, Tensor):
        yd = y._data
        if xd.dtype != yd.dtype:
            dt = promote(xd, yd)
            xd = xd.astype(dt, copy=False)
            yd = yd.astype(dt, copy=False)
        return x, y, xd, yd
    ty = type(y)
    if ty is float or ty is int or ty is bool:
        k = xd.dtype.kind
        if ty is float and k != "f":
            xd = xd.astype(float32)
        elif ty is int and k == "b":
            xd = xd.astype(int64)
        return x, None, xd, y
    return operands(x, _const(y))


def _weak_const(v, dtype):
    """A Python scalar on the left of a tensor: like torch, it takes the tensor's dtype unless it
    is of a higher category (a float next to an integer tensor gives float32)."""
    t = type(v)
    if t is bool or t is int or t is float:
        if (0 if t is bool else 1 if t is int else 2) <= _category(dtype):
            return _wrap(np.array(v).astype(dtype))
    return _const(v)


def float_data(x: Tensor):
    """Data for ops defined on floats only: integer/bool inputs compute in float32 (torch)."""
    d = x._data
    return d if d.dtype.kind == "f" else d.astype(float32)


def norm_dims(dim, ndim):
    """``dim`` (None, int, or sequence) as a sorted tuple of non-negative axes, or None."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        dims = tuple(sorted({_norm_dim(d, ndim) for d in dim}))
        if len(dims) != len(dim):
            raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
        return dims
    return (_norm_dim(dim, ndim),)


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient down to ``shape`` (differentiable; its backward is ``expand``)."""
    shape = tuple(shape)
    xs = x._data.shape
    if xs == shape:
        return x
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and xs[i + lead] != 1)
    data = x._data.sum(axis=axes, keepdims=True) if axes else x._data
    if lead:
        data = data.reshape(shape)

    def sum_to_backward(g):
        return (expand(g, xs),)

    return record(data, sum_to_backward, (x,))


def expand(x: Tensor, shape) -> Tensor:
    """Broadcast view of ``x`` to ``shape`` (differentiable; its backward is ``sum_to``)."""
    shape = tuple(shape)
    xs = x._data.shape
    if xs == shape:
        return x
    try:
        data = np.broadcast_to(x._data, shape)
    except ValueError:
        raise RuntimeError(f"expand: the shape {tuple(xs)} cannot be expanded to {shape}") from None

    def expand_backward(g):
        return (sum_to(g, xs),)

    return record(data, expand_backward, (x,))


def grad_for(g: Tensor, t: Tensor) -> Tensor:
    """The gradient ``g`` of a broadcast result, reduced to ``t``'s shape and cast to its dtype."""
    d = t._data
    if g._data.shape != d.shape:
        g = sum_to(g, d.shape)
    if g._data.dtype != d.dtype:
        g = g.to(d.dtype)
    return g


def saved_output(out_data, recompute):
    """An op's output for use in its backward. With grad mode on (create_graph) the output must
    carry its own graph, so it is recomputed from the inputs: storing the output Tensor itself
    would make a reference cycle output -> node -> closure -> output."""
    if _gm.enabled:
        return recompute()
    return _wrap(out_data)
