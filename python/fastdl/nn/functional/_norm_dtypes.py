"""torch's dtype rules for the normalization layers on the CPU. Nothing is promoted: when the
first parameter given (weight, bias, then the running statistics) has the input's dtype, every
other one must have it too; when it has another, the call is torch's "mixed dtype" case, which
only a float16/bfloat16 input with float32 parameters passes (computed at the input's
precision here). Integer and bool inputs reach no kernel."""
from __future__ import annotations

import numpy as np

from fastdl.functional._core import torch_dtype_name

_HALF = ("float16", "bfloat16")


def _no_kernel(kernel, dtype):
    return NotImplementedError(f"\"{kernel}\" not implemented for '{torch_dtype_name(dtype)}'")


def check_norm_dtypes(input, params, kernel, kernel_checked_first=False):
    """Raise torch's error for these dtypes; return the parameters to use (cast to the input's
    dtype in the mixed case, differentiably). ``params``: torch's order, None where absent;
    ``kernel``: the name torch's dispatch reports for a dtype it has no kernel for, which
    batch_norm checks before the mixed-dtype rule and the others after."""
    dtype = input._data.dtype
    if kernel_checked_first and dtype.kind != "f":
        raise _no_kernel(kernel, dtype)
    given = [p for p in params if p is not None]
    if given and given[0]._data.dtype != dtype:
        if any(p._data.dtype != np.float32 for p in given):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        if dtype.name not in _HALF:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
        return [None if p is None else p.to(dtype) for p in params]
    if dtype.kind != "f":
        raise _no_kernel(kernel, dtype)
    for p in given:
        if p._data.dtype != dtype:
            raise RuntimeError(f"expected scalar type {torch_dtype_name(dtype)} but found "
                               f"{torch_dtype_name(p._data.dtype)}")
    return list(params)
