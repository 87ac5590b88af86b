"""torch's shape checks for ``linear`` and ``bilinear``, in torch's words (RuntimeErrors from
the ATen kernels linear routes to: addmm, mm, the bias's expand or in-place add)."""
from __future__ import annotations

import math

import numpy as np


def _dims(shape):
    return "[" + ", ".join(str(n) for n in shape) + "]"


def linear_fuses_bias(input, bias) -> bool:
    """Whether torch's linear runs one addmm (the input flattened to 2-D, the bias expanded to
    the result): for a 2-D input, or a contiguous one with an effectively 1-D bias."""
    if bias is None:
        return False
    if input._data.ndim == 2:
        return True
    b = bias._data
    squeezed = [n for n in b.shape if n != 1]
    return (b.ndim == 1 or len(squeezed) == 1) and bias.is_contiguous() and input.is_contiguous()


def _check_expand(bias_shape, target, type_name):
    if len(bias_shape) > len(target):
        raise RuntimeError(f"expand(torch.{type_name}{{{_dims(bias_shape)}}}, size="
                           f"{_dims(target)}): the number of sizes provided ({len(target)}) "
                           f"must be greater or equal to the number of dimensions in the tensor "
                           f"({len(bias_shape)})")
    for i in range(1, len(bias_shape) + 1):
        n, t = bias_shape[-i], target[-i]
        if n != t and n != 1:
            raise RuntimeError(f"The expanded size of the tensor ({t}) must match the existing "
                               f"size ({n}) at non-singleton dimension {len(target) - i}.  "
                               f"Target sizes: {_dims(target)}.  Tensor sizes: "
                               f"{_dims(bias_shape)}")


def _check_broadcast(a, b):
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {i}")
    return tuple(max(x, y) for x, y in zip(a, b))


def _check_add_into(out_shape, bias_shape):
    """``out.add_(bias)``'s checks: the shapes broadcast, to out's shape."""
    full = _check_broadcast(out_shape, bias_shape)
    if full != tuple(out_shape):
        raise RuntimeError(f"output with shape {_dims(out_shape)} doesn't match the broadcast "
                           f"shape {_dims(full)}")


def check_linear(input, weight, bias, type_name):
    """Raise torch's RuntimeError for arguments linear cannot take. ``type_name`` is the bias's
    legacy type name (FloatTensor ...), which the expand message prints."""
    x, w = input._data, weight._data
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{x.ndim}D and {w.ndim}D")
    if w.ndim > 2:  # weight.t() comes first on every path
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D")
    fused = linear_fuses_bias(input, bias)
    rows = math.prod(x.shape[:-1])
    if w.ndim == 1:
        if fused:
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        if x.shape[-1] != w.shape[0]:
            if x.ndim == 1:
                raise RuntimeError(f"inconsistent tensor size, expected tensor [{x.shape[0]}] "
                                   f"and src [{w.shape[0]}] to have the same number of "
                                   f"elements, but got {x.shape[0]} and {w.shape[0]} elements "
                                   f"respectively")
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{x.shape[-1]}), "
                               f"vec ({w.shape[0]})")
        out_shape = x.shape[:-1]
    else:
        if x.shape[-1] != w.shape[1]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} "
                               f"and {w.shape[1]}x{w.shape[0]})")
        out_shape = x.shape[:-1] + (w.shape[0],)
    if bias is None:
        return
    if fused:
        _check_expand(bias._data.shape, (rows, w.shape[0]), type_name)
    else:
        _check_add_into(out_shape, bias._data.shape)


def _size(shape, dim):
    """``tensor.size(dim)``, with its IndexErrors."""
    n = len(shape)
    if n == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return shape[dim]


def check_bilinear(s1, s2, w_shape, bias_shape):
    """torch's bilinear checks, in its order (shapes as tuples; bias_shape None without)."""
    if len(s1) != len(s2):
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {len(s1)} and "
                           f"{len(s2)}")
    for i in range(len(s1) - 1):
        if s1[i] != s2[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: "
                               f"got {s1[i]} and {s2[i]}")
    for name, s, dim in (("input1", s1, 1), ("input2", s2, 2)):
        got, want = _size(s, -1), _size(w_shape, dim)
        if got != want:
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got {got} "
                               f"but expected {want}")
    if bias_shape is not None and _size(bias_shape, 0) != w_shape[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias_shape[0]} but expected {w_shape[0]}")
    if len(w_shape) != 3:  # _trilinear's own check
        raise RuntimeError("number of dimensions must match")
    if bias_shape is not None:
        _check_broadcast(s1[:-1] + (w_shape[0],), bias_shape)
