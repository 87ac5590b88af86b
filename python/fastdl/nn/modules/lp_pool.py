"""``LPPool1d/2d/3d``: power-average pooling modules (options, then the functional op)."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn.modules.module import Module


class _LPPoolNd(Module):
    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """1D power-average pooling: (sum of x**p over each window)**(1/p) (p = norm_type; p=1
    is sum pooling, large p approaches max pooling).

    ``LPPool1d(norm_type, kernel_size, stride=None, ceil_mode=False)``, as in torch (stride
    defaults to kernel_size).

    Shape: input (N, C, L) or (C, L); output (N, C, L_out) or (C, L_out) with
    L_out = floor((L - kernel_size)/stride + 1).

    >>> m = fastdl.nn.LPPool1d(2, kernel_size=2)
    >>> m(fastdl.tensor([[[3.0, 4.0, 6.0, 8.0]]])).tolist()
    [[[5.0, 10.0]]]
    """
    def forward(self, input):
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """2D power-average pooling: (sum of x**p over each window)**(1/p) (p = norm_type).

    ``LPPool2d(norm_type, kernel_size, stride=None, ceil_mode=False)``, as in torch
    (kernel_size and stride an int or a pair; stride defaults to kernel_size).

    Shape: input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) or (C, H_out, W_out),
    each floor((size - kernel_size)/stride + 1).

    >>> m = fastdl.nn.LPPool2d(1, kernel_size=2)  # p=1: window sums
    >>> m(fastdl.ones(1, 1, 4, 4)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    def forward(self, input):
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool3d(_LPPoolNd):
    """3D power-average pooling: (sum of x**p over each window)**(1/p) (p = norm_type).

    ``LPPool3d(norm_type, kernel_size, stride=None, ceil_mode=False)``, as in torch
    (kernel_size and stride an int or a triple; stride defaults to kernel_size).

    Shape: input (N, C, D, H, W) or (C, D, H, W); output (N, C, D_out, H_out, W_out) or
    (C, D_out, H_out, W_out), each floor((size - kernel_size)/stride + 1).

    >>> m = fastdl.nn.LPPool3d(1, kernel_size=2)  # p=1: window sums
    >>> m(fastdl.ones(1, 1, 2, 4, 4)).shape
    (1, 1, 1, 2, 2)
    """
    def forward(self, input):
        return F.lp_pool3d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)
