"""Elementwise losses: MSE, L1, Huber, SmoothL1, BCE, BCE-with-logits, KL divergence.

Each is one op: per-element values on arrays, then the reduction, in the forward; the gradients
with respect to input and target are formulas over registered ops (so double backward is exact).
``weight``/``pos_weight`` are inputs that get no gradient (as in torch).
"""
from __future__ import annotations

import warnings

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional import arithmetic as A
from fastdl.functional._core import _category, grad_for, promote, torch_dtype_name
from fastdl.nn.functional._checks import (check_float, check_not_differentiable, check_reduction,
                                          check_same_shape, check_tensor)
from fastdl.nn.functional._reduction import legacy_reduction, reduce_array
from fastdl.nn.functional.activation import _softplus_array
from fastdl.nn.functional.loss_margin import reduce_loss


def _unpack(inputs_and_args):
    """(x, t, weight or None, pos_weight or None, reduction, params) from an op's inputs
    followed by its args ``(reduction, has_weight, has_pos_weight, params)``."""
    *rest, reduction, has_w, has_pw, params = inputs_and_args
    x, t, *extra = rest
    w = extra.pop(0) if has_w else None
    pw = extra.pop(0) if has_pw else None
    return x, t, w, pw, reduction, params


def _pointwise_forward(values, result_dtype):
    def forward(*arrays_and_args):
        x, t, w, pw, reduction, params = _unpack(arrays_and_args)
        v = values(x, t, w, pw, *params)
        dtype = result_dtype(x, t)
        if w is not None:
            v = v * w
        return reduce_array(v.astype(dtype, copy=False), reduction).astype(dtype, copy=False)
    return forward


def _pointwise_backward(grads, factor):
    def backward(ctx, g):
        x, t, w, pw, reduction, params = _unpack(ctx.inputs + ctx.args)
        c = factor(*params)
        if reduction == "mean":
            n = x._data.size
            c = c / n if n else float("nan")
        s = g if c == 1.0 else g * c
        if w is not None:
            s = s * w
        gx, gt = grads(s, x, t, pw, ctx.edges[1] is not None, *params)
        extra = (None,) * (len(ctx.inputs) - 2)
        return (grad_for(gx, x) if ctx.edges[0] is not None else None,
                None if gt is None else grad_for(gt, t)) + extra
    return backward


def _pointwise_loss(name, values, grads, factor=lambda *params: 1.0,
                    result_dtype=promote):
    """A loss ``reduce(values(x, t) [* weight])``: ``values`` on arrays; ``grads(s, x, t, pw,
    need_t, *params)`` gives (d/dx, d/dt or None) times the scale ``s`` (upstream gradient times
    ``factor(*params)``, 1/count for 'mean', weight) with registered ops, so higher derivatives
    follow. ``result_dtype(x, t)`` is the loss's dtype (by default torch's promotion, where a
    0-d tensor yields to a dimensioned one of the same category)."""
    op = defop(name, forward=_pointwise_forward(values, result_dtype),
               backward=_pointwise_backward(grads, factor), saves=(0, 1))

    def apply(input, target, reduction, *params, weight=None, pos_weight=None):
        check_reduction(reduction, name)
        inputs = (input, target) + tuple(e for e in (weight, pos_weight) if e is not None)
        return op.apply(inputs, reduction, weight is not None, pos_weight is not None, params)

    return apply


def _neg_pair(gx, need_t):
    return gx, (-gx if need_t else None)


def _xlogx(t):
    """t * log(t) with 0 at t = 0 (torch's xlogy(t, t)); NaN for t < 0, as in torch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0, t * np.log(np.where(t == 0, 1, t))).astype(t.dtype, copy=False)


def _bce_values(p, t, w, pw):
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _BCE_LOG_FLOOR)
        log_1mp = np.maximum(np.log1p(-p), _BCE_LOG_FLOOR)
    return -(t * log_p + (1 - t) * log_1mp)


def _bce_grads(s, x, t, pw, need_t):
    gx = (x - t) / A.clamp((1.0 - x) * x, min=_BCE_EPS) * s
    if not need_t:
        return gx, None
    log_x = A.clamp(A.log(x), min=_BCE_LOG_FLOOR)
    log_1mx = A.clamp(A.log1p(-x), min=_BCE_LOG_FLOOR)
    return gx, (log_1mx - log_x) * s


def _bce_logits_values(x, t, w, pw):
    # torch's order of in-place steps: the softplus term (times the positive weight) is kept
    # in the input's dtype, (1 - t) * x and the sum in the target's
    softplus_neg = _softplus_array(-x)
    if pw is not None:
        softplus_neg = (softplus_neg * (1 + (pw - 1) * t)).astype(x.dtype, copy=False)
    return ((1 - t) * x).astype(t.dtype, copy=False) + softplus_neg


def _bce_logits_grads(s, x, t, pw, need_t):
    sig = A.sigmoid(x)
    gx = (sig - t) * s if pw is None else ((pw - 1.0) * t * sig + sig - pw * t) * s
    if not need_t:
        return gx, None
    if pw is None:
        return gx, -x * s
    softplus_neg = A.relu(-x) + A.log1p(A.exp(-A.abs(x)))
    return gx, ((pw - 1.0) * softplus_neg - x) * s


def _kl_values(x, t, w, pw, log_target):
    return np.exp(t) * (t - x) if log_target else _xlogx(t) - t * x


def _kl_grads(s, x, t, pw, need_t, log_target):
    if log_target:
        e = A.exp(t)
        return -e * s, ((t - x + 1.0) * e * s if need_t else None)
    if not need_t:
        return -t * s, None
    zero = t == 0
    with np.errstate(invalid="ignore"):  # negative targets give NaN silently, as in torch
        log_t = A.log(A.where(zero, 1.0, t))
    return -t * s, A.where(zero, 0.0, log_t + 1.0 - x) * s


_BCE_LOG_FLOOR = -100.0  # torch clamps log terms so that p = 0 or 1 gives a finite loss
_BCE_EPS = 1e-12

def _scaled_difference_forward(s, x, t):
    d = x - t
    d *= s
    return d


def _scaled_difference_backward(ctx, v):
    s, x, t = ctx.inputs
    grad_x = v * s
    return grad_for(v * (x - t), s), grad_for(grad_x, x), grad_for(-grad_x, t)


# s * (x - t) in one temporary: mse's gradient (its backward is the product rule)
scaled_difference_op = defop("scaled_difference", forward=_scaled_difference_forward,
                             backward=_scaled_difference_backward, saves=(0, 1, 2))

# name: per-element values on arrays, (d/dinput, d/dtarget) * s with registered ops
_mse = _pointwise_loss(
    "mse_loss", lambda x, t, w, pw: np.square(x - t),
    lambda s, x, t, pw, need_t: _neg_pair(scaled_difference_op.apply((s, x, t)), need_t),
    factor=lambda: 2.0)
_l1 = _pointwise_loss(
    "l1_loss", lambda x, t, w, pw: np.abs(x - t),
    lambda s, x, t, pw, need_t: _neg_pair(A.sign(x - t) * s, need_t))
_huber = _pointwise_loss(
    "huber_loss", lambda x, t, w, pw, delta: _huber_values(x - t, delta, 0.5, delta),
    lambda s, x, t, pw, need_t, delta: _neg_pair(A.clamp(x - t, -delta, delta) * s, need_t))
_smooth_l1 = _pointwise_loss(
    "smooth_l1_loss", lambda x, t, w, pw, beta: _huber_values(x - t, beta, 0.5 / beta, 1.0),
    lambda s, x, t, pw, need_t, beta: _neg_pair(A.clamp(x - t, -beta, beta) * s, need_t),
    factor=lambda beta: 1.0 / beta)
_bce = _pointwise_loss("binary_cross_entropy", _bce_values, _bce_grads)
# torch computes into a copy of (1 - target): the loss has the target's dtype
_bce_logits = _pointwise_loss("binary_cross_entropy_with_logits", _bce_logits_values,
                              _bce_logits_grads, result_dtype=lambda x, t: t.dtype)
_kl = _pointwise_loss("kl_div", _kl_values, _kl_grads)


def _huber_values(diff, width, quadratic_scale, linear_scale):
    """quadratic_scale * d^2 where |d| < width, else linear_scale * (|d| - width / 2)."""
    abs_diff = np.abs(diff)
    return np.where(abs_diff < width, quadratic_scale * diff * diff,
                    linear_scale * (abs_diff - 0.5 * width))


def _check_pair(name, input, target):
    check_float(input, name, error=RuntimeError)
    check_float(target, name, "target", error=RuntimeError)
    check_same_shape(name, input, target)
    if input._data.dtype != target._data.dtype:  # torch's kernel takes one dtype
        raise RuntimeError(f"{name}(): expected input and target of the same dtype, got input: "
                           f"{input._data.dtype}, target: {target._data.dtype}")


def _regression_pair(name, input, target, to_common_dtype=True, kernel=None):
    """input and target as torch's regression losses take them: a target of integers or
    another float dtype promoted (float32 with float64 gives float64, differentiably; kept as
    they are with ``to_common_dtype=False``), and
    shapes that differ but broadcast expanded to a common one with torch's warning (a (N, 1)
    prediction against a (N,) target is usually a mistake). Two non-float operands make torch's
    ``kernel`` refuse their promoted dtype (NotImplementedError)."""
    check_tensor(input, name)
    check_tensor(target, name, "target")
    if kernel is not None and input._data.dtype.kind != "f" != target._data.dtype.kind:
        dtype = torch_dtype_name(promote(input._data, target._data))
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{dtype}'")
    if input._data.dtype.kind != "f":  # an integer or bool input takes a float target's dtype
        check_float(target, name, "target")
        input = input.to(target._data.dtype)
    if target._data.dtype.kind in "biu":
        target = target.to(input._data.dtype)
    check_float(target, name, "target")
    if to_common_dtype and input._data.dtype != target._data.dtype:
        common = np.promote_types(input._data.dtype, target._data.dtype)
        input, target = (t if t._data.dtype == common else t.to(common) for t in (input, target))
    if input._data.shape != target._data.shape:
        try:
            shape = np.broadcast_shapes(input._data.shape, target._data.shape)
        except ValueError:
            raise ValueError(f"{name}(): target shape {tuple(target._data.shape)} does not "
                             f"broadcast with input shape {tuple(input._data.shape)}") from None
        warnings.warn(f"{name}(): using a target size ({tuple(target._data.shape)}) that is "
                      f"different to the input size ({tuple(input._data.shape)}); this will "
                      "likely lead to incorrect results due to broadcasting. Please ensure they "
                      "have the same size.", UserWarning, stacklevel=3)
        input, target = (t if t._data.shape == shape else t.expand(*shape)
                         for t in (input, target))
    return input, target


@autocast_op("mse_loss")
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None):
    """(input - target)^2, times ``weight`` (input's shape) where given."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    shape = _weight_shape_check("mse_loss", weight, input)
    input, target = _regression_pair("mse_loss", input, target, kernel="mse_cpu")
    if weight is not None:
        return _weighted_reduction(_mse(input, target, "none"), weight, shape, reduction,
                                   by_weight_sum=True)
    return _mse(input, target, reduction)


@autocast_op("l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
            weight=None):
    """|input - target|, times ``weight`` (input's shape) where given; the gradient at 0 is
    0."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "l1_loss")
    check_tensor(target, "l1_loss", "target")
    A.check_sub_operands(input, target)  # torch's |input - target|
    shape = _weight_shape_check("l1_loss", weight, input)
    if weight is None and input._data.dtype.kind != "f" != target._data.dtype.kind:
        # integers: torch's composite runs as is, and only mean refuses them
        return reduce_loss(A.abs(A.sub(input, target)),
                           check_reduction(reduction, "l1_loss"))
    input, target = _regression_pair("l1_loss", input, target)
    if weight is not None:
        return _weighted_reduction(_l1(input, target, "none"), weight, shape, reduction,
                                   by_weight_sum=True)
    return _l1(input, target, reduction)


def _weight_shape_check(name, weight, input):
    """torch 2.13's per-element ``weight`` of the regression losses must have exactly the
    input's shape (no broadcasting)."""
    if weight is None:
        return None
    check_tensor(input, name)
    check_tensor(weight, name, "weight")
    if weight._data.shape != input._data.shape:
        raise ValueError("Weights and input must have the same size.")
    return input._data.shape


def _weighted_reduction(loss, weight, shape, reduction, by_weight_sum):
    """The weighted per-element ``loss`` reduced as torch's weighted regression losses do:
    'mean' divides by the weights' sum for l1 and mse (``by_weight_sum``), by the element
    count for huber."""
    weighted = loss * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean":
        return weighted.sum() / weight.sum() if by_weight_sum else weighted.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', "
                     f"'sum'.")


@autocast_op("huber_loss")
def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), with d = input - target,
    times ``weight`` (input's shape) where given ('mean' then averages over the elements).

    torch's kernel writes into a tensor like the input: the values are computed in the
    promoted dtype, the loss (and its reduction) has the input's dtype."""
    if weight is not None:
        shape = _weight_shape_check("huber_loss", weight, input)
        return _weighted_reduction(huber_loss(input, target, "none", delta), weight, shape,
                                   reduction, by_weight_sum=False)
    check_tensor(input, "huber_loss")
    check_tensor(target, "huber_loss", "target")
    dtype = input._data.dtype
    if dtype.kind != "f":
        result = promote(input._data, target._data)
        if _category(result) > _category(dtype):
            raise RuntimeError(f"result type {torch_dtype_name(result)} can't be cast to the "
                               f"desired output type {torch_dtype_name(dtype)}")
        raise NotImplementedError(f"\"huber_cpu\" not implemented for "
                                  f"'{torch_dtype_name(result)}'")
    input, target = _regression_pair("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta}")
    if input._data.dtype == dtype:
        return _huber(input, target, reduction, delta)
    check_reduction(reduction, "huber_loss")
    return reduce_loss(_huber(input, target, "none", delta).to(dtype), reduction)


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 gives the L1 loss)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    input, target = _regression_pair("smooth_l1_loss", input, target, kernel="smooth_l1_cpu")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _smooth_l1(input, target, reduction, beta)


def _check_weight(name, weight, shape):
    if weight is None:
        return None
    check_tensor(weight, name, "weight")  # any real dtype: the loss is multiplied by it
    try:
        np.broadcast_shapes(tuple(weight._data.shape), tuple(shape))
    except ValueError:
        raise ValueError(f"{name}(): weight shape {tuple(weight._data.shape)} does not "
                         f"broadcast to input shape {tuple(shape)}") from None
    return weight


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """-w (t log p + (1 - t) log(1 - p)) for probabilities p = input in [0, 1]."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "binary_cross_entropy"
    _check_pair(name, input, target)
    weight = _check_weight(name, weight, input.shape)
    check_not_differentiable(name, weight=weight)
    p = input._data
    if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
        raise RuntimeError(f"{name}(): all elements of input should be between 0 and 1 (got range "
                         f"[{float(p.min())}, {float(p.max())}])")
    return _bce(input, target, reduction, weight=weight)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """BCE on logits x, computed stably: (1 - t) x + (1 + (pw - 1) t) softplus(-x)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "binary_cross_entropy_with_logits"
    check_float(input, name, error=NotImplementedError)  # torch's log_sigmoid kernel
    check_tensor(target, name, "target")
    if target._data.dtype.kind != "f":  # torch computes into a copy of 1 - target
        raise RuntimeError(f"{name}(): target must be a floating point tensor (the loss has its "
                           f"dtype), got {target._data.dtype}")
    check_same_shape(name, input, target)
    weight = _check_weight(name, weight, input.shape)
    check_not_differentiable(name, weight=weight, pos_weight=pos_weight)
    if pos_weight is not None:
        check_tensor(pos_weight, name, "pos_weight")
        if pos_weight._data.dtype == np.bool_:  # torch: pos_weight - 1
            raise RuntimeError(f"{name}(): pos_weight must not be a bool tensor (subtraction "
                               "with a bool tensor is not supported)")
        try:
            np.broadcast_shapes(tuple(pos_weight._data.shape), tuple(input.shape))
        except ValueError:
            raise ValueError(f"{name}(): pos_weight shape {tuple(pos_weight._data.shape)} does "
                             f"not broadcast to input shape {tuple(input.shape)}") from None
    return _bce_logits(input, target, reduction, weight=weight, pos_weight=pos_weight)


@autocast_op("kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """KL(target || exp(input)) per element: t log t - t input, t log t = 0 at t = 0 (input holds
    log-probabilities; with ``log_target`` so does target). 'batchmean' divides the sum by the
    batch size (the true KL divergence); 'mean' divides by the number of elements."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "kl_div"
    if any(getattr(getattr(t, "_data", None), "dtype", np.dtype("f")).kind in "biu"
           for t in (input, target)):
        # torch refuses integer and bool tensors here (the other regression losses take an
        # integer target), with this message
        raise RuntimeError("kl_div: Integral inputs not supported.")
    # not promoted first: torch's formula takes exp(target) or xlogy(target, target) in the
    # target's dtype; nor broadcast before the result's dtype is known (a 0-d float64 target
    # with a float32 input gives float32)
    check_tensor(input, name)
    check_tensor(target, name, "target")
    dtype = promote(input._data, target._data)
    input, target = _regression_pair(name, input, target, to_common_dtype=False)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{name}(): reduction must be one of ('none', 'mean', 'sum', "
                         f"'batchmean'), got {reduction!r}")
    if reduction != "batchmean":
        loss = _kl(input, target, reduction, log_target)
    else:
        x = input._data
        loss = _kl(input, target, "sum", log_target) / (x.shape[0] if x.ndim else 1)
    return loss if loss._data.dtype == dtype else loss.to(dtype)
