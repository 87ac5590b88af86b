"""Writing a result into a caller's ``out=`` tensor as torch's out= variants do: out must not
take part in autograd, the result's dtype must cast to out's without leaving its category
(float into float, not into an integer), and an out of another shape is resized (with
torch's warning unless it was empty). ``supports_out`` gives a function that computes a fresh
result the out= behaviour as a decorator (the linalg functions)."""
from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from fastdl.autograd.grad_mode import is_grad_enabled, no_grad
from fastdl.functional._core import _category as _dtype_category
from fastdl.functional._core import cpp_dtype_name, torch_dtype_name
from fastdl.nn.functional._checks import check_tensor


def _category(dtype):
    return _dtype_category(np.dtype(dtype))  # out.dtype may be a fastdl/numpy dtype object


def _check_out(fn, result, out, dtype_rule):
    """out is a Tensor and, under the linalg rules, of a dtype they take (see write_outs)."""
    check_tensor(out, fn, "out")
    rd, od = np.dtype(result.dtype), np.dtype(out.dtype)
    if dtype_rule == "exact" and rd != od:
        raise RuntimeError(f"Expected out tensor to have dtype {cpp_dtype_name(rd)}, but got "
                           f"{cpp_dtype_name(od)} instead")
    if dtype_rule == "safe" and _category(rd) > _category(od):
        where = fn.replace("linalg_", "linalg.", 1)  # this check names the Python function
        raise RuntimeError(f"{where}: Expected result to be safely castable from "
                           f"{torch_dtype_name(rd)} dtype, but got result with dtype "
                           f"{torch_dtype_name(od)}")


def _store(fn, result, out):
    """``result`` copied into the checked ``out`` (resized if needed); returns out."""
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
                          stacklevel=4)
        out.resize_(tuple(result.shape))
    with no_grad():
        out.copy_(result)
    return out


def write_out(fn, result, out, dtype_rule="cast"):
    """``result`` stored into ``out`` (returned); see the module's note for the rules and
    write_outs for ``dtype_rule``."""
    _check_out(fn, result, out, dtype_rule)
    return _store(fn, result, out)


def write_outs(fn, result, out, dtype_rule="cast"):
    """``result`` -- a Tensor, or a tuple / named tuple of them -- written into ``out`` of the
    same structure; returns the out tensors in result's structure (torch's out= variants return
    their out arguments). ``dtype_rule``: "cast" (torch's elementwise rule: no cast into a lower
    category), "exact" (the linalg kernels' same-dtype check) or "safe" (linalg's castable
    results)."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)):
            raise TypeError(f"{fn}(): argument 'out' must be tuple of Tensors, not "
                            f"{type(out).__name__}")
        if len(out) != len(result):
            raise TypeError(f"expected tuple of {len(result)} elements but got {len(out)}")
        for r, o in zip(result, out):  # every out checked before any is written
            _check_out(fn, r, o, dtype_rule)
        written = [_store(fn, r, o) for r, o in zip(result, out)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'out' must be Tensor, not {type(out).__name__}")
    return write_out(fn, result, out, dtype_rule)


def supports_out(fn, dtype_rule="exact"):
    """Decorator for a function with an ``out=None`` parameter that computes a fresh result:
    the wrapper writes that result into ``out`` when one is given (``write_outs``), so the
    function body never handles ``out`` itself. ``fn``: the ATen name torch's messages use."""
    def decorate(f):
        params = inspect.signature(f).parameters
        index = list(params).index("out")
        positional = params["out"].kind is not inspect.Parameter.KEYWORD_ONLY

        @functools.wraps(f)
        def with_out(*args, out=None, **kwargs):
            if positional and len(args) > index:  # tensordot(a, b, dims, out)
                args, out = args[:index], args[index]
            result = f(*args, **kwargs)
            return result if out is None else write_outs(fn, result, out, dtype_rule)
        return with_out
    return decorate
