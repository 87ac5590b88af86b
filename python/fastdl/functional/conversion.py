"""``Tensor.to``: dtype casts and device moves, differentiable (the gradient goes back)."""
from __future__ import annotations

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional._core import Tensor, _wrap
from fastdl.tensor import (_parse_device, _to_device_array, as_dtype, check_memory_format,
                           preserve_format)


def _parse_to_args(args, dtype, device, non_blocking, copy):
    """torch's overloads: ``to(dtype, non_blocking, copy)``, ``to(device, dtype, non_blocking,
    copy)``, ``to(other, non_blocking, copy)``; trailing booleans are non_blocking and copy."""
    flags = []
    for a in args:
        if isinstance(a, bool):
            flags.append(a)
        elif flags:
            raise TypeError(f"to(): unexpected argument {a!r} after non_blocking/copy")
        elif isinstance(a, Tensor):
            dtype, device = a._data.dtype, a.device
        elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
            device = a
        else:
            dtype = a
    if len(flags) > 2:
        raise TypeError(f"to(): too many boolean arguments {flags} (non_blocking, copy)")
    flags += [non_blocking, copy][len(flags):]
    return dtype, device, flags[1]


def to(input, *args, dtype=None, device=None, non_blocking=False, copy=False,
       memory_format=preserve_format):
    """``x.to(dtype)``, ``x.to('cuda')``, ``x.to(other)``, ``x.to(device, dtype)``; with
    ``copy=True`` the result never shares the input's memory, with
    ``memory_format=fastdl.contiguous_format`` it is C-contiguous.

    Shape: input's.

    >>> x = fastdl.ones(2, 3)
    >>> x.to(fastdl.int64).dtype
    dtype('int64')
    >>> y = x.to("cpu", fastdl.float64)
    >>> y.device, y.dtype, y.shape
    ('cpu', dtype('float64'), (2, 3))
    """
    dtype, device, copy = _parse_to_args(args, dtype, device, non_blocking, copy)
    out = input
    if device is not None and _parse_device(device) != input.device:
        out = _to_device(out, _parse_device(device))
    if dtype is not None:
        dt = as_dtype(dtype)
        if dt != out._data.dtype:
            out = _cast(out, dt)
    if copy and out is input:
        from fastdl.functional.shape import clone
        out = clone(input)
    if memory_format is not preserve_format:
        from fastdl.functional.shape import contiguous
        out = contiguous(out, check_memory_format(memory_format))
    return out


def _cast_backward(ctx, g):
    return (cast_op.apply((g,), ctx.inputs[0]._data.dtype),)


def _astype(d, dt):
    """d as dtype dt. float64 reaches float16 through float32, as torch's casts do (c10::Half
    is made from a float): rounding twice differs from numpy's direct rounding now and then
    (3.1787109375 - 2**-40 is 3.1796875 in torch, 3.177734375 rounded once)."""
    if dt == np.float16 and d.dtype == np.float64:
        d = d.astype(np.float32)
    return d.astype(dt)


cast_op = defop("to_dtype", forward=_astype, backward=_cast_backward)


def _cast(x, dt):
    if dt.kind != "f" or x._data.dtype.kind != "f":  # integer/bool results carry no gradient
        return _wrap(x._data.astype(dt))
    return cast_op.apply((x,), dt)


def _to_device_backward(ctx, g):
    return (to_device_op.apply((g,), ctx.inputs[0].device),)


to_device_op = defop("to_device", forward=_to_device_array, backward=_to_device_backward)


def _to_device(x, device):
    return to_device_op.apply((x,), device)


def bfloat16(input, memory_format=None):
    """Raises TypeError, as ``fastdl.bfloat16`` does anywhere a storage dtype is needed: numpy
    has no bfloat16 type. ``float()`` and ``half()`` are the casts there are.

    >>> fastdl.ones(2).bfloat16()
    Traceback (most recent call last):
    ...
    TypeError: fastdl.bfloat16 is not a storage dtype: ...
    """
    from fastdl.tensor import bfloat16 as no_storage
    raise no_storage.error()
