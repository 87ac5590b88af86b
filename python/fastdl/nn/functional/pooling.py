"""Pooling: max, average, adaptive average/max and max-unpool over 1 to 3 spatial dims.

Each op runs one C++ kernel (``_C``, templated on float/double, so float64 gradchecks run the
same code), and every backward is again a registered op, so higher derivatives follow:

=====================  ===========================  ==========================================
op                     backward                     backward's backward
=====================  ===========================  ==========================================
max_pool (+indices)    pool_scatter (g into the     pool_gather (a gradient read back at the
adaptive_max_pool      argmax positions, added)     same indices) <-> pool_scatter
max_unpool             pool_gather                  pool_scatter
avg_pool               avg_pool_backward            avg_pool (they are each other's adjoint)
adaptive_avg_pool      adaptive_avg_pool_backward   adaptive_avg_pool
=====================  ===========================  ==========================================

The max pools' indices travel in a ``Saved`` (or as an argument): the backward needs only them,
not the input's values. Forward functions take ``kernels=``/``xp=`` (``_C``/numpy by default)
so a CUDA twin with the same binding names is a ``cuda=`` away.

Output sizes, argument checks and torch's error classes are in Python, before any kernel runs.
"""
from __future__ import annotations

import operator

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C, backend
from fastdl.autograd.grad_mode import grad_wanted
from fastdl.autograd.op import Saved, defop
from fastdl.functional.shape import squeeze, unsqueeze
from fastdl.nn.functional._checks import check_tensor
from fastdl.tensor import _wrap

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d",
           "adaptive_max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices",
           "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]

class PoolSpec:
    """Geometry of one pooling call: spatial sizes in and out, window parameters (d each)."""

    __slots__ = ("in_size", "out_size", "kernel", "stride", "padding", "dilation", "ceil_mode",
                 "count_include_pad", "divisor_override")

    def __init__(self, in_size, out_size, kernel=(), stride=(), padding=(), dilation=(),
                 ceil_mode=False, count_include_pad=True, divisor_override=0):
        self.in_size, self.out_size = tuple(in_size), tuple(out_size)
        self.kernel, self.stride, self.padding = list(kernel), list(stride), list(padding)
        self.dilation = list(dilation)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def __repr__(self):
        return f"<pool {self.in_size} -> {self.out_size}>"


# ---- kernels (numpy by default; the CUDA twin passes its kernel module and cupy) -------------

def _empty(xp, x, spatial, dtype=None):
    return xp.empty(tuple(x.shape[:2]) + tuple(spatial), dtype=x.dtype if dtype is None else dtype)


def _max_pool_cpu(x, spec, saved, kernels=_C, xp=np):
    x = xp.ascontiguousarray(x)
    out = _empty(xp, x, spec.out_size)
    ind = None if saved is None else _empty(xp, x, spec.out_size, xp.int64)
    kernels.max_pool_forward(x, out, ind, spec.kernel, spec.stride, spec.padding, spec.dilation)
    if saved is not None:
        saved.values = ind
    return out


def _adaptive_max_pool_cpu(x, spec, saved, kernels=_C, xp=np):
    x = xp.ascontiguousarray(x)
    out = _empty(xp, x, spec.out_size)
    ind = _empty(xp, x, spec.out_size, xp.int64)
    kernels.adaptive_max_pool_forward(x, out, ind)
    saved.values = ind
    return out


def _resample(kernel, a, size, xp, *args):
    """``kernel(a, out, *args)`` into a fresh (N, C, *size) array (a made C-contiguous)."""
    a = xp.ascontiguousarray(a)
    out = _empty(xp, a, size)
    kernel(a, out, *args)
    return out


def _outside_plane(indices, in_size, may_be_outside):
    """Where an index points outside its plane (None: nowhere): a dilated window that covers
    only padding gives -inf with such an index (torch's too), and takes no gradient. Looked
    for only when the window is dilated (``may_be_outside``): two passes over the indices."""
    plane = int(np.prod(in_size))
    if not may_be_outside or indices.size == 0 or (int(indices.min()) >= 0
                                                   and int(indices.max()) < plane):
        return None
    return (indices < 0) | (indices >= plane)


def _pool_scatter_cpu(g, indices, in_size, dilated=False, kernels=_C, xp=np):
    """grad_input (N, C, *in_size): zeros, plus g added at the indices (per plane)."""
    g = xp.ascontiguousarray(g)
    outside = _outside_plane(indices, in_size, dilated)
    if outside is not None:
        g, indices = xp.where(outside, 0, g), xp.where(outside, 0, indices)
    out = _empty(xp, g, in_size)
    kernels.max_pool_backward(g, indices, out)
    return out


def _pool_gather_cpu(src, indices, in_size, dilated=False, kernels=_C, xp=np):
    """src's planes read at the indices (indices' shape); 0 where an index is outside."""
    src = xp.ascontiguousarray(src)
    outside = _outside_plane(indices, in_size, dilated)
    out = xp.empty(indices.shape, dtype=src.dtype)
    kernels.gather_by_index(src, indices if outside is None else xp.where(outside, 0, indices),
                            out)
    if outside is not None:
        out[outside] = 0
    return out


def _max_unpool_cpu(x, indices, out_size, kernels=_C, xp=np):
    x = xp.ascontiguousarray(x)
    out = _empty(xp, x, out_size)
    kernels.max_unpool_forward(x, indices, out)
    return out


def _avg_args(spec):
    return (spec.kernel, spec.stride, spec.padding, spec.ceil_mode, spec.count_include_pad,
            spec.divisor_override)


def _avg_pool_cpu(x, spec, kernels=_C, xp=np):
    return _resample(kernels.avg_pool_forward, x, spec.out_size, xp, *_avg_args(spec))


def _avg_pool_backward_cpu(g, spec, kernels=_C, xp=np):
    return _resample(kernels.avg_pool_backward, g, spec.in_size, xp, *_avg_args(spec))


def _adaptive_avg_pool_cpu(x, spec, kernels=_C, xp=np):
    return _resample(kernels.adaptive_avg_pool_forward, x, spec.out_size, xp)


def _adaptive_avg_pool_backward_cpu(g, spec, kernels=_C, xp=np):
    return _resample(kernels.adaptive_avg_pool_backward, g, spec.in_size, xp)


def _cuda(cpu_forward):
    """The op's CUDA forward: ``cpu_forward`` on fastdl._C_cuda's kernels and cupy arrays."""
    def forward(first, *args):
        return cpu_forward(first, *args, kernels=backend.cuda_kernels(),
                           xp=backend.array_module(first))
    return forward


# ---- ops -------------------------------------------------------------------------------------

def _indices_of(saved):
    if saved.values is None:
        raise RuntimeError("max pool: the forward ran without indices, so it has no backward")
    return saved.values


def _max_pool_backward(ctx, g):
    spec, saved = ctx.args
    dilated = any(d > 1 for d in spec.dilation)
    return (pool_scatter_op.apply((g,), _indices_of(saved), spec.in_size, dilated),)


def _scatter_backward(ctx, g):
    return (pool_gather_op.apply((g,), *ctx.args),)


def _gather_backward(ctx, g):
    return (pool_scatter_op.apply((g,), *ctx.args),)


def _max_unpool_backward(ctx, g):
    indices, out_size = ctx.args
    return (pool_gather_op.apply((g,), indices, out_size),)


max_pool_op = defop("max_pool", cpu=_max_pool_cpu, cuda=_cuda(_max_pool_cpu),
                    backward=_max_pool_backward, float_only=True)
adaptive_max_pool_op = defop("adaptive_max_pool", cpu=_adaptive_max_pool_cpu,
                             cuda=_cuda(_adaptive_max_pool_cpu), backward=_max_pool_backward,
                             float_only=True)
pool_scatter_op = defop("pool_scatter", cpu=_pool_scatter_cpu, cuda=_cuda(_pool_scatter_cpu),
                        backward=_scatter_backward, float_only=True)
pool_gather_op = defop("pool_gather", cpu=_pool_gather_cpu, cuda=_cuda(_pool_gather_cpu),
                       backward=_gather_backward, float_only=True)
max_unpool_op = defop("max_unpool", cpu=_max_unpool_cpu, cuda=_cuda(_max_unpool_cpu),
                      backward=_max_unpool_backward, float_only=True)
avg_pool_op = defop("avg_pool", cpu=_avg_pool_cpu, cuda=_cuda(_avg_pool_cpu), float_only=True,
                    backward=lambda ctx, g: (avg_pool_backward_op.apply((g,), *ctx.args),))
avg_pool_backward_op = defop("avg_pool_backward", cpu=_avg_pool_backward_cpu,
                             cuda=_cuda(_avg_pool_backward_cpu), float_only=True,
                             backward=lambda ctx, g: (avg_pool_op.apply((g,), *ctx.args),))
adaptive_avg_pool_op = defop(
    "adaptive_avg_pool", cpu=_adaptive_avg_pool_cpu, cuda=_cuda(_adaptive_avg_pool_cpu),
    float_only=True,
    backward=lambda ctx, g: (adaptive_avg_pool_backward_op.apply((g,), *ctx.args),))
adaptive_avg_pool_backward_op = defop(
    "adaptive_avg_pool_backward", cpu=_adaptive_avg_pool_backward_cpu,
    cuda=_cuda(_adaptive_avg_pool_backward_cpu), float_only=True,
    backward=lambda ctx, g: (adaptive_avg_pool_op.apply((g,), *ctx.args),))


# ---- argument handling -----------------------------------------------------------------------

def _int(v, fn, name):
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{fn}(): {name} must be an int or a tuple of ints, got "
                        f"{type(v).__name__} {v!r}") from None


def _ntuple(value, d, fn, name, allow_empty=False):
    """An int, or a sequence of 1 or d ints, as a d-tuple (torch's rule for pool arguments)."""
    if isinstance(value, (tuple, list)):
        items = [_int(v, fn, name) for v in value]
        if len(items) == 1:
            return tuple(items * d)
        if len(items) == d or (allow_empty and not items):
            return tuple(items)
        raise RuntimeError(f"{fn}(): {name} must either be a single int, or a tuple of {d} "
                           f"ints, got {tuple(value)}")
    return (_int(value, fn, name),) * d


def _check_input(input, d, fn):
    """A float32/float64 tensor of shape (C, *spatial) or (N, C, *spatial) with d spatial
    dims; returns (batched tensor, was_unbatched). The batch dim may be empty, no other."""
    check_tensor(input, fn)
    x = input._data
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{fn}(): expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) "
                           f"input, got shape {tuple(x.shape)}")
    if x.dtype not in backend.KERNEL_DTYPES:
        raise TypeError(f"{fn}(): input must be float32 or float64, got {x.dtype} with shape "
                        f"{tuple(x.shape)}")
    first = x.ndim - d - 1  # the channel dim; the batch dim may be empty
    if any(s == 0 for s in x.shape[first:]):
        raise RuntimeError(f"{fn}(): expected non-empty channel and spatial dims (the batch may "
                           f"be empty), got input of shape {tuple(x.shape)}")
    if x.ndim == d + 1:
        return unsqueeze(input, 0), True
    return input, False


def _pool_out_size(size, k, s, p, dil, ceil_mode):
    """torch's pooling_output_shape."""
    out = (size + 2 * p - dil * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _window_args(fn, d, kernel_size, stride, padding, dilation):
    kernel = _ntuple(kernel_size, d, fn, "kernel_size")
    stride = kernel if stride is None else _ntuple(stride, d, fn, "stride", allow_empty=True)
    if not stride:
        stride = kernel
    padding = _ntuple(padding, d, fn, "padding")
    dilation = _ntuple(dilation, d, fn, "dilation")
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{fn}(): kernel_size must be greater than zero, got {kernel}")
    if any(v <= 0 for v in stride):
        raise RuntimeError(f"{fn}(): stride must be greater than zero, got {stride}")
    if any(v <= 0 for v in dilation):
        raise RuntimeError(f"{fn}(): dilation must be greater than zero, got {dilation}")
    if any(v < 0 for v in padding):
        raise RuntimeError(f"{fn}(): padding must be non-negative, got {padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise RuntimeError(f"{fn}(): pad should be at most half of kernel size, got "
                           f"padding={padding} and kernel_size={kernel}")
    return kernel, stride, padding, dilation


def _out_sizes(fn, in_size, kernel, stride, padding, dilation, ceil_mode):
    out = tuple(_pool_out_size(i, k, s, p, dl, ceil_mode)
                for i, k, s, p, dl in zip(in_size, kernel, stride, padding, dilation))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{fn}(): given input size {tuple(in_size)} (kernel_size={kernel}, "
                           f"stride={stride}, padding={padding}, dilation={dilation}), the "
                           f"calculated output size {out} is too small")
    return out


def _unbatch(t, unbatched):
    return squeeze(t, 0) if unbatched else t


# ---- max pool --------------------------------------------------------------------------------

def _max_pool(d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    fn = f"max_pool{d}d"
    kernel, stride, padding, dilation = _window_args(fn, d, kernel_size, stride, padding,
                                                     dilation)
    x, unbatched = _check_input(input, d, fn)
    in_size = x._data.shape[2:]
    spec = PoolSpec(in_size, _out_sizes(fn, in_size, kernel, stride, padding, dilation,
                                        ceil_mode),
                    kernel, stride, padding, dilation, ceil_mode)
    saved = Saved() if return_indices or grad_wanted(x) else None
    out = _unbatch(max_pool_op.apply((x,), spec, saved), unbatched)
    if not return_indices:
        return out
    indices = saved.values
    return out, _wrap(indices[0] if unbatched else indices)


@autocast_op("max_pool1d")
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of (N, C, L) or (C, L); with ``return_indices`` also the flat
    position of each maximum in its input plane."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@autocast_op("max_pool2d")
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@autocast_op("max_pool3d")
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- average pool ----------------------------------------------------------------------------

def _avg_pool(d, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    fn = f"avg_pool{d}d"
    kernel, stride, padding, _ = _window_args(fn, d, kernel_size, stride, padding, 1)
    if divisor_override is not None:
        divisor_override = _int(divisor_override, fn, "divisor_override")
        if divisor_override == 0:
            raise RuntimeError(f"{fn}(): divisor must be not zero")
    check_tensor(input, fn)
    if d == 2 and input.ndim < 3:  # torch's avg_pool2d reads size(-3) before any check
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got -3)")
    x, unbatched = _check_input(input, d, fn)
    in_size = x._data.shape[2:]
    if d == 3 and any(n < k for n, k in zip(in_size, kernel)):
        # torch's avg_pool3d (only it) compares the unpadded input with the kernel
        raise RuntimeError(f"{fn}(): input image (T: {in_size[0]} H: {in_size[1]} W: "
                           f"{in_size[2]}) smaller than kernel size (kT: {kernel[0]} kH: "
                           f"{kernel[1]} kW: {kernel[2]})")
    spec = PoolSpec(in_size, _out_sizes(fn, in_size, kernel, stride, padding, (1,) * d,
                                        ceil_mode),
                    kernel, stride, padding, (1,) * d, bool(ceil_mode), bool(count_include_pad),
                    divisor_override or 0)
    return _unbatch(avg_pool_op.apply((x,), spec), unbatched)


@autocast_op("avg_pool1d")
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over sliding windows (zero padding counted when ``count_include_pad``)."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


@autocast_op("avg_pool2d")
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


@autocast_op("avg_pool3d")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---- adaptive pools --------------------------------------------------------------------------

def _adaptive_size(output_size, d, in_size, fn):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != d:
            raise RuntimeError(f"{fn}(): output_size must have {d} elements, got "
                               f"{tuple(output_size)}")
        sizes = tuple(i if o is None else _int(o, fn, "output_size")
                      for o, i in zip(output_size, in_size))
    else:
        sizes = (_int(output_size, fn, "output_size"),) * d
    if any(o < 0 for o in sizes):
        raise RuntimeError(f"{fn}(): output_size must be non-negative, got {sizes}")
    return sizes


def _check_adaptive_rank(d, input, output_size, fn):
    """torch.nn.functional's own check for the 2-d and 3-d adaptive pools given a tuple
    output_size (_list_with_default): a ValueError before the kernel's RuntimeError."""
    if d > 1 and isinstance(output_size, (tuple, list)):
        check_tensor(input, fn)
        if input._data.ndim <= len(output_size):
            raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")


def _adaptive_avg_pool(d, input, output_size):
    fn = f"adaptive_avg_pool{d}d"
    _check_adaptive_rank(d, input, output_size, fn)
    x, unbatched = _check_input(input, d, fn)
    in_size = x._data.shape[2:]
    spec = PoolSpec(in_size, _adaptive_size(output_size, d, in_size, fn))
    return _unbatch(adaptive_avg_pool_op.apply((x,), spec), unbatched)


@autocast_op("adaptive_avg_pool1d")
def adaptive_avg_pool1d(input, output_size):
    """Mean over torch's adaptive windows: [floor(i*In/Out), ceil((i+1)*In/Out))."""
    return _adaptive_avg_pool(1, input, output_size)


@autocast_op("adaptive_avg_pool2d")
def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_pool(2, input, output_size)


@autocast_op("adaptive_avg_pool3d")
def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_pool(3, input, output_size)


def _adaptive_max_pool(d, input, output_size, return_indices):
    fn = f"adaptive_max_pool{d}d"
    _check_adaptive_rank(d, input, output_size, fn)
    x, unbatched = _check_input(input, d, fn)
    in_size = x._data.shape[2:]
    spec = PoolSpec(in_size, _adaptive_size(output_size, d, in_size, fn))
    saved = Saved()
    out = _unbatch(adaptive_max_pool_op.apply((x,), spec, saved), unbatched)
    if not return_indices:
        return out
    indices = saved.values
    return out, _wrap(indices[0] if unbatched else indices)


@autocast_op("adaptive_max_pool1d")
def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_pool(1, input, output_size, return_indices)


@autocast_op("adaptive_max_pool2d")
def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool(2, input, output_size, return_indices)


@autocast_op("adaptive_max_pool3d")
def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_pool(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_pool(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_pool(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_pool(3, input, output_size, True)


# ---- max unpool ------------------------------------------------------------------------------

def _unpool_output_size(in_size, kernel, stride, padding, output_size, d):
    """torch's _unpool_output_size (ValueError for an output size it cannot come from)."""
    default = [(i - 1) * s + k - 2 * p for i, k, s, p in zip(in_size, kernel, stride, padding)]
    if output_size is None:
        return tuple(default)
    output_size = [int(v) for v in output_size]
    if len(output_size) == d + 2:
        output_size = output_size[2:]
    if len(output_size) != d:
        raise ValueError(f"output_size should be a sequence containing {d} or {d + 2} "
                         f"elements, but it has a length of '{len(output_size)}'")
    for i in range(d):
        lo, hi = default[i] - stride[i], default[i] + stride[i]
        if not lo < output_size[i] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {i} must be between '
                             f'{lo} and {hi})')
    return tuple(output_size)


def _max_unpool(d, input, indices, kernel_size, stride, padding, output_size):
    fn = f"max_unpool{d}d"
    check_tensor(indices, fn, "indices")
    kernel = _ntuple(kernel_size, d, fn, "kernel_size")
    stride = kernel if stride is None else _ntuple(stride, d, fn, "stride")
    padding = _ntuple(padding, d, fn, "padding")
    x, unbatched = _check_input(input, d, fn)
    idx = indices._data
    if idx.dtype != np.int64:
        raise TypeError(f"{fn}(): indices must be an int64 tensor, got {idx.dtype}")
    if tuple(idx.shape) != tuple(input._data.shape):
        raise RuntimeError(f"{fn}(): expected indices of the input's shape "
                           f"{tuple(input._data.shape)}, got {tuple(idx.shape)}")
    if unbatched:
        idx = idx[None]
    out_size = _unpool_output_size(x._data.shape[2:], kernel, stride, padding, output_size, d)
    if any(o < 0 for o in out_size):  # torch.nn.functional's check, a ValueError there
        raise ValueError(f"max_unpooling: output_size must contain non-negative spatial "
                         f"dimensions, but got output_size {out_size}")
    plane = int(np.prod(out_size))
    if plane == 0:  # torch returns the empty output (the indices are not looked at)
        n, c = x._data.shape[:2]
        empty = x.reshape(n, c, -1)[:, :, :0].reshape((n, c) + tuple(out_size))
        return _unbatch(empty, unbatched)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        raise RuntimeError(f"{fn}(): found an invalid max index {int(idx.max())} (output "
                           f"volume {out_size}, the indices must lie in [0, {plane}))")
    idx = np.ascontiguousarray(idx) if type(idx) is np.ndarray else idx
    return _unbatch(max_unpool_op.apply((x,), idx, out_size), unbatched)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: input values put back at ``indices``, zeros
    elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


@autocast_op("max_unpool2d")
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


@autocast_op("max_unpool3d")
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
