"""``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` with torch's signatures, defaults,
initialisation, ``extra_repr`` and parameter names.

``padding_mode`` other than ``'zeros'`` pads with ``F.pad`` (reflect, replicate, circular) and
convolves without padding, as torch does; ``padding='same'`` pads ``dilation * (k - 1)`` in
total per dim, the extra element (odd totals) on the right.
"""
from __future__ import annotations

import numpy as np

from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.modules.linear import Linear, _empty
from fastdl.nn.modules.module import Module

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_PADDING_STRINGS = ("same", "valid")


def _ntuple(value, n, name, cls):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{cls}: {name} must be an int or a tuple of {n} ints, got "
                        f"{value!r}") from None
    if len(out) != n:
        raise ValueError(f"{cls}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return out


def _check_int(value, name, cls):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{cls}: {name} must be an int, got {value!r}")
    return int(value)


class _ConvNd(Module):
    _dims = 0
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, device, dtype):
        super().__init__()
        cls, d = type(self).__name__, self._dims
        in_channels = _check_int(in_channels, "in_channels", cls)
        out_channels = _check_int(out_channels, "out_channels", cls)
        groups = _check_int(groups, "groups", cls)
        if groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{cls}: in_channels must be divisible by groups (in_channels "
                             f"{in_channels}, groups {groups})")
        if out_channels % groups:
            raise ValueError(f"{cls}: out_channels must be divisible by groups (out_channels "
                             f"{out_channels}, groups {groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{cls}: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, d, "kernel_size", cls)
        self.stride = _ntuple(stride, d, "stride", cls)
        self.dilation = _ntuple(dilation, d, "dilation", cls)
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"{cls}: invalid padding string {padding!r}, should be one of "
                                 f"{set(_PADDING_STRINGS)}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{cls}: padding='same' is not supported for strided "
                                 f"convolutions (stride {self.stride})")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, d, "padding", cls)
        self.output_padding = _ntuple(output_padding, d, "output_padding", cls)
        self.transposed = self._transposed
        self.groups = groups
        self.padding_mode = padding_mode
        if self.padding == "same":
            pads = []
            for dil, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = dil * (k - 1)
                pads += [total // 2, total - total // 2]
            self._reversed_padding_repeated_twice = pads
        elif self.padding == "valid":
            self._reversed_padding_repeated_twice = [0] * (2 * d)
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(self.padding)
                                                     for _ in range(2)]
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = _empty(shape, dtype, device)
        if bias:
            self.bias = _empty((out_channels,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    # torch's: weight ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias ~ U(+-1/sqrt(fan_in))
    # with fan_in = C_in/groups * prod(kernel) (C_out/groups * ... for transposed), as Linear
    reset_parameters = Linear.reset_parameters

    def extra_repr(self) -> str:
        d = self._dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        fn = self._functional()
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1D convolution over (N, C_in, L) or (C_in, L) inputs.

    Shape: output (N, C_out, L_out) or (C_out, L_out) with
    L_out = floor((L + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1).

    >>> m = fastdl.nn.Conv1d(4, 8, 3)
    >>> m(fastdl.randn(2, 4, 10)).shape
    (2, 8, 8)
    """
    _dims = 1

    @staticmethod
    def _functional():
        return F.conv1d


class Conv2d(_Conv):
    """2D convolution over (N, C_in, H, W) or (C_in, H, W) inputs.

    Shape: output (N, C_out, H_out, W_out) or (C_out, H_out, W_out) with
    H_out = floor((H + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1), same for W_out.

    >>> m = fastdl.nn.Conv2d(3, 16, 3, stride=2, padding=1)
    >>> m(fastdl.randn(2, 3, 32, 32)).shape
    (2, 16, 16, 16)
    """
    _dims = 2

    @staticmethod
    def _functional():
        return F.conv2d


class Conv3d(_Conv):
    """3D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) inputs.

    Shape: output (N, C_out, D_out, H_out, W_out) with
    D_out = floor((D + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1), same for H, W.

    >>> m = fastdl.nn.Conv3d(2, 4, 3)
    >>> m(fastdl.randn(1, 2, 5, 6, 7)).shape
    (1, 4, 3, 4, 5)
    """
    _dims = 3

    @staticmethod
    def _functional():
        return F.conv3d


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}, got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        d = self._dims
        cls = type(self).__name__
        output_size = [int(s) for s in output_size]
        non_spatial = 2 if input.ndim == d + 2 else 1
        if len(output_size) == non_spatial + d:
            output_size = output_size[non_spatial:]
        if len(output_size) != d:
            raise ValueError(f"{cls}: for {input.ndim}D input, output_size must have {d} or "
                             f"{non_spatial + d} elements (got {len(output_size)})")
        result = []
        shape = input.shape
        for i in range(d):
            low = ((shape[i + non_spatial] - 1) * self.stride[i] - 2 * self.padding[i]
                   + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            high = low + self.stride[i] - 1
            if not low <= output_size[i] <= high:
                raise ValueError(f"{cls}: requested an output size of {output_size}, but valid "
                                 f"sizes range from {low} to {high} in dim {i} (for an input "
                                 f"of {tuple(shape[non_spatial:])})")
            result.append(output_size[i] - low)
        return tuple(result)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return self._functional()(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1D convolution (the gradient of Conv1d with respect to its input).

    Shape: input (N, C_in, L) or (C_in, L); output (N, C_out, L_out) with
    L_out = (L - 1)*stride - 2*padding + dilation*(kernel_size-1) + output_padding + 1.

    >>> m = fastdl.nn.ConvTranspose1d(8, 4, 3, stride=2)
    >>> m(fastdl.randn(2, 8, 5)).shape
    (2, 4, 11)
    """
    _dims = 1

    @staticmethod
    def _functional():
        return F.conv_transpose1d


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2D convolution (the gradient of Conv2d with respect to its input).

    Shape: input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out) with
    H_out = (H - 1)*stride - 2*padding + dilation*(kernel_size-1) + output_padding + 1, same for W.

    >>> m = fastdl.nn.ConvTranspose2d(16, 3, 4, stride=2, padding=1)
    >>> m(fastdl.randn(2, 16, 8, 8)).shape
    (2, 3, 16, 16)
    """
    _dims = 2

    @staticmethod
    def _functional():
        return F.conv_transpose2d


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3D convolution (the gradient of Conv3d with respect to its input).

    Shape: input (N, C_in, D, H, W) or (C_in, D, H, W); output (N, C_out, D_out, H_out, W_out)
    with D_out = (D - 1)*stride - 2*padding + dilation*(kernel_size-1) + output_padding + 1, same
    for H, W.

    >>> m = fastdl.nn.ConvTranspose3d(4, 2, 3)
    >>> m(fastdl.randn(1, 4, 3, 4, 5)).shape
    (1, 2, 5, 6, 7)
    """
    _dims = 3

    @staticmethod
    def _functional():
        return F.conv_transpose3d
