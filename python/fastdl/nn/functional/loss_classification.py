"""Classification losses: ``nll_loss``, ``cross_entropy``, ``multi_margin_loss``.

Inputs are (N, C, d1, ...) or (C,); the fused paths work on (rows, C) arrays with the class dim
moved last, then move gradients back. ``cross_entropy`` fuses log-softmax, so its backward is
softmax minus the (smoothed, weighted) target, never exp(log(...)).
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.functional import activations as _act
from fastdl.functional import arithmetic as A
from fastdl.functional import indexing as I
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import (check_float, check_reduction, check_same_dtype,
                                          check_tensor)
from fastdl.nn.functional._fused import fused
from fastdl.nn.functional._reduction import legacy_reduction
from fastdl.tensor import _wrap


class _ClassLayout:
    """(rows, C) view of an (N, C, *) or (C,) input and the way back."""

    def __init__(self, name, x):
        if x.ndim == 0:
            raise ValueError(f"{name}(): input must have a class dimension, got a scalar")
        self.shape = x.shape
        self.class_dim = 0 if x.ndim == 1 else 1
        self.classes = x.shape[self.class_dim]
        self.batch_shape = () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])

    def to_rows(self, a):
        if a.ndim == 1:
            return a.reshape(1, -1)
        return np.moveaxis(a, 1, -1).reshape(-1, self.classes)

    def from_rows(self, rows):
        if len(self.shape) == 1:
            return rows.reshape(self.shape)
        moved = rows.reshape(self.batch_shape + (self.classes,))
        return np.ascontiguousarray(np.moveaxis(moved, -1, 1))

    def broadcast_classes(self, vector):
        """A (C,) array shaped to broadcast along the class dim of the input."""
        return vector.reshape((-1,) + (1,) * (len(self.shape) - 2)) if len(self.shape) > 1 \
            else vector


def _check_class_weight(name, weight, input, classes):
    if weight is None:
        return None
    check_float(weight, name, "weight")
    check_same_dtype(name, input=input, weight=weight)
    if weight._data.shape != (classes,):
        raise ValueError(f"{name}(): weight must have shape ({classes},) (one per class), got "
                         f"{tuple(weight._data.shape)}")
    return weight._data


def _index_target(name, target, layout, ignore_index):
    """Flattened class indices, a validity mask (not ignore_index), and indices safe to use."""
    t = target._data
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}(): target must hold class indices (an integer tensor), got "
                        f"dtype {t.dtype}")
    if tuple(t.shape) != layout.batch_shape:
        raise ValueError(f"{name}(): expected target of shape {layout.batch_shape} for input of "
                         f"shape {tuple(layout.shape)}, got {tuple(t.shape)}")
    flat = t.reshape(-1)
    valid = flat != ignore_index
    checked = flat[valid]
    if checked.size and (int(checked.min()) < 0 or int(checked.max()) >= layout.classes):
        bad = int(checked.min()) if int(checked.min()) < 0 else int(checked.max())
        raise IndexError(f"{name}(): target {bad} is out of bounds for {layout.classes} classes")
    return flat, valid, np.where(valid, flat, 0)


def _row_factor(g, reduction, denominator):
    """Upstream gradient per row: g itself ('none'), a scalar ('sum'), g / denominator ('mean')."""
    if reduction == "none":
        return g.reshape(-1, 1)
    if reduction == "sum":
        return g
    return g / denominator


def _reduce_rows(loss_rows, reduction, layout, denominator):
    if reduction == "none":
        return loss_rows.reshape(layout.batch_shape)
    total = loss_rows.sum()
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 = nan, as torch
        return total / denominator


def _gather_class(logits_t, layout, safe_idx):
    """Entry at the target class for every position, as a differentiable op."""
    index = safe_idx.reshape(layout.batch_shape)
    index = np.expand_dims(index, layout.class_dim)
    return I.gather(logits_t, layout.class_dim, _wrap(index)).reshape(layout.batch_shape)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean"):
    """-weight[t] * input[t] for log-probabilities ``input``; 'mean' divides by the summed
    weights of the non-ignored targets."""
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), "nll_loss")
    check_float(input, "nll_loss")
    check_tensor(target, "nll_loss", "target")
    x = input._data
    layout = _ClassLayout("nll_loss", x)
    w = _check_class_weight("nll_loss", weight, input, layout.classes)
    _, valid, safe = _index_target("nll_loss", target, layout, ignore_index)
    rows = layout.to_rows(x)
    arange = np.arange(rows.shape[0])
    w_row = valid.astype(x.dtype) if w is None else w[safe] * valid
    loss_rows = -rows[arange, safe] * w_row
    denominator = w_row.sum()
    out = np.asarray(_reduce_rows(loss_rows, reduction, layout, denominator), dtype=x.dtype)

    def array_backward(g):
        grad_rows = np.zeros(rows.shape, dtype=x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = _row_factor(g, reduction, denominator).reshape(-1)
            # ignored targets get exactly 0, also when 'mean' divides by a zero total weight
            grad_rows[arange, safe] = np.where(valid, -w_row * factor, 0)
        return (layout.from_rows(grad_rows),)

    def composed(x_t):
        picked = _gather_class(x_t, layout, safe)
        losses = -picked * _wrap(w_row.reshape(layout.batch_shape))
        if reduction == "none":
            return losses
        total = R.sum(losses)
        return total if reduction == "sum" else total / _wrap(np.asarray(denominator))

    return fused(out, (input,), array_backward, composed, "NllLossBackward")


def _log_softmax_rows(rows):
    shifted = rows - rows.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy between logits ``input`` and ``target``: class indices (integer tensor of
    the input's shape without the class dim) or class probabilities (float, input's shape).
    ``label_smoothing`` mixes the target with the uniform distribution (torch's definition,
    including how class weights and 'mean' combine with it)."""
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction),
                                "cross_entropy")
    check_float(input, "cross_entropy")
    check_tensor(target, "cross_entropy", "target")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    x = input._data
    layout = _ClassLayout("cross_entropy", x)
    w = _check_class_weight("cross_entropy", weight, input, layout.classes)
    if target._data.dtype.kind == "f":
        if ignore_index >= 0:
            raise ValueError(f"cross_entropy(): ignore_index is not supported for floating point "
                             f"target (class probabilities), got ignore_index={ignore_index}")
        return _cross_entropy_probs(input, target, weight, w, layout, reduction,
                                    label_smoothing)
    return _cross_entropy_indices(input, target, w, layout, reduction, ignore_index,
                                  label_smoothing)


def _cross_entropy_indices(input, target, w, layout, reduction, ignore_index, eps):
    x = input._data
    classes = layout.classes
    _, valid, safe = _index_target("cross_entropy", target, layout, ignore_index)
    logp = _log_softmax_rows(layout.to_rows(x))
    arange = np.arange(logp.shape[0])
    w_vec = np.ones(classes, dtype=x.dtype) if w is None else w
    w_row = w_vec[safe] * valid
    valid_f = valid.astype(x.dtype)
    loss_rows = -logp[arange, safe] * w_row
    if eps:
        smooth_rows = -(logp * w_vec).sum(axis=1) * valid_f
        loss_rows = (1.0 - eps) * loss_rows + (eps / classes) * smooth_rows
    denominator = w_row.sum()
    out = np.asarray(_reduce_rows(loss_rows, reduction, layout, denominator), dtype=x.dtype)

    def array_backward(g):
        p = np.exp(logp)
        grad = p * ((1.0 - eps) * w_row)[:, None]
        grad[arange, safe] -= (1.0 - eps) * w_row
        if eps:
            grad += (eps / classes) * valid_f[:, None] * (p * w_vec.sum() - w_vec)
        with np.errstate(divide="ignore", invalid="ignore"):
            grad *= _row_factor(g, reduction, denominator)
        grad[~valid] = 0  # ignored targets: exactly 0, also when the total weight is 0
        return (layout.from_rows(grad.astype(x.dtype, copy=False)),)

    def composed(x_t):
        logp_t = _act.log_softmax(x_t, layout.class_dim)
        losses = -_gather_class(logp_t, layout, safe) * _wrap(w_row.reshape(layout.batch_shape))
        if eps:
            weighted = logp_t * _wrap(layout.broadcast_classes(w_vec))
            smooth = -R.sum(weighted, layout.class_dim) * _wrap(valid_f.reshape(
                layout.batch_shape))
            losses = losses * (1.0 - eps) + smooth * (eps / classes)
        if reduction == "none":
            return losses
        total = R.sum(losses)
        return total if reduction == "sum" else total / _wrap(np.asarray(denominator))

    return fused(out, (input,), array_backward, composed, "CrossEntropyBackward")


def _cross_entropy_probs(input, target, weight, w, layout, reduction, eps):
    name = "cross_entropy"
    check_same_dtype(name, input=input, target=target)
    if target._data.shape != input._data.shape:
        raise ValueError(f"{name}(): class-probability target must have the input's shape "
                         f"{tuple(input._data.shape)}, got {tuple(target._data.shape)}")
    classes = layout.classes
    rows_count = input._data.size // classes if classes else 0

    def composed(x_t, t_t=target):
        logp_t = _act.log_softmax(x_t, layout.class_dim)
        if eps:
            t_t = t_t * (1.0 - eps) + eps / classes
        prod = logp_t * t_t
        if weight is not None:
            prod = prod * _wrap(layout.broadcast_classes(w))
        losses = -R.sum(prod, layout.class_dim)
        if reduction == "none":
            return losses
        total = R.sum(losses)
        return total if reduction == "sum" else total / float(rows_count)

    if target._requires_grad and _grad_state.enabled:
        return composed(input, target)
    x = input._data
    logp = _log_softmax_rows(layout.to_rows(x))
    t_rows = layout.to_rows(target._data)
    if eps:
        t_rows = t_rows * (1.0 - eps) + eps / classes
    wt = t_rows if w is None else t_rows * w
    loss_rows = -(logp * wt).sum(axis=1)
    out = np.asarray(_reduce_rows(loss_rows, reduction, layout, rows_count), dtype=x.dtype)

    def array_backward(g):
        grad = np.exp(logp) * wt.sum(axis=1, keepdims=True) - wt
        grad *= _row_factor(g, reduction, rows_count)
        return (layout.from_rows(grad.astype(x.dtype, copy=False)),)

    return fused(out, (input,), array_backward, composed, "CrossEntropyBackward")


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean"):
    """Multi-class hinge: sum over j != y of weight[y] * max(0, margin - x[y] + x[j])^p / C.

    ``input`` is (N, C), (C,) or a scalar (one class); a single sample's target may be a scalar
    or hold one element, and 'none' returns the target's shape (as torch)."""
    name = "multi_margin_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_float(input, name)
    check_tensor(target, name, "target")
    if p not in (1, 2):
        raise ValueError(f"{name}(): only p == 1 and p == 2 are supported, got {p}")
    shape = tuple(input._data.shape)
    if len(shape) > 2 or (len(shape) >= 1 and shape[-1] == 0):
        raise ValueError(f"{name}(): expected a non-empty vector or matrix (C,) or (N, C) with "
                         f"optional N = 0, got input shape {shape}")
    target_shape = tuple(target._data.shape)
    if len(shape) < 2:
        if target._data.size != 1 or len(target_shape) > 1:
            raise ValueError(f"{name}(): target must hold one class index for input of shape "
                             f"{shape}, got target shape {target_shape}")
        out = _multi_margin_rows(input.reshape(1, -1), target.reshape(1), p, margin, weight,
                                 reduction)
        return out.reshape(target_shape) if reduction == "none" else out
    if target_shape != shape[:1]:
        raise ValueError(f"{name}(): target must be 1-D of size {shape[0]} (the batch size) for "
                         f"input of shape {shape}, got target shape {target_shape}")
    return _multi_margin_rows(input, target, p, margin, weight, reduction)


def _multi_margin_rows(input, target, p, margin, weight, reduction):
    name = "multi_margin_loss"
    x = input._data
    layout = _ClassLayout(name, x)
    w = _check_class_weight(name, weight, input, layout.classes)
    _, _, y = _index_target(name, target, layout, ignore_index=None)
    rows = layout.to_rows(x)
    classes = layout.classes
    arange = np.arange(rows.shape[0])
    others = np.ones(rows.shape, dtype=bool)
    others[arange, y] = False
    z = margin - rows[arange, y][:, None] + rows
    hinge = np.where(others & (z > 0), z, 0).astype(x.dtype, copy=False)
    w_y = np.ones(rows.shape[0], dtype=x.dtype) if w is None else w[y]
    loss_rows = ((hinge if p == 1 else hinge * hinge).sum(axis=1) * w_y / classes)
    n_rows = rows.shape[0]
    out = np.asarray(_reduce_rows(loss_rows, reduction, layout, n_rows), dtype=x.dtype)

    def array_backward(g):
        active = (hinge > 0) if p == 1 else 2.0 * hinge
        coef = active.astype(x.dtype) * (w_y / classes)[:, None]
        coef[arange, y] = -coef.sum(axis=1)
        coef *= _row_factor(g, reduction, n_rows)
        return (layout.from_rows(coef.astype(x.dtype, copy=False)),)

    def composed(x_t):
        x_y = _gather_class(x_t, layout, y)
        x_y = x_y.reshape(layout.batch_shape + (1,)) if x.ndim == 2 else x_y.reshape(1)
        h = A.relu(x_t - x_y + margin) * _wrap(layout.from_rows(others.astype(x.dtype)))
        terms = h if p == 1 else h * h
        losses = R.sum(terms, -1) * _wrap(w_y.reshape(layout.batch_shape) / classes)
        if reduction == "none":
            return losses
        total = R.sum(losses)
        return total if reduction == "sum" else total / float(n_rows)

    return fused(out, (input,), array_backward, composed, "MultiMarginLossBackward")
