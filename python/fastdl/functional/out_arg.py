"""Writing a result into a caller's ``out=`` tensor as torch's out= variants do: out must not
take part in autograd, the result's dtype must cast to out's without leaving its category
(float into float, not into an integer), and an out of another shape is resized (with
torch's warning unless it was empty)."""
from __future__ import annotations

import warnings

import numpy as np

from fastdl.autograd.grad_mode import is_grad_enabled, no_grad
from fastdl.functional._core import torch_dtype_name
from fastdl.nn.functional._checks import check_tensor



def _category(dtype):
    return {"b": 0, "u": 1, "i": 1, "f": 2}[np.dtype(dtype).kind]


def write_out(fn, result, out):
    """``result`` stored into ``out`` (returned); see the module's note for the rules."""
    check_tensor(out, fn, "out")
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{fn}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if _category(result.dtype) > _category(out.dtype):
        raise RuntimeError(f"result type {torch_dtype_name(result.dtype)} can't be cast to the "
                           f"desired output type {torch_dtype_name(out.dtype)}")
    if tuple(out.shape) != tuple(result.shape):
        if out.numel() != 0:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}. This behavior is deprecated, and in a future "
                          f"PyTorch release outputs will not be resized unless they have zero "
                          f"elements. You can explicitly reuse an out tensor t by resizing it, "
                          f"inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=3)
        out.resize_(tuple(result.shape))
    with no_grad():
        out.copy_(result)
    return out
