"""Plumbing shared by the differentiable ops: torch's type promotion, and reducing a broadcast
gradient back to an input's shape (``sum_to`` and ``expand``, each other's backward)."""
from __future__ import annotations

import numpy as np

from fastdl.autograd.op import defop
from fastdl.tensor import Tensor, _norm_dim, _wrap, float32, int64

__all__ = ["Tensor", "promote_pair", "as_tensor_arg", "grad_for", "sum_to", "expand",
           "zeros_like", "norm_dim", "norm_dims", "_wrap", "xp_of", "promote"]

norm_dim = _norm_dim


def xp_of(data):
    """numpy or cupy for an array (creation functions need the module; ufuncs dispatch alone)."""
    if type(data) is np.ndarray:
        return np
    from fastdl import backend
    return backend.array_module(data)


def zeros_like(t: Tensor) -> Tensor:
    """A zero tensor like ``t`` (a constant: the gradient of a piecewise-constant op)."""
    d = t._data
    return _wrap(xp_of(d).zeros(d.shape, dtype=d.dtype))


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


_TORCH_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                      "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                      "int8": "Char", "uint8": "Byte", "bool": "Bool"}


# The C++ element type names ATen prints in some checks (c10::toString of the scalar's type).
_CPP_DTYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
                    "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
                    "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
                    "bool": "bool"}


def cpp_dtype_name(dtype) -> str:
    """The C++ type name ATen's messages give a dtype ('float', 'long int' ...); numpy's name
    where torch has none."""
    dtype = np.dtype(dtype)
    return _CPP_DTYPE_NAMES.get(dtype.name, dtype.name)


def torch_dtype_name(dtype) -> str:
    """torch's scalar-type name for a dtype ('Float', 'Long' ...), as its error messages say
    it; numpy's name where torch has none."""
    dtype = np.dtype(dtype)
    return _TORCH_DTYPE_NAMES.get(dtype.name, dtype.name)


def check_addmm_dtypes(input, mat1, mat2):
    """torch's dtype rule for addmm/addbmm: no promotion, self then mat1 against mat2."""
    for label, t in (("self", input), ("mat1", mat1)):
        if t._data.dtype != mat2._data.dtype:
            raise RuntimeError(f"{label} and mat2 must have the same dtype, but got "
                               f"{torch_dtype_name(t._data.dtype)} and "
                               f"{torch_dtype_name(mat2._data.dtype)}")


def _category(dt) -> int:
    k = dt.kind
    return 0 if k == "b" else (2 if k == "f" else 1)


def promote_dtypes(a, b):
    """torch's result dtype of two operands of equal standing (both dimensioned, or both 0-d):
    the higher category (bool < int < float) wins outright, numpy's promotion within one."""
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def promote(xd, yd):
    """torch's result dtype: the higher category (bool < int < float) wins; within a category,
    dimensioned tensors outrank 0-d ones."""
    if _category(xd.dtype) == _category(yd.dtype) and (xd.ndim == 0) != (yd.ndim == 0):
        return yd.dtype if xd.ndim == 0 else xd.dtype
    return promote_dtypes(xd.dtype, yd.dtype)


def promote_pair(x, y):
    """``(x, y)`` as two Tensors of torch's result dtype (a Python scalar becomes a constant;
    a cast is the differentiable ``to``, so gradients flow back in the input's dtype)."""
    if not isinstance(x, Tensor):
        x = _weak_const(x, y._data.dtype) if isinstance(y, Tensor) else _const(x)
    if not isinstance(y, Tensor):
        y = _weak_const(y, x._data.dtype)
    xd, yd = x._data, y._data
    if xd.dtype != yd.dtype:
        dt = promote(xd, yd)
        if xd.dtype != dt:
            x = x.to(dt)
        if yd.dtype != dt:
            y = y.to(dt)
    return x, y


def _weak_const(v, dtype):
    """A Python scalar on the left of a tensor: like torch, it takes the tensor's dtype unless it
    is of a higher category (a float next to an integer tensor gives float32)."""
    t = type(v)
    if t is bool or t is int or t is float:
        if (0 if t is bool else 1 if t is int else 2) <= _category(dtype):
            return _wrap(np.array(v).astype(dtype))
    return _const(v)


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


def _sum_to_forward(d, shape):
    xs = d.shape
    lead = len(xs) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and xs[i + lead] != 1)
    out = d.sum(axis=axes, keepdims=True) if axes else d
    return out.reshape(shape) if lead else out


def _broadcast_forward(d, shape):
    try:
        return xp_of(d).broadcast_to(d, shape)
    except ValueError:
        raise RuntimeError(f"expand: the shape {tuple(d.shape)} cannot be expanded to "
                           f"{shape}") from None


sum_to_op = defop("sum_to", forward=_sum_to_forward,
                  backward=lambda ctx, g: (expand(g, ctx.inputs[0]._data.shape),))
expand_op = defop("expand", forward=_broadcast_forward, view=True,
                  backward=lambda ctx, g: (sum_to(g, ctx.inputs[0]._data.shape),))


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient down to ``shape`` (differentiable; its backward is ``expand``)."""
    shape = tuple(shape)
    return x if x._data.shape == shape else sum_to_op.apply((x,), shape)


def expand(x: Tensor, shape) -> Tensor:
    """Broadcast view of ``x`` to ``shape`` (differentiable; its backward is ``sum_to``)."""
    shape = tuple(shape)
    return x if x._data.shape == shape else expand_op.apply((x,), shape)


def grad_for(g: Tensor, t: Tensor) -> Tensor:
    """The gradient ``g`` of a broadcast result, reduced to ``t``'s shape and cast to its dtype."""
    d = t._data
    if g._data.shape != d.shape:
        g = sum_to(g, d.shape)
    if g._data.dtype != d.dtype:
        g = g.to(d.dtype)
    return g
