"""``Identity``, ``Linear``, ``Bilinear``, ``Flatten``, ``Unflatten``."""
from __future__ import annotations

import math

import numpy as np

from fastdl.functional import shape as S
from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.modules.module import Module
from fastdl.nn.parameter import Parameter
from fastdl.tensor import as_dtype, get_default_dtype


def _empty(shape, dtype, device):
    data = np.empty(shape, dtype=as_dtype(dtype or get_default_dtype()))
    if device is not None and str(device).startswith("cuda"):
        from fastdl.tensor import _to_device_array
        data = _to_device_array(data, device)
    return Parameter(data)


def _check_features(name, **sizes):
    for key, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}: {key} must be a non-negative int, got {value!r}")


class Identity(Module):
    """Returns its input (arguments are accepted and ignored, as in torch).

    Shape: output the same as input.

    >>> m = fastdl.nn.Identity(54, unused="x")
    >>> x = fastdl.ones(2, 3)
    >>> m(x) is x
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features).

    Initialized like torch: W ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and b ~ U(-1/sqrt(in), 1/sqrt(in)).

    Shape: input (*, in_features); output (*, out_features).

    >>> m = fastdl.nn.Linear(3, 4)
    >>> m(fastdl.ones(2, 3)).shape, m.weight.shape
    ((2, 4), (4, 3))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = _empty((out_features, in_features), dtype, device)
        if bias:
            self.bias = _empty((out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y = x1^T A x2 + b with A of shape (out_features, in1_features, in2_features).

    Shape: input1 (*, in1_features), input2 (*, in2_features); output (*, out_features).

    >>> m = fastdl.nn.Bilinear(3, 4, 5)
    >>> m(fastdl.randn(2, 3), fastdl.randn(2, 4)).shape
    (2, 5)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        _check_features("Bilinear", in1_features=in1_features, in2_features=in2_features,
                        out_features=out_features)
        self.in1_features = int(in1_features)
        self.in2_features = int(in2_features)
        self.out_features = int(out_features)
        self.weight = _empty((out_features, in1_features, in2_features), dtype, device)
        if bias:
            self.bias = _empty((out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one (default: all but the batch dim).

    Shape: (N, *dims) -> (N, prod(dims)) by default.

    >>> fastdl.nn.Flatten()(fastdl.ones(2, 3, 4)).shape
    (2, 12)
    >>> fastdl.nn.Flatten(0, 1)(fastdl.ones(2, 3, 4)).shape
    (6, 4)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return S.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``.

    Shape: (*, prod(unflattened_size), *) -> (*, *unflattened_size, *) at dim.

    >>> fastdl.nn.Unflatten(1, (2, 3))(fastdl.ones(4, 6)).shape
    (4, 2, 3)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        return S.unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
