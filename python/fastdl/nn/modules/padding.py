"""Padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad`` in 1, 2 and 3 dims, all through ``F.pad`` (torch's names, arguments and
``extra_repr``). ``padding`` is an int (every side) or a tuple of 2 * dims ints, last dim first:
(left, right[, top, bottom[, front, back]])."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn.modules.conv import _ntuple
from fastdl.nn.modules.module import Module


class _PadNd(Module):
    """Shared by the padding layers: ``F.pad(input, padding, mode)`` over the last 1, 2 or 3 dims.

    ``padding`` is an int (the same on every side) or a tuple of 2 * dims ints, last dim first:
    (left, right[, top, bottom[, front, back]]). Each padded dim grows by the sum of its two
    entries. Reflect, replicate and circular modes take (C, *spatial) or (N, C, *spatial)
    inputs; reflect needs each pad < that dim's size, circular each pad <= it.
    """
    _dims = 0
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims, "padding", type(self).__name__)

    def _check_input_dim(self, input):
        d = self._dims
        if input.ndim not in (d + 1, d + 2):
            raise ValueError(f"{type(self).__name__}: expected {d + 1}D or {d + 2}D input (got "
                             f"{input.ndim}D input of shape {tuple(input.shape)})")

    def forward(self, input):
        if self._mode != "constant":
            self._check_input_dim(input)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Shared by ``ConstantPad1d/2d/3d`` and ``ZeroPad1d/2d/3d``: pads with a constant ``value``.

    Negative padding crops, as in torch.
    """

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with a constant value.

    Args: padding, an int or a (left, right) pair; value, the fill.

    Shape: input (C, W) or (N, C, W); output (..., W_out) with W_out = W + left + right.

    >>> m = fastdl.nn.ConstantPad1d((1, 2), 3.5)
    >>> m(fastdl.ones(1, 2))
    tensor([[3.5, 1. , 1. , 3.5, 3.5]])
    """
    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with a constant value.

    Args: padding, an int or a (left, right, top, bottom) tuple; value, the fill.

    Shape: input (C, H, W) or (N, C, H, W); output (..., H_out, W_out) with
    H_out = H + top + bottom and W_out = W + left + right.

    >>> m = fastdl.nn.ConstantPad2d((1, 0, 0, 1), -1.0)
    >>> m(fastdl.ones(1, 2, 2))
    tensor([[[-1.,  1.,  1.],
             [-1.,  1.,  1.],
             [-1., -1., -1.]]])
    """
    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with a constant value.

    Args: padding, an int or a (left, right, top, bottom, front, back) tuple; value, the fill.

    Shape: input (C, D, H, W) or (N, C, D, H, W); output (..., D_out, H_out, W_out) with
    D_out = D + front + back, H_out = H + top + bottom, W_out = W + left + right.

    >>> m = fastdl.nn.ConstantPad3d((3, 3, 6, 6, 0, 1), 3.5)
    >>> m(fastdl.randn(16, 3, 10, 20)).shape
    (16, 4, 22, 26)
    """
    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros (``ConstantPad1d(padding, 0.0)``).

    Args: padding, an int or a (left, right) pair.

    Shape: input (C, W) or (N, C, W); output (..., W_out) with W_out = W + left + right.

    >>> fastdl.nn.ZeroPad1d((2, 1))(fastdl.ones(1, 1, 2))
    tensor([[[0., 0., 1., 1., 0.]]])
    """
    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last 2 dims with zeros (``ConstantPad2d(padding, 0.0)``).

    Args: padding, an int or a (left, right, top, bottom) tuple.

    Shape: input (C, H, W) or (N, C, H, W); output (..., H_out, W_out) with
    H_out = H + top + bottom and W_out = W + left + right.

    >>> fastdl.nn.ZeroPad2d(1)(fastdl.ones(1, 1, 1, 2))
    tensor([[[[0., 0., 0., 0.],
              [0., 1., 1., 0.],
              [0., 0., 0., 0.]]]])
    """
    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last 3 dims with zeros (``ConstantPad3d(padding, 0.0)``).

    Args: padding, an int or a (left, right, top, bottom, front, back) tuple.

    Shape: input (C, D, H, W) or (N, C, D, H, W); output (..., D_out, H_out, W_out) with
    D_out = D + front + back, H_out = H + top + bottom, W_out = W + left + right.

    >>> fastdl.nn.ZeroPad3d((1, 1, 2, 0, 0, 3))(fastdl.randn(2, 3, 4, 5, 6)).shape
    (2, 3, 7, 7, 8)
    """
    _dims = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection (the edge element not repeated).

    Args: padding, an int or a (left, right) pair, each smaller than W.

    Shape: input (C, W) or (N, C, W); output (..., W_out) with W_out = W + left + right.

    >>> m = fastdl.nn.ReflectionPad1d(2)
    >>> m(fastdl.arange(4.).reshape(1, 1, 4))
    tensor([[[2., 1., 0., 1., 2., 3., 2., 1.]]])
    """
    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last 2 dims with their reflection (the edge not repeated).

    Args: padding, an int or a (left, right, top, bottom) tuple; left, right < W, top, bottom < H.

    Shape: input (C, H, W) or (N, C, H, W); output (..., H_out, W_out) with
    H_out = H + top + bottom and W_out = W + left + right.

    >>> m = fastdl.nn.ReflectionPad2d((1, 1, 1, 0))
    >>> m(fastdl.arange(4.).reshape(1, 1, 2, 2))
    tensor([[[[3., 2., 3., 2.],
              [1., 0., 1., 0.],
              [3., 2., 3., 2.]]]])
    """
    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pads the last 3 dims with their reflection (the edge not repeated).

    Args: padding, an int or a (left, right, top, bottom, front, back) tuple, each pad smaller
    than the dim it pads.

    Shape: input (C, D, H, W) or (N, C, D, H, W); output (..., D_out, H_out, W_out) with
    D_out = D + front + back, H_out = H + top + bottom, W_out = W + left + right.

    >>> fastdl.nn.ReflectionPad3d(1)(fastdl.randn(2, 3, 4, 5, 6)).shape
    (2, 3, 6, 7, 8)
    """
    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its edge values.

    Args: padding, an int or a (left, right) pair.

    Shape: input (C, W) or (N, C, W); output (..., W_out) with W_out = W + left + right.

    >>> m = fastdl.nn.ReplicationPad1d((2, 1))
    >>> m(fastdl.arange(4.).reshape(1, 1, 4))
    tensor([[[0., 0., 0., 1., 2., 3., 3.]]])
    """
    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last 2 dims by repeating their edge values.

    Args: padding, an int or a (left, right, top, bottom) tuple.

    Shape: input (C, H, W) or (N, C, H, W); output (..., H_out, W_out) with
    H_out = H + top + bottom and W_out = W + left + right.

    >>> m = fastdl.nn.ReplicationPad2d((1, 0, 0, 1))
    >>> m(fastdl.arange(4.).reshape(1, 1, 2, 2))
    tensor([[[[0., 0., 1.],
              [2., 2., 3.],
              [2., 2., 3.]]]])
    """
    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pads the last 3 dims by repeating their edge values.

    Args: padding, an int or a (left, right, top, bottom, front, back) tuple.

    Shape: input (C, D, H, W) or (N, C, D, H, W); output (..., D_out, H_out, W_out) with
    D_out = D + front + back, H_out = H + top + bottom, W_out = W + left + right.

    >>> fastdl.nn.ReplicationPad3d((0, 1, 2, 3, 4, 5))(fastdl.randn(2, 3, 4, 5, 6)).shape
    (2, 3, 13, 10, 7)
    """
    _dims, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Pads the last dim circularly (wrapping around: the left pad comes from the right end).

    Args: padding, an int or a (left, right) pair, each at most W.

    Shape: input (C, W) or (N, C, W); output (..., W_out) with W_out = W + left + right.

    >>> m = fastdl.nn.CircularPad1d((2, 1))
    >>> m(fastdl.arange(4.).reshape(1, 1, 4))
    tensor([[[2., 3., 0., 1., 2., 3., 0.]]])
    """
    _dims, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pads the last 2 dims circularly (wrapping around, like a torus).

    Args: padding, an int or a (left, right, top, bottom) tuple; left, right <= W and
    top, bottom <= H.

    Shape: input (C, H, W) or (N, C, H, W); output (..., H_out, W_out) with
    H_out = H + top + bottom and W_out = W + left + right.

    >>> m = fastdl.nn.CircularPad2d((1, 0, 0, 1))
    >>> m(fastdl.arange(4.).reshape(1, 1, 2, 2))
    tensor([[[[1., 0., 1.],
              [3., 2., 3.],
              [1., 0., 1.]]]])
    """
    _dims, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Pads the last 3 dims circularly (wrapping around).

    Args: padding, an int or a (left, right, top, bottom, front, back) tuple, each pad at most
    the size of the dim it pads.

    Shape: input (C, D, H, W) or (N, C, D, H, W); output (..., D_out, H_out, W_out) with
    D_out = D + front + back, H_out = H + top + bottom, W_out = W + left + right.

    >>> fastdl.nn.CircularPad3d(1)(fastdl.randn(2, 3, 4, 5, 6)).shape
    (2, 3, 6, 7, 8)
    """
    _dims, _mode = 3, "circular"
