"""``interpolate`` (and torch's deprecated ``upsample*`` spellings of it).

Modes nearest, nearest-exact, linear/bilinear/trilinear and bicubic run one C++ kernel each way
(``_C.interpolate_forward`` / ``interpolate_backward``; the backward is the forward's adjoint,
so each op is the other's backward and higher derivatives follow); "area" is
``adaptive_avg_pool``. Source indices and weights are torch's (``align_corners``, and the user's
scale_factor used for the source index unless ``recompute_scale_factor``), so results match
PyTorch's CPU kernels. ``antialias=True`` is upsampling_aa.py's.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from fastdl import _C, backend
from fastdl.autograd.op import defop
from fastdl.nn.functional import pooling as P
from fastdl.nn.functional._checks import check_tensor
from fastdl.nn.functional.upsampling_aa import resample_aa

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

# torch's mode name -> (kernel mode, spatial dims it needs: None = any of 1..3)
_MODES = {"nearest": ("nearest", None), "nearest-exact": ("nearest-exact", None),
          "linear": ("linear", 1), "bilinear": ("linear", 2), "trilinear": ("linear", 3),
          "bicubic": ("cubic", 2), "area": (None, None)}


class InterpSpec:
    __slots__ = ("mode", "align_corners", "scales", "in_size", "out_size")

    def __init__(self, mode, align_corners, scales, in_size, out_size):
        self.mode, self.align_corners, self.scales = mode, align_corners, list(scales)
        self.in_size, self.out_size = tuple(in_size), tuple(out_size)

    def __repr__(self):
        return f"<interpolate {self.mode} {self.in_size} -> {self.out_size}>"


def _interpolate_cpu(x, spec, kernels=_C, xp=np):
    return P._resample(kernels.interpolate_forward, x, spec.out_size, xp, spec.mode,
                       spec.align_corners, spec.scales)


def _interpolate_backward_cpu(g, spec, kernels=_C, xp=np):
    return P._resample(kernels.interpolate_backward, g, spec.in_size, xp, spec.mode,
                       spec.align_corners, spec.scales)


interpolate_op = defop(
    "interpolate", cpu=_interpolate_cpu, cuda=P._cuda(_interpolate_cpu), float_only=True,
    backward=lambda ctx, g: (interpolate_backward_op.apply((g,), *ctx.args),))
interpolate_backward_op = defop(
    "interpolate_backward", cpu=_interpolate_backward_cpu,
    cuda=P._cuda(_interpolate_backward_cpu), float_only=True,
    backward=lambda ctx, g: (interpolate_op.apply((g,), *ctx.args),))


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) or (
        isinstance(v, np.integer))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample (N, C, *spatial) to ``size`` or by ``scale_factor`` (torch's semantics)."""
    fn = "interpolate"
    check_tensor(input, fn)
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate(): mode {mode!r} is not one of "
                                  f"{', '.join(_MODES)}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    x = input._data
    dim = x.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    scale_factors = None
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(x.shape[2:])} and output size of {size}. Please "
                                 "provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "output size in (o1, o2, ...,oK) format.")
            if not all(_is_int(v) for v in size):
                raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, "
                                f"int] or Tuple[int, int, int], but got size with types "
                                f"{[type(v) for v in size]}")
            output_size = [int(v) for v in size]
        else:
            output_size = [int(size)] * dim
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"Input and scale_factor must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(x.shape[2:])} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, "
                                 "d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                                 "format.")
            scale_factors = [float(s) for s in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [math.floor(float(x.shape[i + 2]) * scale_factors[i])
                       for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic") and x.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and "
                         "requires a 4-D tensor as input")
    kernel_mode, needs_dim = _MODES[mode]
    if dim not in (1, 2, 3) or (needs_dim is not None and dim != needs_dim):
        wanted = {1: "3D", 2: "4D", 3: "5D"}.get(needs_dim, "3D, 4D or 5D")
        raise NotImplementedError(f"interpolate(): got {x.ndim}D input, but mode {mode!r} "
                                  f"needs {wanted} input (N, C, *spatial)")
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate(): input must be a floating point tensor, got {x.dtype}")
    if output_size is None:
        # torch's compute_output_size: floor(in * scale) as a double product
        output_size = [int(float(x.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
    in_size = tuple(x.shape[2:])
    if mode == "area":  # torch's area is adaptive_avg_pool, with its checks (an empty output
        return P._adaptive_avg_pool(dim, input, tuple(output_size))  # is allowed)
    if any(s <= 0 for s in in_size) or any(o <= 0 for o in output_size) or x.shape[1] == 0:
        raise RuntimeError(f"interpolate(): input and output sizes should be greater than 0, "
                           f"but got input {tuple(x.shape)} and output size "
                           f"{tuple(output_size)}")
    if x.dtype not in backend.KERNEL_DTYPES:
        raise TypeError(f"interpolate(): input must be float32 or float64, got {x.dtype}")
    if antialias:
        return resample_aa(input, output_size, mode, bool(align_corners),
                           scale_factors or (None, None))
    scales = [0.0] * dim if scale_factors is None else list(scale_factors)
    spec = InterpSpec(kernel_mode, bool(align_corners), scales, in_size, output_size)
    return interpolate_op.apply((input,), spec)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated in torch in favour of ``interpolate``; the same function."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(mode="nearest")`` (deprecated in torch)."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(mode="bilinear", align_corners=True)`` (deprecated in torch)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
