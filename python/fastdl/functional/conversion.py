"""``Tensor.to``: dtype casts and device moves, differentiable (the gradient goes back)."""
from __future__ import annotations

from fastdl.functional._core import Tensor, record
from fastdl.tensor import _parse_device, _to_device_array, as_dtype


def _parse_to_args(args, dtype, device):
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a._data.dtype, a.device
        elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
            device = a
        else:
            dtype = a
    return dtype, device


def to(input, *args, dtype=None, device=None, copy=False, non_blocking=False):
    """``x.to(dtype)``, ``x.to('cuda')``, ``x.to(other)``, ``x.to(device, dtype)``."""
    dtype, device = _parse_to_args(args, dtype, device)
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
    return out


def _cast(x, dt):
    src = x._data.dtype
    out = x._data.astype(dt)

    def to_dtype_backward(g):
        return (_cast(g, src) if src.kind == "f" else None,)

    if dt.kind != "f":  # integer/bool results carry no gradient
        return record(out, to_dtype_backward, ())
    return record(out, to_dtype_backward, (x,))


def _to_device(x, device):
    src = x.device
    out = _to_device_array(x._data, device)

    def to_device_backward(g):
        return (_to_device(g, src),)

    return record(out, to_device_backward, (x,))
