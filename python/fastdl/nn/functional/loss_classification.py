"""Classification losses: ``nll_loss``, ``cross_entropy``, ``multi_margin_loss``.

Inputs are (N, C, d1, ...) or (C,); the ops work on (rows, C) arrays with the class dim moved
last, then move gradients back. With T the target rows (the weight at the class, plus the label
smoothing term) and S their sums: ``nll_loss`` is -sum(T * input), linear, so its backward op
``nll_loss_backward`` has ``nll_loss`` itself as backward; ``cross_entropy`` is log_softmax and
nll in one op (no exp(log(...)) in the backward), whose backward op is f(g) * (softmax(x) S - T)
with its own backward written with registered ops (softmax). With class probabilities it is
composed from registered ops (torch's formula). ``multi_margin_loss``'s backward is written
with registered ops (a constant coefficient for p = 1).
"""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional import activations as _act
from fastdl.functional import arithmetic as A
from fastdl.functional import indexing as I
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import (check_float, check_not_differentiable,
                                          check_reduction, check_tensor)
from fastdl.nn.functional._reduction import legacy_reduction
from fastdl.autograd.op import Saved
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

    def per_row(self, a):
        """A per-row array shaped to broadcast against the input (class dim of size 1)."""
        if len(self.shape) == 1:
            return a.reshape(())
        return np.expand_dims(a.reshape(self.batch_shape), 1)


def _check_class_weight(name, weight, input, classes, same_dtype=True):
    """The weight's array; torch's class-index kernels take it only in the input's dtype (the
    class-probability formula multiplies by a weight of any dtype)."""
    if weight is None:
        return None
    check_tensor(weight, name, "weight")
    if same_dtype and weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"{name}(): expected weight of the input's dtype {input._data.dtype}, "
                           f"got {weight._data.dtype}")
    if weight._data.shape != (classes,):
        raise ValueError(f"{name}(): weight must have shape ({classes},) (one per class), got "
                         f"{tuple(weight._data.shape)}")
    return weight._data


def _check_index_dtype(name, target, dtypes=("int64", "uint8")):
    t = target._data
    if t.dtype.name not in dtypes:
        raise RuntimeError(f"{name}(): target must hold class indices (an integer tensor of "
                           f"dtype {' or '.join(dtypes)}), got dtype {t.dtype}")
    return t


def _index_target(name, target, layout, ignore_index, dtypes=("int64", "uint8")):
    """Flattened class indices, a validity mask (not ignore_index), and indices safe to use.
    torch's kernels take the index dtypes ``dtypes`` only (int64 and uint8 for nll_loss)."""
    t = _check_index_dtype(name, target, dtypes)
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


class _NllSpec:
    """What ``nll_loss`` needs besides its input: the target rows and weights (arrays)."""

    __slots__ = ("layout", "safe", "valid", "w_row", "w_vec", "eps", "reduction", "denominator")

    def __init__(self, name, input, target, weight, ignore_index, reduction, eps):
        x = input._data
        self.layout = layout = _ClassLayout(name, x)
        w = _check_class_weight(name, weight, input, layout.classes)
        _, self.valid, self.safe = _index_target(name, target, layout, ignore_index)
        self.w_vec = w
        self.w_row = self.valid.astype(x.dtype) if w is None else w[self.safe] * self.valid
        self.eps = eps
        self.reduction = reduction
        self.denominator = self.w_row.sum()

    def __repr__(self):
        return "<nll target>"


def _nll_rows(rows, spec, dtype):
    """The loss from (rows, C) log-probabilities: -sum over classes of T * logp (T the target
    rows: weight at the class, plus the smoothing term), reduced."""
    loss_rows = -rows[np.arange(rows.shape[0]), spec.safe] * spec.w_row
    eps = spec.eps
    if eps:
        weighted = rows if spec.w_vec is None else rows * spec.w_vec
        smooth_rows = -weighted.sum(axis=1) * spec.valid
        loss_rows = (1.0 - eps) * loss_rows + (eps / spec.layout.classes) * smooth_rows
    out = _reduce_rows(loss_rows, spec.reduction, spec.layout, spec.denominator)
    return np.asarray(out, dtype=dtype)


def _row_factors(g, spec):
    """The upstream gradient per row; ignored targets get exactly 0, also when 'mean' divides
    by a zero total weight."""
    if spec.reduction == "mean" and spec.denominator == 0:  # every target ignored: 0, not nan
        return np.zeros(spec.valid.shape, dtype=g.dtype)
    factor = _row_factor(g, spec.reduction, spec.denominator).reshape(-1)
    if not spec.valid.all():  # (a scalar factor, for 'sum' and 'mean', broadcasts as it is)
        factor = np.where(spec.valid, factor, 0)
    return factor.astype(g.dtype, copy=False)


def _subtract_target(grad_rows, spec, factor):
    """grad_rows -= T * factor (per row)."""
    eps, classes = spec.eps, spec.layout.classes
    grad_rows[np.arange(grad_rows.shape[0]), spec.safe] -= (1.0 - eps) * spec.w_row * factor
    if eps:
        smooth = (eps / classes) * factor[:, None]
        grad_rows -= smooth if spec.w_vec is None else smooth * spec.w_vec
    return grad_rows


def _nll_backward_forward(g, spec):
    grad_rows = np.zeros((spec.valid.shape[0], spec.layout.classes), dtype=g.dtype)
    return spec.layout.from_rows(_subtract_target(grad_rows, spec, _row_factors(g, spec)))


def _target_mass(spec):
    """S = sum over classes of T, per row."""
    eps = spec.eps
    mass = (1.0 - eps) * spec.w_row
    if eps:
        total = spec.layout.classes if spec.w_vec is None else spec.w_vec.sum()
        mass = mass + eps * total / spec.layout.classes * spec.valid.astype(mass.dtype)
    return mass


def _cross_entropy_forward(x, spec, saved):
    rows = spec.layout.to_rows(x)
    shifted = rows - rows.max(axis=1, keepdims=True)
    logp = saved.values = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return _nll_rows(logp, spec, x.dtype)


def _cross_entropy_backward_forward(g, x, spec, saved):
    """softmax(x) * S - T, times the upstream gradient per row."""
    factor = _row_factors(g, spec)
    grad_rows = np.exp(saved.values) * (_target_mass(spec) * factor)[:, None]
    grad_rows = _subtract_target(grad_rows, spec, factor)
    return spec.layout.from_rows(grad_rows.astype(g.dtype, copy=False))


def _cross_entropy_backward_backward(ctx, v):
    """B(g, x) = f(g) * (p S - T), p = softmax(x): linear in g; in x through softmax."""
    g, x = ctx.inputs
    spec = ctx.args[0]
    layout = spec.layout
    dim = layout.class_dim
    dtype = x._data.dtype
    p = _act.softmax_op.apply((x,), dim)
    mass = _wrap(layout.per_row(_target_mass(spec).astype(dtype)))
    zeros = np.zeros((spec.valid.shape[0], layout.classes), dtype=dtype)
    valid = spec.valid.astype(dtype)
    minus_target = _wrap(layout.from_rows(_subtract_target(zeros, spec, valid)))
    grad_g = grad_x = None
    if ctx.edges[0] is not None:  # the adjoint of g -> f(g) applied to sum(v * (p S + T))
        per_row = R.sum(v * (p * mass + minus_target), dim)
        grad_g = per_row if spec.reduction == "none" else R.sum(per_row)
        if spec.reduction == "mean":
            grad_g = grad_g / _wrap(np.asarray(spec.denominator, dtype=dtype))
    if ctx.edges[1] is not None:
        if spec.reduction == "none":
            f = g.reshape(layout.per_row(spec.valid).shape)
        else:
            f = g if spec.reduction == "sum" else g / _wrap(np.asarray(spec.denominator,
                                                                      dtype=dtype))
        u = v * mass * f
        grad_x = p * (u - R.sum(u * p, dim, keepdim=True))
    return grad_g, grad_x


nll_loss_op = defop(
    "nll_loss", forward=lambda logp, spec: _nll_rows(spec.layout.to_rows(logp), spec, logp.dtype),
    backward=lambda ctx, g: (nll_loss_backward_op.apply((g,), *ctx.args),))
# linear in g: its backward is the adjoint, nll_loss itself
nll_loss_backward_op = defop("nll_loss_backward", forward=_nll_backward_forward,
                             backward=lambda ctx, gg: (nll_loss_op.apply((gg,), *ctx.args),))
# log_softmax and nll_loss in one (the forward saves the log-probabilities)
cross_entropy_op = defop(
    "cross_entropy", forward=_cross_entropy_forward, saves=(0,),
    backward=lambda ctx, g: (cross_entropy_backward_op.apply((g, ctx.inputs[0]), *ctx.args),))
cross_entropy_backward_op = defop(
    "cross_entropy_backward", forward=_cross_entropy_backward_forward,
    backward=_cross_entropy_backward_backward, saves=(0, 1))


@autocast_op("nll_loss")
def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean"):
    """-weight[t] * input[t] for log-probabilities ``input``; 'mean' divides by the summed
    weights of the non-ignored targets."""
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), "nll_loss")
    check_tensor(input, "nll_loss")
    check_tensor(target, "nll_loss", "target")
    _check_index_dtype("nll_loss", target)  # torch checks the target's dtype first
    check_float(input, "nll_loss", error=NotImplementedError)
    check_not_differentiable("nll_loss_forward", weight=weight)
    spec = _NllSpec("nll_loss", input, target, weight, ignore_index, reduction, 0.0)
    return nll_loss_op.apply((input,), spec)


@autocast_op("cross_entropy")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy between logits ``input`` and ``target``: class indices (integer tensor of
    the input's shape without the class dim) or class probabilities (float, input's shape).
    ``label_smoothing`` mixes the target with the uniform distribution (torch's definition,
    including how class weights and 'mean' combine with it)."""
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction),
                                "cross_entropy")
    check_float(input, "cross_entropy", error=NotImplementedError)  # torch's log_softmax kernel
    check_tensor(target, "cross_entropy", "target")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    x = input._data
    # torch tells class probabilities from class indices by the target's shape
    if target._data.shape == x.shape and x.ndim:
        if target._data.dtype.kind != "f":
            raise RuntimeError(f"cross_entropy(): expected a floating point target with class "
                               f"probabilities (the input's shape), got {target._data.dtype}")
        layout = _ClassLayout("cross_entropy", x)
        _check_class_weight("cross_entropy", weight, input, layout.classes, same_dtype=False)
        if ignore_index >= 0:
            raise RuntimeError(f"cross_entropy(): ignore_index is not supported for floating point "
                               f"target (class probabilities), got ignore_index={ignore_index}")
        return _cross_entropy_probs(input, target, weight, layout, reduction, label_smoothing)
    t_shape = target._data.shape
    if x.ndim >= 2 and len(t_shape) >= 1 and t_shape[0] != x.shape[0]:  # torch checks it first
        raise ValueError(f"cross_entropy(): Expected input batch_size ({x.shape[0]}) to match "
                         f"target batch_size ({t_shape[0]}).")
    if target._data.dtype.kind == "f":
        raise RuntimeError(f"cross_entropy(): expected a target of class indices (an integer "
                           f"tensor) for input of shape {tuple(x.shape)}, got "
                           f"{target._data.dtype} of shape {tuple(target._data.shape)}")
    check_not_differentiable("nll_loss_forward", weight=weight)  # class indices only
    spec = _NllSpec("cross_entropy", input, target, weight, ignore_index, reduction, label_smoothing)
    return cross_entropy_op.apply((input,), spec, Saved())


def _cross_entropy_probs(input, target, weight, layout, reduction, eps):
    """torch's composition: -sum(log_softmax(x) * smoothed target * weight) over classes."""
    classes = layout.classes
    rows_count = input._data.size // classes if classes else 0
    logp = _act.log_softmax_op.apply((input,), layout.class_dim)
    t = target * (1.0 - eps) + eps / classes if eps else target
    prod = logp * t
    if weight is not None:
        prod = prod * weight.reshape((-1,) + (1,) * (input.ndim - 2) if input.ndim > 1 else -1)
    losses = -R.sum(prod, layout.class_dim)
    if reduction == "none":
        return losses
    total = R.sum(losses)
    return total if reduction == "sum" else total / float(rows_count)


@autocast_op("multi_margin_loss")
def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean"):
    """Multi-class hinge: sum over j != y of weight[y] * max(0, margin - x[y] + x[j])^p / C.

    ``input`` is (N, C), (C,) or a scalar (one class); a single sample's target may be a scalar
    or hold one element, and 'none' returns the target's shape (as torch)."""
    name = "multi_margin_loss"
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), name)
    check_float(input, name, error=NotImplementedError)  # as torch's kernel
    check_tensor(target, name, "target")
    check_not_differentiable(name, weight=weight)
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


def _margin_z(x, y, margin):
    """margin - x[y] + x, per row."""
    return margin - x[np.arange(x.shape[0]), y][:, None] + x


def _multi_margin_forward(x, spec):
    layout, y, others, w_scale, p, margin, reduction = spec
    z = _margin_z(x, y, margin)
    hinge = np.where(others & (z > 0), z, 0).astype(x.dtype, copy=False)
    loss_rows = (hinge if p == 1 else hinge * hinge).sum(axis=1) * w_scale
    return np.asarray(_reduce_rows(loss_rows, reduction, layout, x.shape[0]), dtype=x.dtype)


def _multi_margin_backward(ctx, g):
    """d/dx = c - onehot(y) * sum(c), c = w[y] / C * (z > 0) (p = 1, a constant) or
    2 w[y] / C * relu(z) (p = 2, built from registered ops)."""
    (x,) = ctx.inputs
    layout, y, others, w_scale, p, margin, reduction = ctx.args[0]
    dtype = x._data.dtype
    if p == 1:
        active = (_margin_z(x._data, y, margin) > 0) & others
        c = _wrap(active.astype(dtype) * w_scale[:, None])
    else:
        x_y = I.gather(x, 1, _wrap(y[:, None]))
        c = A.relu(x - x_y + margin) * _wrap(others * (2.0 * w_scale)[:, None])
    coef = c - _wrap((~others).astype(dtype)) * R.sum(c, 1, keepdim=True)
    if reduction == "none":
        return (coef * g.reshape(-1, 1),)
    return (coef * (g if reduction == "sum" else g / float(x._data.shape[0])),)


multi_margin_loss_op = defop("multi_margin_loss", forward=_multi_margin_forward,
                             backward=_multi_margin_backward, saves=(0,))


def _multi_margin_rows(input, target, p, margin, weight, reduction):
    name = "multi_margin_loss"
    x = input._data
    layout = _ClassLayout(name, x)
    w = _check_class_weight(name, weight, input, layout.classes)
    _, _, y = _index_target(name, target, layout, ignore_index=None, dtypes=("int64",))
    others = np.ones(x.shape, dtype=bool)
    others[np.arange(x.shape[0]), y] = False
    w_y = np.ones(x.shape[0], dtype=x.dtype) if w is None else w[y]
    spec = (layout, y, others, w_y / layout.classes, p, margin, reduction)
    return multi_margin_loss_op.apply((input,), spec)
