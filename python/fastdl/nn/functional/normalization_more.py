"""RMSNorm and local response normalization, composed of differentiable ops as torch's own
definitions are (so double backward comes for free)."""
from __future__ import annotations

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional import shape as S
from fastdl.nn.functional._checks import check_float
from fastdl.nn.functional.padding import pad


def _normalized_shape_tuple(normalized_shape):
    if isinstance(normalized_shape, int):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight``;
    eps defaults to the machine epsilon of input's dtype (torch's).

    Shape: input (*, *normalized_shape); output the same shape; weight normalized_shape.

    >>> fastdl.rms_norm(fastdl.tensor([[3.0, 4.0]]), (2,), eps=0.0).tolist()
    [[0.8485281467437744, 1.1313709020614624]]
    """
    check_float(input, "rms_norm")
    shape = _normalized_shape_tuple(normalized_shape)
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(shape)}")
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    out = input * A.rsqrt(R.mean(input * input, dims, keepdim=True) + eps)
    if weight is None:
        return out
    out = out * weight
    # torch's composite computes with a weight of another dtype, then casts to the input's
    return out if out._data.dtype == input._data.dtype else out.to(input._data.dtype)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta for an
    (N, C, *) input; the window is zero-padded at the channel ends (torch's average pool)."""
    check_float(input, "local_response_norm")
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if size <= 0:  # torch's average pool over the channel window refuses it
        raise RuntimeError(f"local_response_norm(): kernel size should be greater than zero, "
                           f"but got size {size}")
    if input.numel() == 0:
        return input
    channels = input.shape[1]
    squares = pad(input * input, (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2))
    window_sum = S.narrow(squares, 1, 0, channels)
    for offset in range(1, size):
        window_sum = window_sum + S.narrow(squares, 1, offset, channels)
    return input / ((window_sum / size) * alpha + k) ** beta
