"""Margin and embedding losses: margin ranking, hinge embedding, soft margin, multi-label
(soft) margin, cosine embedding, triplet margin (with a p-norm or any distance function).

Each is composed from registered differentiable ops following torch's own formula (so the
gradients, double backward included, and the values at kinks are torch's): hinges are
``clamp_min(., 0)``, whose gradient passes at exactly 0 as torch's does. The multi-label soft
margin loss uses ``logsigmoid`` and the triplet losses ``pairwise_distance``, the public
functionals of the same names.
"""
from __future__ import annotations

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import (check_float, check_not_differentiable,
                                          check_reduction, check_tensor, reject_bool)
from fastdl.nn.functional._reduction import legacy_reduction
from fastdl.nn.functional.activation_more import logsigmoid
from fastdl.nn.functional.distance import pairwise_distance
from fastdl.tensor import _wrap


def reduce_loss(loss, reduction):
    """'none' keeps the per-element loss, 'mean' averages it, 'sum' adds it up."""
    if reduction == "none":
        return loss
    return R.sum(loss) if reduction == "sum" else R.mean(loss)


def _as_float(t, like):
    """``t`` (an integer or float target) in ``like``'s dtype, as torch's type promotion gives."""
    return t if t._data.dtype == like._data.dtype else t.to(like._data.dtype)


def _hinge(x):
    return A.clamp(x, min=0)


def margin_ranking_loss(input1, input2, target, margin: float = 0, size_average=None,
                        reduce=None, reduction: str = "mean"):
    """max(0, -target * (input1 - input2) + margin): ``target`` (1 or -1) says which input
    should rank higher."""
    name = "margin_ranking_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    for arg, t in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(t, name, arg)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"{name} : All input tensors should have same dimension but got "
                           f"sizes: input1: {tuple(input1.shape)}, input2: "
                           f"{tuple(input2.shape)}, target: {tuple(target.shape)} ")
    if not any(t._data.dtype.kind == "f" for t in (input1, input2, target)):
        check_float(input1, name, "input1")
    reject_bool(name, input1=input1, input2=input2, target=target)  # -target * (x1 - x2)
    return reduce_loss(_hinge(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """``input`` where target is 1, max(0, margin - input) where it is -1 (torch's formula:
    an entry neither 1 nor -1 gets both terms)."""
    name = "hinge_embedding_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_tensor(input, name)
    check_tensor(target, name, "target")
    zero = 0.0
    if input._data.dtype.kind in "iu":
        # torch computes into integer tensors like the input: the margin truncated to an
        # integer, an integer loss ('mean' then refuses it)
        margin, zero = int(margin), 0
    else:
        reject_bool(name, input=input)  # torch's margin - input
        check_float(input, name)
    margin_term = A.where(target != 1, _hinge(margin - input), zero)
    self_term = A.where(target != -1, input, zero)
    return reduce_loss(margin_term + self_term, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """log(1 + exp(-target * input)) for targets 1 or -1 (torch's formula, which overflows to
    inf for -target * input above ~88 in float32 as torch's does)."""
    name = "soft_margin_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_float(input, name, error=RuntimeError)  # torch writes into a tensor like the input
    check_tensor(target, name, "target")
    check_not_differentiable(name, target=target)
    try:  # torch writes into a tensor like the input: the target must broadcast to its shape
        shape = np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        shape = None
    if shape != tuple(input.shape):
        raise RuntimeError(f"{name}(): output with shape {tuple(input.shape)} doesn't match the "
                           f"broadcast shape of input and target {tuple(target.shape)}")
    # torch computes into a tensor like the input: -input * target rounded to the input's
    # dtype, exp and log1p in it
    z = -input * target
    if z._data.dtype != input._data.dtype:
        z = z.to(input._data.dtype)
    return reduce_loss(A.log1p(A.exp(z)), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean"):
    """Per sample, the mean over the C classes (last dim) of the binary cross entropy of
    sigmoid(input) against a 0/1 ``target`` of the input's shape, times ``weight``."""
    name = "multilabel_soft_margin_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_float(input, name, error=NotImplementedError)  # torch's log_sigmoid kernel
    check_tensor(target, name, "target")
    if input.ndim == 0:
        raise IndexError(f"{name}(): input must have a class dimension, got a scalar")
    reject_bool(name, target=target)
    if target._data.dtype.kind != "f":
        target = _as_float(target, input)
    # a float target keeps its dtype, as in torch's formula: 1 - target rounds in the target's
    # precision and the products promote (float32 input, float64 target: a float64 loss)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    classes = input.shape[-1]
    return reduce_loss(R.sum(loss, input.ndim - 1) / classes, reduction)


def _multilabel_targets(name, input, target):
    """Per row: how often each class is listed before the first -1 (a count, as torch adds a
    listed class's term once per listing) and which classes are listed at all."""
    x, t = input._data, target._data
    if t.dtype != np.int64:  # torch's kernel takes int64 indices only
        raise RuntimeError(f"{name}(): target must hold class indices (an integer tensor of "
                           f"dtype int64), got dtype {t.dtype}")
    if x.ndim > 2 or (x.ndim == 2 and x.shape[1] == 0) or (x.ndim == 1 and x.shape[0] == 0):
        raise RuntimeError(f"{name}(): expected a non-empty vector or matrix with optional 0-dim "
                           f"batch size, got input of shape {tuple(x.shape)}")
    if t.shape != x.shape:
        raise RuntimeError(f"{name}(): inconsistent target size: {tuple(t.shape)} for input of "
                           f"size: {tuple(x.shape)}")
    rows = t.reshape(-1, x.shape[-1] if x.ndim else 1)
    classes = rows.shape[1]
    listed = np.cumprod(rows != -1, axis=1).astype(bool)  # the prefix before the first -1
    picked = rows[listed]
    if picked.size and (picked.min() < 0 or picked.max() >= classes):
        raise RuntimeError(f"{name}(): target index out of range: targets must be in "
                           f"[-1, {classes - 1}], got {int(picked.min() if picked.min() < 0 else picked.max())}")
    counts = np.zeros(rows.shape, dtype=x.dtype)
    row_of = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)[listed]
    np.add.at(counts, (row_of, picked), 1)
    return counts, counts > 0


def multilabel_margin_loss(input, target, size_average=None, reduce=None,
                           reduction: str = "mean"):
    """Per sample: sum over listed classes j and unlisted classes i of
    max(0, 1 - (x[j] - x[i])), over C. ``target`` lists the classes (indices) and ends at the
    first -1; it has the input's shape (C,) or (N, C)."""
    name = "multilabel_margin_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_float(input, name, error=NotImplementedError)  # as torch's kernel
    check_tensor(target, name, "target")
    counts, is_target = _multilabel_targets(name, input, target)
    classes = counts.shape[1]
    rows = input.reshape(-1, classes)
    # pairs (listed j, unlisted i): the N x C x C hinge masked by count(j) * [i unlisted]
    pair_weight = counts[:, :, None] * (~is_target)[:, None, :].astype(counts.dtype)
    hinge = _hinge(1.0 - rows.unsqueeze(2) + rows.unsqueeze(1))
    loss = R.sum(hinge * _wrap(pair_weight), (1, 2)) / classes
    if input.ndim < 2:
        loss = loss.reshape(())
    return reduce_loss(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin: float = 0, size_average=None,
                          reduce=None, reduction: str = "mean"):
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1; the
    cosine over the last dim, with torch's 1e-12 added to each squared magnitude."""
    name = "cosine_embedding_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_tensor(input1, name, "input1")
    check_tensor(input2, name, "input2")
    check_tensor(target, name, "target")
    if input1._data.dtype.kind != "f" and input2._data.dtype.kind != "f":
        check_float(input1, name, "input1")
    if target.ndim > 1:
        raise RuntimeError(f"{name}(): 1D target tensor expected, multi-target not supported")
    if target.ndim == 1 and (input1.ndim != 2 or input2.ndim != 2):
        raise RuntimeError(f"{name}(): 1D target tensor expects 2D input tensors, but found "
                           f"inputs with sizes {tuple(input1.shape)} and {tuple(input2.shape)}.")
    if target.ndim == 0 and (input1.ndim != 1 or input2.ndim != 1):
        raise RuntimeError(f"{name}(): 0D target tensor expects 1D input tensors, but found "
                           f"inputs with sizes {tuple(input1.shape)} and {tuple(input2.shape)}.")
    dim = input1.ndim - 1
    eps = 1e-12
    dot = R.sum(input1 * input2, dim)
    squared1 = R.sum(input1 * input1, dim) + eps
    squared2 = R.sum(input2 * input2, dim) + eps
    cos = dot / A.sqrt(squared1 * squared2)
    positive = A.where(target == 1, 1 - cos, 0.0)
    negative = A.where(target == -1, _hinge(cos - margin), 0.0)
    return reduce_loss(positive + negative, reduction)


def _check_triplet(name, anchor, positive, negative, margin):
    for arg, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(t, name, arg)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {dims[0]}D, "
                           f"positive {dims[1]}D, and negative {dims[2]}D inputs")


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:  # the positive as anchor where it is closer to the negative (Balntas et al.)
        dist_neg = A.minimum(dist_neg, distance(positive, negative))
    return reduce_loss(_hinge(margin + dist_pos - dist_neg), reduction)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the p-norm distance over
    the last dim (``pairwise_distance``); ``swap`` uses min(d(a, n), d(p, n))."""
    name = "triplet_margin_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    _check_triplet(name, anchor, positive, negative, margin)
    if not any(t._data.dtype.kind == "f" for t in (anchor, positive, negative)):
        check_float(anchor, name, "anchor")
    reject_bool(name, anchor=anchor, positive=positive, negative=negative)  # x1 - x2
    return _triplet(anchor, positive, negative,
                    lambda x1, x2: pairwise_distance(x1, x2, p, eps), margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean"):
    """The triplet margin loss with any ``distance_function(x1, x2)`` (default: the Euclidean
    ``pairwise_distance``)."""
    name = "triplet_margin_with_distance_loss"
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _check_triplet(name, anchor, positive, negative, margin)
    if distance_function is None:  # pairwise_distance's x1 - x2
        reject_bool(name, anchor=anchor, positive=positive, negative=negative)
    distance = pairwise_distance if distance_function is None else distance_function
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)
