"""CrossMapLRN2d: torch's legacy (Lua Torch) local response normalization across channels.

It is not LocalResponseNorm: torch's forward builds each channel's sum of squares with a running
window that never drops channel 0 (so every channel past the first window also counts channel
0's square), and its backward, a separate hand-written formula, sums over a window shifted
towards lower channels. Both are reproduced as they are, so values and gradients equal torch's;
as in torch the backward is therefore not the exact derivative of the forward when there are
more channels than the first window covers."""
from __future__ import annotations

import numpy as np

from fastdl.autograd.function import Function
from fastdl.functional.linalg import matmul
from fastdl.nn.modules.module import Module
from fastdl.tensor import Tensor


def _forward_window(channels, size):
    """M[c, j] = 1 when channel j's square enters channel c's scale (torch's running sum)."""
    pre_pad = int((size - 1) / 2 + 1)
    m = np.zeros((channels, channels))
    for c in range(channels):
        hi = min(c + pre_pad - 1, channels - 1)
        lo = 0 if c <= pre_pad else c - pre_pad + 1
        m[c, lo:hi + 1] = 1.0
        m[c, 0] = 1.0
    return m


def _backward_window(channels, size):
    """W[c, j] = 1 when channel j's ratio enters channel c's gradient (torch's padded sum)."""
    inverse_pre_pad = int(size - (size - 1) / 2)
    w = np.zeros((channels, channels))
    for c in range(channels):
        lo, hi = c - inverse_pre_pad, c + size - 1 - inverse_pre_pad
        w[c, max(lo, 0):min(hi, channels - 1) + 1] = 1.0
    return w


def _across_channels(m, x):
    """sum_j m[c, j] x[:, j] for (N, C, H, W) x, as a product over the channel axis."""
    xt = x.permute(0, 2, 3, 1)
    return matmul(xt, Tensor(m.T.astype(x._data.dtype))).permute(0, 3, 1, 2)


class _CrossMapLRN2dFunction(Function):
    @staticmethod
    def forward(ctx, input, size, alpha, beta, k):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D "
                             "instead.")
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        m = _forward_window(input.shape[1], size)
        scale = _across_channels(m, input * input) * (alpha / size) + k
        output = scale.pow(-beta) * input
        ctx.scale = scale
        ctx.save_for_backward(input, output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        w = _backward_window(input.shape[1], ctx.size)
        ratio = grad_output * output / ctx.scale
        accum = _across_channels(w, ratio)
        cache_ratio_value = 2 * ctx.alpha * ctx.beta / ctx.size
        grad_input = ctx.scale.pow(-ctx.beta) * grad_output - input * accum * cache_ratio_value
        return grad_input, None, None, None, None


class CrossMapLRN2d(Module):
    """Local response normalization across channels with torch's legacy CrossMapLRN2d formula:
    ``x / (k + alpha / size * S) ** beta`` with S a running sum of squares over nearby channels
    (see the module docstring for torch's window rules). Input (N, C, H, W) only.

    >>> import fastdl
    >>> m = fastdl.nn.CrossMapLRN2d(3, alpha=1e-2, beta=0.75, k=1.0)
    >>> m
    CrossMapLRN2d(3, alpha=0.01, beta=0.75, k=1.0)
    >>> m(fastdl.randn(2, 4, 5, 5)).shape
    (2, 4, 5, 5)
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return _CrossMapLRN2dFunction.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ = ["CrossMapLRN2d"]
