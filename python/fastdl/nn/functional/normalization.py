"""``batch_norm`` and ``layer_norm``: one op each over the normalized axes, as in PyTorch.

With xhat = (x - mean) * invstd over n values (the forward leaves mean, var, invstd and xhat in
``Saved``), out = xhat * weight + bias. The input gradient is the ``normalize_backward`` op
    dx = invstd * P(dy),  P(u) = u - mean(u) - xhat * mean(u * xhat),  dy = g * weight,
when the statistics come from the batch, and dy * invstd when they are fixed (eval mode); the
weight's gradient is sum(g * normalize(x)). ``normalize_backward``'s own backward is written
with registered ops (P is self-adjoint), for a cotangent v:
    d/dg = weight * invstd * P(v),   d/dweight = sum(g * invstd * P(v)),
    d/dx = -invstd * (xhat * mean(v * dx) + mean(v * xhat) * dx + mean(dy * xhat) * invstd P(v)),
so higher derivatives are exact with no second implementation.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C
from fastdl.autograd.grad_mode import grad_wanted
from fastdl.autograd.op import defop
from fastdl.backend import kernel_arrays
from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import check_float, check_tensor
from fastdl.nn.functional._norm_dtypes import check_norm_dtypes
from fastdl.autograd.op import Saved
from fastdl.tensor import _wrap


class _NormSpec:
    """Axes normalized over, how weight/bias broadcast, fixed statistics (eval) or None."""

    __slots__ = ("axes", "n", "param_view", "param_axes", "eps", "fixed", "has_w", "has_b",
                 "per_channel", "per_row", "batch_stats")

    def __init__(self, axes, n, param_view, param_axes, eps, fixed, has_w, has_b,
                 per_channel=False, batch_stats=False):
        self.axes, self.n, self.param_view, self.param_axes = axes, n, param_view, param_axes
        self.eps, self.fixed, self.has_w, self.has_b = eps, fixed, has_w, has_b
        # batch_norm with batch statistics: statistics per channel (dim 1) of an (N, C, *)
        # input, which the C++ kernels (_C.batch_norm_*) compute
        self.per_channel = per_channel
        # layer_norm whose forward ran the per-row C++ kernels (_C.layer_norm_*): statistics per
        # row of the (rows, n) view, xhat not stored
        self.per_row = False
        # statistics as ATen's batch_norm computes them (batch_norm, instance_norm): see
        # batch_invstd
        self.batch_stats = batch_stats

    def __repr__(self):
        return f"<normalize over {self.axes}>"

    def params(self, tensors):
        """(weight or None, bias or None) from the inputs after x."""
        it = iter(tensors)
        return (next(it) if self.has_w else None), (next(it) if self.has_b else None)


def batch_invstd(var, eps):
    """1 / sqrt(var + eps) as ATen's batch_norm takes it (its InvStd): 0 where var and eps are
    both 0, so with eps=0 a constant channel normalizes to 0 (and takes no gradient) instead of
    0 * inf = NaN. A negative eps is not refused there: NaN where var + eps < 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        invstd = 1.0 / np.sqrt(var + eps)
    if eps == 0:
        invstd[var == 0] = 0
    return invstd


def _norm_forward(x, *rest):
    *params, spec, saved = rest
    w, b = spec.params(params)
    if spec.fixed is None:
        mean = x.mean(axis=spec.axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=spec.axes, keepdims=True)
        if spec.batch_stats:
            invstd = batch_invstd(var, spec.eps)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):  # eps <= 0: inf or NaN, silent
                invstd = 1.0 / np.sqrt(var + spec.eps)
    else:
        (mean, invstd), var = spec.fixed, None
        centered = x - mean
    with np.errstate(invalid="ignore"):  # 0 * inf where eval's running var + eps is 0
        xhat = centered * invstd
    saved.values = mean, var, invstd, xhat
    out = xhat if w is None else xhat * w.reshape(spec.param_view)
    if b is not None:
        out = out + b.reshape(spec.param_view)
    return out.astype(x.dtype, copy=False)


def _batch_norm_forward(x, *rest):
    """batch_norm's forward: the per-channel C++ kernel for batch statistics on contiguous numpy
    arrays (xhat is then not stored: ``_xhat`` recomputes it if a formula needs it), else the
    array version."""
    *params, spec, saved = rest
    # eps <= 0: the kernel's 1 / sqrt(var + eps) has no zero-variance rule (batch_invstd)
    if spec.fixed is not None or not spec.per_channel or not spec.eps > 0 or \
            not kernel_arrays(x, *params):
        return _norm_forward(x, *rest)
    w, b = spec.params(params)
    channels = x.shape[1]
    out = np.empty_like(x)
    mean, var, invstd = (np.empty(channels, x.dtype) for _ in range(3))
    _C.batch_norm_forward_train(x, w, b, out, mean, var, invstd, spec.eps)
    view = spec.param_view
    saved.values = mean.reshape(view), var.reshape(view), invstd.reshape(view), None
    return out


def _layer_norm_forward(x, *rest):
    """layer_norm's forward: the per-row C++ kernel on contiguous numpy float arrays (mean and
    invstd per row saved, xhat recomputed by ``_xhat`` if a formula needs it), else the array
    version."""
    *params, spec, saved = rest
    if x.size == 0 or not kernel_arrays(x, *params):
        return _norm_forward(x, *rest)
    w, b = spec.params(params)
    out, mean, invstd = _layer_norm_kernel(x, w, b, spec.n, spec.eps)
    stat_shape = x.shape[:x.ndim - len(spec.axes)] + (1,) * len(spec.axes)
    spec.per_row = True
    saved.values = mean.reshape(stat_shape), None, invstd.reshape(stat_shape), None
    return out


def _layer_norm_kernel(x, w, b, n, eps):
    """(out, mean, invstd) from the per-row C++ kernel over the (rows, n) view of x (numpy,
    contiguous, one kernel dtype with w and b)."""
    rows = x.size // n
    out = np.empty_like(x)
    mean, invstd = np.empty(rows, x.dtype), np.empty(rows, x.dtype)
    _C.layer_norm_forward(x.reshape(rows, n), None if w is None else w.reshape(n),
                          None if b is None else b.reshape(n), out.reshape(rows, n), mean, invstd,
                          eps)
    return out, mean, invstd


def _xhat(saved, x):
    """The normalized input, from ``saved`` (recomputed once from x when the forward ran the
    kernel, which does not store it)."""
    values = saved.values
    if values[3] is None:
        mean, _, invstd = values[:3]
        xhat = ((x - mean) * invstd).astype(x.dtype, copy=False)
        saved.values = values = values[:3] + (xhat,) + values[4:]
    return values[3]


def _kernel_sums(g, x, spec, saved, grad_x=None, weight=None):
    """(sum(g), sum(g * xhat)) over the normalized values of each parameter (batch_norm: per
    channel; layer_norm: per column, shaped like its weight) by the backward kernel, which also
    writes grad_x when given; remembered in ``saved`` for the weight's and bias's gradients of
    the same g."""
    cached = saved.values[4] if len(saved.values) > 4 else None
    if cached is not None and cached[0] is g and grad_x is None:
        return cached[1], cached[2]
    mean, _, invstd = saved.values[:3]
    if spec.per_row:
        n = spec.n
        rows = x.size // n
        sum_g, sum_gxhat = np.empty(spec.param_view, x.dtype), np.empty(spec.param_view, x.dtype)
        _C.layer_norm_backward(g.reshape(rows, n), x.reshape(rows, n), mean.reshape(rows),
                               invstd.reshape(rows), None if weight is None else weight.reshape(n),
                               None if grad_x is None else grad_x.reshape(rows, n),
                               sum_gxhat.reshape(n), sum_g.reshape(n))
    else:
        channels = x.shape[1]
        sum_g, sum_gxhat = np.empty(channels, x.dtype), np.empty(channels, x.dtype)
        _C.batch_norm_backward_train(g, x, mean.reshape(channels), invstd.reshape(channels),
                                     weight, grad_x, sum_g, sum_gxhat)
    saved.values = saved.values[:4] + ((g, sum_g, sum_gxhat),)
    return sum_g, sum_gxhat


def _uses_sum_kernel(spec, saved, *arrays):
    """Whether the backward kernels serve these arrays: the forward ran a kernel (batch_norm with
    batch statistics, or layer_norm's per-row one) and the arrays are ones the kernels take."""
    return (spec.per_row or spec.per_channel and spec.fixed is None) and \
        kernel_arrays(*arrays) and saved.values[0].dtype == arrays[0].dtype


def _sum_over(t, axes):
    """``t`` summed over ``axes`` (normalized, sorted), e.g. down to a parameter's shape."""
    return R.sum_op.apply((t,), axes, False, None) if axes else t


def _norm_backward(ctx, g):
    x, *params = ctx.inputs
    spec, saved = ctx.args
    w, b = spec.params(params)
    gx = gw = gb = None
    if ctx.edges[0] is not None:
        gx = normalize_backward_op.apply((g, x) if w is None else (g, x, w), spec, saved)
    if w is not None and ctx.edges[1] is not None:
        gw = weight_grad_op.apply((g, x), spec, saved)
    if b is not None and ctx.edges[-1] is not None:
        gb = (bias_grad_op.apply((g, x), spec, saved) if spec.per_channel or spec.per_row
              else _sum_over(g, spec.param_axes))
    # group_norm's per-channel parameters broadcast as (G, C/G) over its grouped view
    if gw is not None and gw._data.shape != w._data.shape:
        gw = gw.reshape(w._data.shape)
    if gb is not None and gb._data.shape != b._data.shape:
        gb = gb.reshape(b._data.shape)
    return (gx,) + ((gw,) if w is not None else ()) + ((gb,) if b is not None else ())


def _normalize_backward_forward(g, x, *rest):
    *params, spec, saved = rest
    if _uses_sum_kernel(spec, saved, g, x, *params):
        grad_x = np.empty_like(x)
        _kernel_sums(g, x, spec, saved, grad_x, params[0] if params else None)
        return grad_x
    invstd = saved.values[2]
    dy = g if not params else g * params[0].reshape(spec.param_view)
    if spec.fixed is not None:
        return dy * invstd
    xhat = _xhat(saved, x)
    axes, n = spec.axes, spec.n
    mean_dy = dy.sum(axis=axes, keepdims=True) / n
    mean_dy_xhat = (dy * xhat).sum(axis=axes, keepdims=True) / n
    out = dy - mean_dy
    out -= xhat * mean_dy_xhat
    out *= invstd
    return out


def _normalize_backward_backward(ctx, v):
    g, x, *params = ctx.inputs
    spec, saved = ctx.args
    w_b = params[0].reshape(spec.param_view) if params else None
    pv = _xhat_vjp(v, x, spec, saved)  # invstd * P(v), or v * invstd for fixed statistics
    grad_g = pv if w_b is None else pv * w_b
    grad_w = _sum_over(g * pv, spec.param_axes) if params else None
    if grad_w is not None and grad_w._data.shape != params[0]._data.shape:
        grad_w = grad_w.reshape(params[0]._data.shape)  # group_norm's (G, C/G) -> (C,)
    grad_x = None
    if ctx.edges[1] is not None and spec.fixed is None:  # fixed statistics: linear in x
        axes = spec.axes
        xhat = normalize_op.apply((x,), spec, saved)
        centered = x - R.mean(x, axes, keepdim=True)
        var = R.mean(centered * centered, axes, keepdim=True)
        if spec.batch_stats and spec.eps == 0:
            # batch_invstd's 0 at a zero variance, with var moved off 0 under the mask so the
            # masked rsqrt's gradient is not 0 * inf
            zero = var == 0
            invstd = A.where(zero, 0.0, A.rsqrt(A.where(zero, 1.0, var)))
        else:
            invstd = A.rsqrt(var + spec.eps)
        dx = ctx.output
        dy = g if w_b is None else g * w_b
        grad_x = -invstd * (xhat * R.mean(v * dx, axes, keepdim=True)
                            + R.mean(v * xhat, axes, keepdim=True) * dx
                            + R.mean(dy * xhat, axes, keepdim=True) * pv)
    return (grad_g, grad_x) + ((grad_w,) if params else ())


def _normalize_forward(x, spec, saved):
    return _xhat(saved, x)


def _xhat_vjp(u, x, spec, saved):
    """The gradient reaching x through xhat(x), for a cotangent u of xhat."""
    if spec.fixed is not None:
        return u * _wrap(saved.values[2])
    return normalize_backward_op.apply((u, x), spec, saved)


def _normalize_backward(ctx, g):
    return (_xhat_vjp(g, ctx.inputs[0], *ctx.args),)


def _weight_grad_forward(g, x, spec, saved):
    if _uses_sum_kernel(spec, saved, g, x):
        return _kernel_sums(g, x, spec, saved)[1].copy()
    out = g * _xhat(saved, x)
    return out.sum(axis=spec.param_axes) if spec.param_axes else out


def _weight_grad_backward(ctx, v):
    """sum(g * xhat(x)) over the parameter axes: linear in g; in x, the cotangent of xhat is
    g * v, which normalize's backward maps to x."""
    g, x = ctx.inputs
    spec, saved = ctx.args
    v_b = v.reshape(spec.param_view)
    grad_g = normalize_op.apply((x,), spec, saved) * v_b if ctx.edges[0] is not None else None
    grad_x = None
    if ctx.edges[1] is not None:
        grad_x = _xhat_vjp(g * v_b, x, spec, saved)
    return grad_g, grad_x


def _bias_grad_forward(g, x, spec, saved):
    """sum(g) over the parameter axes (batch_norm's and layer_norm's bias gradient): the
    backward kernel's sum when it already ran for this g."""
    if _uses_sum_kernel(spec, saved, g, x):
        return _kernel_sums(g, x, spec, saved)[0].copy()
    return g.sum(axis=spec.param_axes)


def _bias_grad_backward(ctx, v):
    g = ctx.inputs[0]
    spec = ctx.args[0]
    return v.reshape(spec.param_view).expand(*g._data.shape), None


batch_norm_op = defop("batch_norm", cpu=_batch_norm_forward, cuda=_norm_forward,
                      backward=_norm_backward, saves=(0, 1))
# batch_norm's and layer_norm's bias gradient, sum(g) per channel / column (x rides along for
# the kernel's cache check)
bias_grad_op = defop("normalize_bias_grad", forward=_bias_grad_forward,
                     backward=_bias_grad_backward)
layer_norm_op = defop("layer_norm", cpu=_layer_norm_forward, cuda=_norm_forward,
                      backward=_norm_backward, saves=(0, 1))
# xhat, the value the forward saved (its gradient flows through normalize_backward)
normalize_op = defop("normalize", forward=_normalize_forward, backward=_normalize_backward,
                     saves=(0,))
weight_grad_op = defop("normalize_weight_grad", forward=_weight_grad_forward,
                       backward=_weight_grad_backward, saves=(0, 1))
normalize_backward_op = defop("normalize_backward", forward=_normalize_backward_forward,
                              backward=_normalize_backward_backward, saves=(0, 1, 2),
                              saves_output=True)


def _check_param(t, fn, name, shape):
    if t is None:
        return
    check_tensor(t, fn, name)  # its dtype: check_norm_dtypes, with torch's words
    if tuple(t._data.shape) != tuple(shape):
        raise RuntimeError(f"{fn}(): {name} must have shape {tuple(shape)}, got "
                           f"{tuple(t._data.shape)}")


def _empty_normalization(input, weight, bias):
    """An empty output like ``input``; weight and bias get zero gradients (registered ops)."""
    y = input * 1.0
    for t in (weight, bias):
        if t is not None:
            y = y + R.sum(t) * 0.0
    return y


def _fixed_statistics(running_mean, running_var, shape, eps, dtype):
    """(mean, 1/std) from running statistics, shaped to broadcast over the input."""
    mean = running_mean._data.reshape(shape).astype(dtype, copy=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # eps <= 0: inf or NaN, as torch's
        invstd = (1.0 / np.sqrt(running_var._data.reshape(shape) + eps)).astype(dtype)
    return mean, invstd


def _normalize(op, input, weight, bias, spec):
    params = tuple(t for t in (weight, bias) if t is not None)
    saved = Saved()
    return op.apply((input,) + params, spec, saved), saved


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Normalize each channel (dim 1) of an (N, C, *) input by batch statistics (``training``)
    or by the running ones; training updates the running buffers in place (unbiased variance).
    """
    check_tensor(input, "batch_norm")
    shape = input._data.shape
    # torch's nn.functional check (native_batch_norm has none: one value gives rstd
    # 1 / sqrt(eps) and a NaN running variance there)
    if training and len(shape) >= 2 and shape[0] * math.prod(shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {tuple(shape)}")
    # also nn.functional's alone: ATen's batch_norm takes any eps (batch_invstd)
    if training and not eps > 0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps):
    check_tensor(input, "batch_norm")
    x = input._data
    if x.size == 0:
        # torch returns an empty result for an empty batch (any shape) and leaves the
        # running statistics alone
        return _empty_normalization(input, weight, bias)
    if x.ndim < 2:
        # torch reads the channel count as size(1): a dim out of range
        raise IndexError(f"batch_norm(): expected an input of shape (N, C, *), got "
                         f"{tuple(x.shape)}")
    channels = x.shape[1]
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_param(t, "batch_norm", name, (channels,))
    # the running statistics keep their own dtype (they are updated in place)
    weight, bias, _, _ = check_norm_dtypes(input, (weight, bias, running_mean, running_var),
                                           "batch_norm", kernel_checked_first=True)
    axes = (0,) + tuple(range(2, x.ndim))
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    n = x.size // channels if channels else 0
    fixed = None
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm(): running_mean and running_var are required "
                               "when training=False")
        fixed = _fixed_statistics(running_mean, running_var, stat_shape, eps, x.dtype)
    spec = _NormSpec(axes, n, stat_shape, axes, eps, fixed, weight is not None, bias is not None,
                     per_channel=True, batch_stats=True)
    out, saved = _normalize(batch_norm_op, input, weight, bias, spec)
    if training:
        mean, var = saved.values[:2]
        if running_mean is not None:
            running_mean._data[...] = ((1.0 - momentum) * running_mean._data
                                       + momentum * mean.reshape(channels))
        if running_var is not None:
            unbiased = var.reshape(channels) * (n / (n - 1) if n > 1 else math.nan)
            running_var._data[...] = (1.0 - momentum) * running_var._data + momentum * unbiased
    return out


@autocast_op("layer_norm")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalize over the trailing ``normalized_shape`` dims, then scale and shift."""
    check_tensor(input, "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    x = input._data
    k = len(normalized_shape)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise RuntimeError(f"layer_norm(): input shape {tuple(x.shape)} does not end with "
                           f"normalized_shape {normalized_shape}")
    _check_param(weight, "layer_norm", "weight", normalized_shape)
    _check_param(bias, "layer_norm", "bias", normalized_shape)
    weight, bias = check_norm_dtypes(input, (weight, bias), "LayerNormKernelImpl")
    if x.size == 0:
        return _empty_normalization(input, weight, bias)  # (no numpy warnings on no values)
    if not grad_wanted(input, weight, bias):
        # no node to record (inference, a decoding step): the kernel straight away, ~15 us of
        # op-layer bookkeeping fewer per call
        w, b = (None if t is None else t._data for t in (weight, bias))
        if kernel_arrays(x, *(a for a in (w, b) if a is not None)):
            return _wrap(_layer_norm_kernel(x, w, b, math.prod(normalized_shape),
                                            eps)[0])
    axes = tuple(range(x.ndim - k, x.ndim))
    spec = _NormSpec(axes, math.prod(normalized_shape), normalized_shape,
                     tuple(range(x.ndim - k)), eps, None, weight is not None, bias is not None)
    return _normalize(layer_norm_op, input, weight, bias, spec)[0]


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Normalize each of ``num_groups`` groups of channels of an (N, C, *) input over the
    group's channels and spatial positions, then scale and shift per channel."""
    check_tensor(input, "group_norm")
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"group_norm(): expected an input of shape (N, C, *), got "
                           f"{tuple(shape)}")
    # torch.nn.functional's check: one value per (sample, group) pair cannot be normalized
    # (num_groups 0 fails here with the same ZeroDivisionError as torch)
    if shape[0] * shape[1] // num_groups * math.prod(shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {list(shape)}")
    return _group_norm(input, num_groups, weight, bias, eps)


@autocast_op("group_norm")
def _group_norm(input, num_groups, weight, bias, eps):
    """group_norm without nn.functional's value-count check (torch.group_norm's checks)."""
    check_tensor(input, "group_norm")
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"group_norm(): expected an input of shape (N, C, *), got "
                           f"{tuple(x.shape)}")
    n_batch, channels = x.shape[0], x.shape[1]
    num_groups = int(num_groups)
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"group_norm(): expected number of channels in input to be "
                           f"divisible by num_groups, but got input of shape {tuple(x.shape)} "
                           f"and num_groups={num_groups}")
    _check_param(weight, "group_norm", "weight", (channels,))
    _check_param(bias, "group_norm", "bias", (channels,))
    weight, bias = check_norm_dtypes(input, (weight, bias), "GroupNormKernelImpl")
    if x.size == 0:
        return _empty_normalization(input, weight, bias)
    per_group = channels // num_groups
    spatial = x.size // (n_batch * channels)
    grouped = input.reshape(n_batch, num_groups, per_group, spatial)
    spec = _NormSpec((2, 3), per_group * spatial, (1, num_groups, per_group, 1), (0, 3), eps,
                     None, weight is not None, bias is not None)
    out, _ = _normalize(group_norm_op, grouped, weight, bias, spec)
    return out.reshape(x.shape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Normalize each (sample, channel) plane of an (N, C, *) input over its spatial positions
    (``use_input_stats``; the running statistics, if given, are updated with the mean over the
    batch of the per-instance mean and unbiased variance), or by the running statistics."""
    check_tensor(input, "instance_norm")
    if use_input_stats and math.prod(input._data.shape[2:]) == 1:  # torch.nn.functional's own
        raise ValueError(f"Expected more than 1 spatial element when training, got input "
                         f"size torch.Size({list(input._data.shape)})")
    return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                          momentum, eps)


def _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum,
                   eps):
    """instance_norm without torch.nn.functional's spatial-size check (torch.instance_norm's
    checks): one spatial element normalizes to 0 and makes the running variance NaN."""
    check_tensor(input, "instance_norm")
    x = input._data
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    if x.ndim < 2:  # torch reads input.size(0) and input.size(1)
        raise IndexError("Dimension specified as 0 but tensor has no dimensions" if x.ndim == 0
                         else "Dimension out of range (expected to be in range of [-1, 0], but "
                              "got 1)")
    batch, channels = x.shape[:2]
    # torch normalizes a (1, N*C, *) view with batch_norm, so its size checks count N*C
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        if t is not None:
            check_tensor(t, "instance_norm", name)  # dtypes: check_norm_dtypes
            if t._data.ndim > 1:  # torch's t.repeat(N)
                raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                                   "number of dimensions of tensor")
            if batch * t._data.size != batch * channels:
                raise RuntimeError(f"{name} should contain {batch * channels} elements not "
                                   f"{batch * t._data.size}")
            if use_input_stats and t._data.ndim == 0 and name.startswith("running"):
                # torch's copy of the updated statistic back into it fails
                raise RuntimeError(f"output with shape [] doesn't match the broadcast shape "
                                   f"[{channels}]")
    # torch repeats the running statistics into batch_norm's; only weight and bias count
    weight, bias = check_norm_dtypes(input, (weight, bias), "batch_norm",
                                     kernel_checked_first=True)
    n = math.prod(x.shape[2:])
    if x.size == 0:
        if use_input_stats and batch == 0:  # torch averages the updated stats over no rows
            for t in (running_mean, running_var):
                if t is not None:
                    t._data[...] = np.nan
        return _empty_normalization(input, weight, bias)
    spatial_axes = tuple(range(2, x.ndim))
    param_view = (1, channels) + (1,) * (x.ndim - 2)
    fixed = None
    if not use_input_stats:
        fixed = _fixed_statistics(running_mean, running_var, param_view, eps, x.dtype)
    spec = _NormSpec(spatial_axes, n, param_view, (0,) + spatial_axes, eps, fixed,
                     weight is not None, bias is not None, batch_stats=True)
    out, saved = _normalize(instance_norm_op, input, weight, bias, spec)
    if use_input_stats:
        mean, var = saved.values[:2]
        batch_mean = mean.reshape(x.shape[0], channels).mean(axis=0)
        bessel = n / (n - 1) if n > 1 else np.nan  # torch's unbiased variance of one value
        batch_var = (var.reshape(x.shape[0], channels) * bessel).mean(axis=0)
        if running_mean is not None:
            running_mean._data[...] = (1.0 - momentum) * running_mean._data + momentum * batch_mean
        if running_var is not None:
            running_var._data[...] = (1.0 - momentum) * running_var._data + momentum * batch_var
    return out


group_norm_op = defop("group_norm", forward=_norm_forward, backward=_norm_backward,
                      saves=(0, 1))
instance_norm_op = defop("instance_norm", forward=_norm_forward, backward=_norm_backward,
                         saves=(0, 1))


@autocast_op("normalize")
def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """input / max(||input||_p along dim, eps), as torch's: composed from registered ops. For
    p = 2 the norm is sqrt(max(sum x^2, eps^2)) -- the same values, and a zero row takes no
    gradient through its norm (the square root's derivative at 0 would give NaN). With
    ``out`` the result is written there (not differentiable, as torch's out= variants)."""
    check_float(input, "normalize")
    if out is not None:
        from fastdl.functional.out_arg import write_out
        return write_out("normalize", normalize(input, p, dim, eps), out)
    if p == 2:
        denom = (input * input).sum(dim, keepdim=True).clamp(min=eps * eps).sqrt()
    elif p == float("inf"):
        denom = input.abs().amax(dim, keepdim=True).clamp(min=eps)
    elif p == 1:
        denom = input.abs().sum(dim, keepdim=True).clamp(min=eps)
    elif p > 0:  # the sum clamped at eps^p (or the dtype's tiniest normal): no NaN at a zero row
        floor = max(eps ** p, float(np.finfo(input._data.dtype).tiny))
        denom = input.abs().pow(p).sum(dim, keepdim=True).clamp(min=floor).pow(1.0 / p)
    else:  # p <= 0: torch's definition as it is
        denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / denom
