"""Convolutions: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` on fastdl's C++ kernels.

One registered op, ``convolution(input, weight[, bias], stride, padding, dilation, transposed,
output_padding, groups)`` (torch's ``aten::convolution``), serves all six functions:

* forward: ``_C.conv_forward`` (a convolution) or ``_C.conv_backward_input`` (a transposed one,
  which is the adjoint of a convolution with the same weight);
* backward, in registered ops only (so double backward, e.g. a WGAN-GP penalty, needs nothing
  more): the input's gradient is the *other* kind of convolution with the same weight, the
  weight's is ``convolution_backward_weight(x, grad_out)`` (a registered op whose own backward
  is again two convolutions), the bias's is ``convolution_backward_bias`` (a sum over N and the
  plane on the C++ kernel, whose backward is a broadcast).

float32 and float64 run the same C++ kernels (templated), so gradcheck checks our kernels. The
forwards take ``kernels=``/``xp=`` like linalg's ``_mm_cpu``: the CUDA twin is the same function
with ``_C_cuda`` and cupy. Arguments are validated here, before any kernel runs, with torch's
exception classes and messages that show the shapes.
"""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C, backend
from fastdl.autograd.op import defop
from fastdl.backend.pool import result_array
from fastdl.functional._core import cpp_dtype_name, torch_dtype_name
from fastdl.functional.shape import expand, reshape, squeeze, unsqueeze
from fastdl.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]


def _conv_out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _transposed_out_size(size, k, s, p, d, op):
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def _split_bias(rest):
    """(bias or None, the six convolution arguments) from an op forward's trailing arguments."""
    if len(rest) == 7:
        return rest[0], rest[1:]
    return None, rest


def _conv_cpu(x, w, *rest, kernels=_C, xp=np):
    """The convolution op's forward on a kernel set (the CPU's by default; CUDA passes its own
    kernels and cupy). A transposed convolution is conv_backward_input with the same weight."""
    b, (stride, padding, dilation, transposed, output_padding, groups) = _split_bias(rest)
    x = xp.ascontiguousarray(x)
    w = xp.ascontiguousarray(w)
    spatial = x.shape[2:]
    k = w.shape[2:]
    if not transposed:
        o = tuple(_conv_out_size(spatial[i], k[i], stride[i], padding[i], dilation[i])
                  for i in range(len(k)))
        out = result_array((x.shape[0], w.shape[0]) + o, x.dtype, xp)
        kernels.conv_forward(x, w, None if b is None else xp.ascontiguousarray(b), out,
                             list(stride), list(padding), list(dilation), groups)
        return out
    o = tuple(_transposed_out_size(spatial[i], k[i], stride[i], padding[i], dilation[i],
                                   output_padding[i]) for i in range(len(k)))
    out = result_array((x.shape[0], w.shape[1] * groups) + o, x.dtype, xp)
    kernels.conv_backward_input(x, w, out, list(stride), list(padding), list(dilation), groups)
    if b is not None:
        out += b.reshape((1, -1) + (1,) * len(k))
    return out


def _padding_to_reach(target, source, k, stride, padding, dilation):
    """The output_padding that makes a transposed convolution of ``source`` (spatial sizes) come
    out at ``target`` (>= 0; may reach the stride: only validated calls must stay below it)."""
    return tuple(target[i] - _transposed_out_size(source[i], k[i], stride[i], padding[i],
                                                  dilation[i], 0) for i in range(len(k)))


def _crop(t, spatial):
    """``t`` cut to the leading ``spatial`` sizes (a convolution's output can be longer than the
    input a transposed convolution with output_padding >= stride came from)."""
    if tuple(t._data.shape[2:]) == tuple(spatial):
        return t
    return t[(slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)]


def _conv(x, w, stride, padding, dilation, groups, like):
    """The plain convolution of x with w, cut to ``like``'s spatial sizes."""
    zeros = (0,) * len(stride)
    return _crop(convolution_op.apply((x, w), stride, padding, dilation, False, zeros, groups),
                 like._data.shape[2:])


def _conv_transposed_to(x, w, stride, padding, dilation, groups, like):
    """The transposed convolution of x with w, sized like ``like`` (a convolution's input)."""
    op = _padding_to_reach(like._data.shape[2:], x._data.shape[2:], w._data.shape[2:], stride,
                           padding, dilation)
    return convolution_op.apply((x, w), stride, padding, dilation, True, op, groups)


def _convolution_backward(ctx, g):
    x, w = ctx.inputs[0], ctx.inputs[1]
    stride, padding, dilation, transposed, output_padding, groups = ctx.args
    gx = gw = gb = None
    if ctx.edges[0] is not None:
        gx = (_conv(g, w, stride, padding, dilation, groups, x) if transposed
              else _conv_transposed_to(g, w, stride, padding, dilation, groups, x))
    if ctx.edges[1] is not None:
        # y = conv(x, w): dW = bw(x, g);  y = conv_transpose(x, w) is conv's adjoint: dW = bw(g, x)
        a, b = (g, x) if transposed else (x, g)
        gw = backward_weight_op.apply((a, b), tuple(w._data.shape), stride, padding, dilation,
                                      groups)
    if len(ctx.inputs) == 2:
        return gx, gw
    if ctx.edges[2] is not None:
        gb = backward_bias_op.unary(g)
    return gx, gw, gb


def _conv_cuda(x, w, *rest):
    return _conv_cpu(x, w, *rest, kernels=backend.cuda_kernels(), xp=backend.array_module(x))


convolution_op = defop("convolution", cpu=_conv_cpu, cuda=_conv_cuda,
                       backward=_convolution_backward, saves={0: (1,), 1: (0,)}, float_only=True)


def _backward_weight_cpu(x, go, weight_shape, stride, padding, dilation, groups, kernels=_C,
                         xp=np):
    gw = xp.empty(weight_shape, dtype=x.dtype)
    kernels.conv_backward_weight(xp.ascontiguousarray(x), xp.ascontiguousarray(go), gw,
                                 list(stride), list(padding), list(dilation), groups)
    return gw


def _backward_weight_backward(ctx, gg):
    # bw(x, go) is bilinear: <gg, bw(x, go)> = <conv(x, gg), go> = <conv_transpose(go, gg), x>
    x, go = ctx.inputs
    _, stride, padding, dilation, groups = ctx.args
    gx = ggo = None
    if ctx.edges[0] is not None:
        gx = _conv_transposed_to(go, gg, stride, padding, dilation, groups, x)
    if ctx.edges[1] is not None:
        ggo = _conv(x, gg, stride, padding, dilation, groups, go)
    return gx, ggo


def _backward_weight_cuda(x, go, *args):
    return _backward_weight_cpu(x, go, *args, kernels=backend.cuda_kernels(),
                                xp=backend.array_module(x))


backward_weight_op = defop("convolution_backward_weight", cpu=_backward_weight_cpu,
                           cuda=_backward_weight_cuda, backward=_backward_weight_backward, saves={0: (1,), 1: (0,)},
                           float_only=True)


def _backward_bias_cpu(go, kernels=_C, xp=np):
    gb = xp.empty((go.shape[1],), dtype=go.dtype)
    kernels.conv_backward_bias(xp.ascontiguousarray(go), gb)
    return gb


def _backward_bias_backward(ctx, gg):
    shape = ctx.inputs[0]._data.shape
    return (expand(reshape(gg, (1, -1) + (1,) * (len(shape) - 2)), *shape),)


def _backward_bias_cuda(go):
    return _backward_bias_cpu(go, kernels=backend.cuda_kernels(), xp=backend.array_module(go))


backward_bias_op = defop("convolution_backward_bias", cpu=_backward_bias_cpu,
                         cuda=_backward_bias_cuda,
                         backward=_backward_bias_backward, float_only=True)


# ---- argument checks ------------------------------------------------------------------------

def _tuple(value, d, what, fn):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}(): {what} must be an int or a tuple of {d} ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return (int(value),) * d
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and d != 1:
            value = tuple(value) * d
        if len(value) != d or not all(isinstance(v, (int, np.integer)) and
                                      not isinstance(v, bool) for v in value):
            raise RuntimeError(f"{fn}(): expected {what} to be a single integer value or a list "
                               f"of {d} values to match the convolution dimensions, but got "
                               f"{what}={list(value)}")
        return tuple(int(v) for v in value)
    raise TypeError(f"{fn}(): {what} must be an int or a tuple of {d} ints, got "
                    f"{type(value).__name__}")


def _check_tensors(fn, input, weight, bias, transposed):
    for t, name in ((input, "input"), (weight, "weight"), (bias, "bias")):
        if name == "bias" and t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be a Tensor, got "
                            f"{type(t).__name__}")
        if t._data.dtype not in backend.KERNEL_DTYPES:
            raise TypeError(f"{fn}(): '{name}' must be a float32 or float64 tensor, got dtype "
                            f"{t._data.dtype} with shape {tuple(t._data.shape)}")
    # torch's words and order: its convolution checks bias against input first; the
    # transposed kernels take any bias dtype (_conv_transposend casts it) and only check weight
    xd, wd = input._data.dtype, weight._data.dtype
    if not transposed and bias is not None and bias._data.dtype != xd:
        raise RuntimeError(f"Input type ({cpp_dtype_name(xd)}) and bias type "
                           f"({cpp_dtype_name(bias._data.dtype)}) should be the same")
    if wd != xd:
        raise RuntimeError(f"expected scalar type {torch_dtype_name(xd)} but found "
                           f"{torch_dtype_name(wd)}")


def _prepare(fn, d, input, weight, bias, stride, padding, dilation, groups, transposed,
             output_padding=0):
    """Validate; returns (input batched, unbatched?, stride, padding, dilation, output_padding,
    groups, crop) where padding is a tuple and crop says 'same' needs its extra right pad."""
    _check_tensors(fn, input, weight, bias, transposed)
    x, w = input._data, weight._data
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {fn}, "
                           f"but got input of size: {list(x.shape)}")
    if w.ndim != d + 2:
        raise RuntimeError(f"{fn}(): weight must be {d + 2}-D (out_channels, in_channels / "
                           f"groups, *kernel), got shape {tuple(w.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{fn}(): groups must be an int, got {groups!r}")
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError(f"{fn}(): non-positive groups is not supported, got {groups}")
    stride = _tuple(stride, d, "stride", fn)
    dilation = _tuple(dilation, d, "dilation", fn)
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{fn}(): non-positive stride is not supported, got {stride}")
    if any(v <= 0 for v in dilation):
        raise RuntimeError(f"{fn}(): non-positive dilation is not supported, got {dilation}")
    k = w.shape[2:]
    same = False
    if isinstance(padding, str):
        if transposed:
            raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
        if padding == "valid":
            padding = (0,) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(f"{fn}(): padding='same' is not supported for strided "
                                   f"convolutions (stride={stride})")
            totals = [dilation[i] * (k[i] - 1) for i in range(d)]
            # torch pads total // 2 on the left and the rest on the right: run the larger pad on
            # both sides, then drop the first output where they differ (stride is 1)
            padding = tuple(t - t // 2 for t in totals)
            same = tuple(t % 2 == 1 for t in totals)
            if not any(same):
                same = False
        else:
            raise RuntimeError(f"{fn}(): Invalid padding string: {padding!r} (expected 'same' "
                               "or 'valid')")
    else:
        padding = _tuple(padding, d, "padding", fn)
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{fn}(): negative padding is not supported, got {padding}")
    unbatched = x.ndim == d + 1
    if unbatched:
        input = unsqueeze(input, 0)
        x = input._data
    C = x.shape[1]
    if transposed:
        output_padding = _tuple(output_padding, d, "output_padding", fn)
        if any(p < 0 for p in output_padding):
            raise RuntimeError(f"{fn}(): negative output_padding is not supported, got "
                               f"{output_padding}")
        for i in range(d):
            if output_padding[i] >= stride[i] and output_padding[i] >= dilation[i]:
                raise RuntimeError(f"{fn}(): output padding must be smaller than either stride "
                                   f"or dilation, but got output_padding={output_padding}, "
                                   f"stride={stride}, dilation={dilation}")
        if w.shape[0] != C:
            raise RuntimeError(f"{fn}(): Given transposed=1, weight of size {list(w.shape)}, "
                               f"expected input{list(x.shape)} to have {w.shape[0]} channels, "
                               f"but got {C} channels instead")
        if C % groups:
            raise RuntimeError(f"{fn}(): Given groups={groups}, expected weight to be divisible "
                               f"by {groups} at dimension 0, but got weight of size "
                               f"{list(w.shape)} instead")
        out_channels = w.shape[1] * groups
        out = tuple(_transposed_out_size(x.shape[2 + i], k[i], stride[i], padding[i],
                                         dilation[i], output_padding[i]) for i in range(d))
        if any(o <= 0 for o in out):
            raise RuntimeError(f"{fn}(): input {list(x.shape)} with weight {list(w.shape)}, "
                               f"stride {stride}, padding {padding}, dilation {dilation} gives "
                               f"a non-positive output size {out}")
    else:
        output_padding = (0,) * d
        if w.shape[0] % groups:
            raise RuntimeError(f"{fn}(): Given groups={groups}, expected weight to be divisible "
                               f"by {groups} at dimension 0, but got weight of size "
                               f"{list(w.shape)} instead")
        if w.shape[1] * groups != C:
            raise RuntimeError(f"{fn}(): Given groups={groups}, weight of size {list(w.shape)}, "
                               f"expected input{list(x.shape)} to have {w.shape[1] * groups} "
                               f"channels, but got {C} channels instead")
        out_channels = w.shape[0]
        padded = tuple(x.shape[2 + i] + 2 * padding[i] - (same[i] if same else 0)
                       for i in range(d))
        span = tuple(dilation[i] * (k[i] - 1) + 1 for i in range(d))
        if any(padded[i] < span[i] for i in range(d)):
            raise RuntimeError(f"{fn}(): Calculated padded input size per channel: {padded}. "
                               f"Kernel size (dilated): {span}. Kernel size can't be greater "
                               f"than actual input size (input {list(x.shape)}, weight "
                               f"{list(w.shape)})")
    if any(s == 0 for s in k):
        raise RuntimeError(f"{fn}(): weight {list(w.shape)} has an empty kernel")
    if bias is not None and bias._data.shape != (out_channels,):
        raise RuntimeError(f"{fn}(): Given weight of size {list(w.shape)}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of size "
                           f"{list(bias._data.shape)} instead")
    return input, unbatched, stride, padding, dilation, output_padding, groups, same


def _convnd(fn, d, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched, stride, padding, dilation, _, groups, same = _prepare(
        fn, d, input, weight, bias, stride, padding, dilation, groups, False)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = convolution_op.apply(inputs, stride, padding, dilation, False, (0,) * d, groups)
    if same:  # 'same' with an odd total: the left pad is one smaller, drop the first output
        out = out[(slice(None), slice(None)) + tuple(slice(1, None) if s else slice(None)
                                                     for s in same)]
    return squeeze(out, 0) if unbatched else out


def _conv_transposend(fn, d, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    x, unbatched, stride, padding, dilation, output_padding, groups, _ = _prepare(
        fn, d, input, weight, bias, stride, padding, dilation, groups, True, output_padding)
    if bias is not None and bias._data.dtype != x._data.dtype:
        bias = bias.to(x._data.dtype)  # torch adds it in input's dtype; its gradient casts back
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = convolution_op.apply(inputs, stride, padding, dilation, True, output_padding, groups)
    return squeeze(out, 0) if unbatched else out


@autocast_op("conv1d")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) or (C, L) input, torch's signature; padding may be an int,
    a tuple, 'valid' or 'same'."""
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv2d")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C, H, W) or (C, H, W) input (see conv1d)."""
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv3d")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W) input (see conv1d)."""
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution (the adjoint of conv1d); weight (C_in, C_out / groups, k)."""
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


@autocast_op("conv_transpose2d")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution (see conv_transpose1d)."""
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


@autocast_op("conv_transpose3d")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution (see conv_transpose1d)."""
    return _conv_transposend("conv_transpose3d", 3, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)
