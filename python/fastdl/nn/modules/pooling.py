"""Pooling and upsampling layers (torch.nn's names, signatures, defaults and reprs)."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn.modules.module import Module


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _triple(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)


class _MaxPoolNd(Module):
    """Shared by ``MaxPool1d/2d/3d``: the maximum over each ``kernel_size`` window.

    Args: kernel_size; stride (default: kernel_size); padding (implicit -inf on each side, at
    most kernel_size // 2); dilation (spacing between window elements); return_indices (also
    return the flat argmax index within each input plane, for ``MaxUnpool``); ceil_mode (ceil
    instead of floor in the output size; a window must still start inside the input or left
    padding). Each of kernel_size, stride, padding, dilation is an int or a tuple, one per dim.

    Output size per spatial dim: floor((L + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1).
    """
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}, "
                "dilation={dilation}, ceil_mode={ceil_mode}".format(**self.__dict__))


class MaxPool1d(_MaxPoolNd):
    """1D max pooling over (N, C, L) or (C, L) inputs.

    ``MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, as in torch (see ``_MaxPoolNd``).

    Shape: input (N, C, L) or (C, L); output (N, C, L_out) or (C, L_out) with
    L_out = floor((L + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1).

    >>> m = fastdl.nn.MaxPool1d(2)
    >>> m(fastdl.tensor([[[1., 3., 2., 5., 4.]]]))
    tensor([[[3., 5.]]])
    """
    _fn = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2D max pooling over (N, C, H, W) or (C, H, W) inputs.

    ``MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, as in torch (see ``_MaxPoolNd``); int or (h, w) pairs.

    Shape: input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) or (C, H_out, W_out)
    with H_out = floor((H + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1), same for W_out.

    >>> m = fastdl.nn.MaxPool2d(2)
    >>> m(fastdl.arange(16.).reshape(1, 4, 4))
    tensor([[[ 5.,  7.],
             [13., 15.]]])
    >>> fastdl.nn.MaxPool2d(3, stride=2, padding=1)(fastdl.randn(2, 3, 9, 9)).shape
    (2, 3, 5, 5)
    """
    _fn = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3D max pooling over (N, C, D, H, W) or (C, D, H, W) inputs.

    ``MaxPool3d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, as in torch (see ``_MaxPoolNd``); int or (d, h, w) triples.

    Shape: input (N, C, D, H, W) or (C, D, H, W); output (N, C, D_out, H_out, W_out) with
    D_out = floor((D + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1), same for H, W.

    >>> m = fastdl.nn.MaxPool3d(2, stride=2, ceil_mode=True)
    >>> m(fastdl.randn(2, 3, 5, 6, 7)).shape
    (2, 3, 3, 3, 4)
    """
    _fn = staticmethod(F.max_pool3d)


class AvgPool1d(Module):
    """1D average pooling over (N, C, L) or (C, L) inputs.

    Args: kernel_size; stride (default: kernel_size); padding (implicit zeros on both sides, at
    most kernel_size // 2); ceil_mode (ceil instead of floor in the output size);
    count_include_pad (default True: padded zeros count in the divisor).

    Shape: input (N, C, L) or (C, L); output (N, C, L_out) or (C, L_out) with
    L_out = floor((L + 2*padding - kernel_size)/stride + 1).

    >>> m = fastdl.nn.AvgPool1d(2)
    >>> m(fastdl.tensor([[[1., 3., 2., 6., 4.]]]))
    tensor([[[2., 4.]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    """Shared by ``AvgPool2d/3d``: the mean over each ``kernel_size`` window.

    Args: kernel_size; stride (default: kernel_size); padding (implicit zeros on each side, at
    most kernel_size // 2); ceil_mode (ceil instead of floor in the output size);
    count_include_pad (default True: padded zeros count in the divisor); divisor_override (if
    set, the divisor instead of the window size). kernel_size, stride, padding: int or tuple.

    Output size per spatial dim: floor((L + 2*padding - kernel_size)/stride + 1).
    """
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding,
                              self.ceil_mode, self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2D average pooling over (N, C, H, W) or (C, H, W) inputs.

    ``AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)``, as in torch (see ``_AvgPoolNd``); int or (h, w) pairs.

    Shape: input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) or (C, H_out, W_out)
    with H_out = floor((H + 2*padding - kernel_size)/stride + 1), same for W_out.

    >>> m = fastdl.nn.AvgPool2d(2)
    >>> m(fastdl.arange(16.).reshape(1, 4, 4))
    tensor([[[ 2.5,  4.5],
             [10.5, 12.5]]])
    """
    _fn = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """3D average pooling over (N, C, D, H, W) or (C, D, H, W) inputs.

    ``AvgPool3d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)``, as in torch (see ``_AvgPoolNd``); int or (d, h, w) triples.

    Shape: input (N, C, D, H, W) or (C, D, H, W); output (N, C, D_out, H_out, W_out) with
    D_out = floor((D + 2*padding - kernel_size)/stride + 1), same for H_out, W_out.

    >>> m = fastdl.nn.AvgPool3d((1, 2, 2))
    >>> m(fastdl.randn(2, 3, 4, 6, 8)).shape
    (2, 3, 4, 3, 4)
    """
    _fn = staticmethod(F.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    """Shared by ``AdaptiveAvgPool1d/2d/3d``: mean pooling to a fixed output size.

    Output index i along a dim of input size L and output size O averages input elements
    floor(i*L/O) to ceil((i+1)*L/O) - 1 (windows may overlap or differ in size, as in torch).
    output_size is an int (every dim) or a tuple; a None entry keeps that dim's input size.
    """
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1D adaptive average pooling: (N, C, L) -> (N, C, output_size).

    Args: output_size (int), the target length L_out; see ``_AdaptiveAvgPoolNd`` for the windows.

    Shape: input (N, C, L) or (C, L); output (N, C, L_out) or (C, L_out).

    >>> m = fastdl.nn.AdaptiveAvgPool1d(2)
    >>> m(fastdl.tensor([[[1., 2., 3., 4., 5., 6.]]]))
    tensor([[[2., 5.]]])
    """
    _fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """2D adaptive average pooling: (N, C, H, W) -> (N, C, *output_size).

    Args: output_size, an int (square) or an (H_out, W_out) pair whose entries may be None (keep
    the input size); see ``_AdaptiveAvgPoolNd`` for the windows. ``AdaptiveAvgPool2d(1)`` is
    global average pooling.

    Shape: input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) or (C, H_out, W_out).

    >>> fastdl.nn.AdaptiveAvgPool2d((5, 7))(fastdl.randn(1, 64, 8, 9)).shape
    (1, 64, 5, 7)
    >>> fastdl.nn.AdaptiveAvgPool2d((None, 1))(fastdl.randn(1, 64, 8, 9)).shape
    (1, 64, 8, 1)
    """
    _fn = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3D adaptive average pooling: (N, C, D, H, W) -> (N, C, *output_size).

    Args: output_size, an int (cube) or a (D_out, H_out, W_out) triple whose entries may be None
    (keep the input size); see ``_AdaptiveAvgPoolNd`` for the windows.

    Shape: input (N, C, D, H, W) or (C, D, H, W); output (N, C, D_out, H_out, W_out) or
    (C, D_out, H_out, W_out).

    >>> fastdl.nn.AdaptiveAvgPool3d((2, None, 3))(fastdl.randn(1, 4, 5, 6, 7)).shape
    (1, 4, 2, 6, 3)
    """
    _fn = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    """Shared by ``AdaptiveMaxPool1d/2d/3d``: max pooling to a fixed output size.

    The windows are those of adaptive average pooling: output index i along a dim of input size
    L and output size O covers input elements floor(i*L/O) to ceil((i+1)*L/O) - 1. output_size is
    an int (every dim) or a tuple whose None entries keep the input size; return_indices also
    returns the flat argmax index within each input plane (for ``MaxUnpool``).
    """
    _fn = None

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return type(self)._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1D adaptive max pooling: (N, C, L) -> (N, C, output_size).

    Args: output_size (int), the target length L_out; return_indices (default False) also
    returns the argmax indices. See ``_AdaptiveMaxPoolNd`` for the windows.

    Shape: input (N, C, L) or (C, L); output (N, C, L_out) or (C, L_out).

    >>> m = fastdl.nn.AdaptiveMaxPool1d(2, return_indices=True)
    >>> m(fastdl.tensor([[[1., 4., 3., 2., 6., 5.]]]))
    (tensor([[[4., 6.]]]), tensor([[[1, 4]]]))
    """
    _fn = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2D adaptive max pooling: (N, C, H, W) -> (N, C, *output_size).

    Args: output_size, an int (square) or an (H_out, W_out) pair whose entries may be None (keep
    the input size); return_indices (default False) also returns the argmax indices. See
    ``_AdaptiveMaxPoolNd`` for the windows.

    Shape: input (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) or (C, H_out, W_out).

    >>> fastdl.nn.AdaptiveMaxPool2d((5, 7))(fastdl.randn(1, 64, 8, 9)).shape
    (1, 64, 5, 7)
    """
    _fn = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3D adaptive max pooling: (N, C, D, H, W) -> (N, C, *output_size).

    Args: output_size, an int (cube) or a (D_out, H_out, W_out) triple whose entries may be None
    (keep the input size); return_indices (default False) also returns the argmax indices. See
    ``_AdaptiveMaxPoolNd`` for the windows.

    Shape: input (N, C, D, H, W) or (C, D, H, W); output (N, C, D_out, H_out, W_out) or
    (C, D_out, H_out, W_out).

    >>> fastdl.nn.AdaptiveMaxPool3d(2)(fastdl.randn(1, 4, 5, 6, 7)).shape
    (1, 4, 2, 2, 2)
    """
    _fn = staticmethod(F.adaptive_max_pool3d)


class _MaxUnpoolNd(Module):
    """Shared by ``MaxUnpool1d/2d/3d``: the partial inverse of ``MaxPool``.

    ``forward(input, indices, output_size=None)`` scatters each input value to the flat position
    ``indices`` (from ``MaxPool(..., return_indices=True)``) of its output plane, zeros elsewhere.
    Args: kernel_size; stride (default: kernel_size); padding; each an int or a tuple per dim.
    Output size per dim: (L - 1)*stride - 2*padding + kernel_size, unless output_size (the full
    or the spatial shape) picks one of the sizes MaxPool maps to L.
    """
    _fn = None
    _tuple = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        make = type(self)._tuple
        self.kernel_size = make(kernel_size)
        self.stride = make(stride if (stride is not None) else kernel_size)
        self.padding = make(padding)

    def forward(self, input, indices, output_size=None):
        return type(self)._fn(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool1d``: maxima back in place, zeros elsewhere.

    Args: kernel_size, stride (default: kernel_size), padding, as given to the MaxPool1d.
    ``forward(input, indices, output_size=None)``; see ``_MaxUnpoolNd``.

    Shape: input and indices (N, C, L) or (C, L); output (N, C, L_out) or (C, L_out) with
    L_out = (L - 1)*stride - 2*padding + kernel_size, or output_size.

    >>> pool = fastdl.nn.MaxPool1d(2, return_indices=True)
    >>> out, idx = pool(fastdl.tensor([[[1., 3., 2., 5.]]]))
    >>> fastdl.nn.MaxUnpool1d(2)(out, idx)
    tensor([[[0., 3., 0., 5.]]])
    """
    _fn = staticmethod(F.max_unpool1d)
    _tuple = staticmethod(_single)


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool2d``: maxima back in place, zeros elsewhere.

    Args: kernel_size, stride (default: kernel_size), padding, as given to the MaxPool2d; int or
    (h, w) pairs. ``forward(input, indices, output_size=None)``; see ``_MaxUnpoolNd``.

    Shape: input and indices (N, C, H, W) or (C, H, W); output (N, C, H_out, W_out) or
    (C, H_out, W_out) with H_out = (H - 1)*stride - 2*padding + kernel_size (same for W_out), or
    output_size.

    >>> pool = fastdl.nn.MaxPool2d(2, return_indices=True)
    >>> out, idx = pool(fastdl.randn(1, 3, 5, 5))
    >>> out.shape, fastdl.nn.MaxUnpool2d(2)(out, idx, output_size=(5, 5)).shape
    ((1, 3, 2, 2), (1, 3, 5, 5))
    """
    _fn = staticmethod(F.max_unpool2d)
    _tuple = staticmethod(_pair)


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool3d``: maxima back in place, zeros elsewhere.

    Args: kernel_size, stride (default: kernel_size), padding, as given to the MaxPool3d; int or
    (d, h, w) triples. ``forward(input, indices, output_size=None)``; see ``_MaxUnpoolNd``.

    Shape: input and indices (N, C, D, H, W) or (C, D, H, W); output (N, C, D_out, H_out, W_out)
    with D_out = (D - 1)*stride - 2*padding + kernel_size (same for H, W), or output_size.

    >>> out, idx = fastdl.nn.MaxPool3d(2, return_indices=True)(fastdl.randn(1, 2, 4, 4, 4))
    >>> fastdl.nn.MaxUnpool3d(2)(out, idx).shape
    (1, 2, 4, 4, 4)
    """
    _fn = staticmethod(F.max_unpool3d)
    _tuple = staticmethod(_triple)


class Upsample(Module):
    """Upsamples (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs (``F.interpolate``).

    Args: size (output spatial size, int or tuple) or scale_factor (float or tuple), not both;
    mode: 'nearest' (default), 'nearest-exact', 'linear' (3D input), 'bilinear', 'bicubic' (4D),
    'trilinear' (5D) or 'area'; align_corners (linear, bilinear, trilinear and bicubic only:
    map the corner pixels' centres onto each other); recompute_scale_factor (interpolate with
    the scale implied by the computed output size instead of scale_factor itself).

    Shape: input (N, C, *spatial); output (N, C, *size), or the spatial dims
    floor(L * scale_factor).

    >>> m = fastdl.nn.Upsample(scale_factor=2, mode="nearest")
    >>> m(fastdl.tensor([[[1., 2.]]]))
    tensor([[[1., 1., 2., 2.]]])
    >>> fastdl.nn.Upsample(size=(5, 7), mode="bilinear")(fastdl.randn(2, 3, 4, 4)).shape
    (2, 3, 5, 7)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """2D nearest-neighbour upsampling: ``Upsample(size, scale_factor, mode='nearest')``.

    Args: size (int or (H_out, W_out)) or scale_factor (float or pair), not both.

    Shape: input (N, C, H, W); output (N, C, H_out, W_out) with H_out = size[0] or
    floor(H * scale_factor), same for W_out.

    >>> m = fastdl.nn.UpsamplingNearest2d(scale_factor=2)
    >>> m(fastdl.tensor([[[[1., 2.], [3., 4.]]]]))
    tensor([[[[1., 1., 2., 2.],
              [1., 1., 2., 2.],
              [3., 3., 4., 4.],
              [3., 3., 4., 4.]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """2D bilinear upsampling, corners aligned: ``Upsample(mode='bilinear', align_corners=True)``.

    Args: size (int or (H_out, W_out)) or scale_factor (float or pair), not both.

    Shape: input (N, C, H, W); output (N, C, H_out, W_out) with H_out = size[0] or
    floor(H * scale_factor), same for W_out.

    >>> m = fastdl.nn.UpsamplingBilinear2d(size=(1, 3))
    >>> m(fastdl.tensor([[[[0., 2.]]]]))
    tensor([[[[0., 1., 2.]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
