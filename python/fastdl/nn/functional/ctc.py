"""Connectionist temporal classification loss (``ctc_loss``).

The forward runs the standard alpha recursion in log space over the blank-extended targets
(blank, l1, blank, l2, ..., blank), vectorised over the batch: one numpy step per time step over
an (N, 2 * max target length + 1) array. The gradient comes from the beta recursion, run in the
backward: with lcab[t, c] the log of sum over positions s holding label c of
alpha[t, s] * beta[t, s], it is torch's formula

    exp(log_probs[t, c]) - exp(lcab[t, c] + nll - log_probs[t, c])

zero for t past a sample's input length (and for a whole sample whose loss is infinite when
``zero_infinity``). Like torch's, it is the gradient for log-probabilities that come from a
log_softmax: it differs from the plain derivative by exp(log_probs), which log_softmax's
backward maps to zero, so gradients of the logits are exact. The recursions run in the
input's dtype with torch's log-sum-exp arithmetic and order, so float32 results round as
torch's do.
The backward is the computed gradient times the incoming one (torch has no second derivative
of ctc_loss either).
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.op import Saved, defop
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import check_reduction, check_tensor
from fastdl.tensor import Tensor, _wrap


class _CtcSpec:
    """The targets of one call: blank-extended labels (N, S), lengths, options."""

    __slots__ = ("extended", "input_lengths", "target_lengths", "blank", "zero_infinity")

    def __init__(self, extended, input_lengths, target_lengths, blank, zero_infinity):
        self.extended, self.blank, self.zero_infinity = extended, blank, zero_infinity
        self.input_lengths, self.target_lengths = input_lengths, target_lengths

    def __repr__(self):
        return f"<ctc targets {self.extended.shape}>"

    def skip_allowed(self):
        """Where the recursion may come from s - 2: a label differing from the one before the
        blank between them."""
        ext = self.extended
        allowed = np.zeros(ext.shape, dtype=bool)
        allowed[:, 2:] = (ext[:, 2:] != self.blank) & (ext[:, 2:] != ext[:, :-2])
        return allowed

    def valid_positions(self):
        s = np.arange(self.extended.shape[1])
        return s[None, :] < (2 * self.target_lengths + 1)[:, None]


def _log_add3(a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, torch's way: shifted by the max (0 when all
    are -inf, so the result is -inf without NaN)."""
    top = np.maximum(np.maximum(a, b), c)
    top = np.where(np.isneginf(top), 0.0, top)
    with np.errstate(divide="ignore"):  # log(0) = -inf: no path reaches this position
        return np.log(np.exp(a - top) + np.exp(b - top) + np.exp(c - top)) + top


def _shift(a, by):
    """a moved right by ``by`` positions along the last dim, -inf coming in."""
    out = np.full_like(a, -np.inf)
    out[:, by:] = a[:, :a.shape[1] - by]
    return out


def _extended_log_probs(log_probs, spec):
    """log_probs[t, n, extended[n, s]]: (T, N, S)."""
    index = np.broadcast_to(spec.extended[None], (log_probs.shape[0],) + spec.extended.shape)
    return np.take_along_axis(log_probs, index, axis=2)


def _alphas(ext_lp, spec):
    steps, batch, positions = ext_lp.shape
    skip, valid = spec.skip_allowed(), spec.valid_positions()
    alpha = np.full(ext_lp.shape, -np.inf, dtype=ext_lp.dtype)
    if steps:
        alpha[0, :, 0] = ext_lp[0, :, 0]
        if positions > 1:
            alpha[0, :, 1] = np.where(spec.target_lengths > 0, ext_lp[0, :, 1], -np.inf)
    for t in range(1, steps):
        prev = alpha[t - 1]
        from_skip = np.where(skip, _shift(prev, 2), -np.inf)
        step = _log_add3(prev, _shift(prev, 1), from_skip) + ext_lp[t]
        alpha[t] = np.where(valid, step, -np.inf)
    return alpha


def _log_likelihood(alpha, spec):
    """log p(target | input) per sample: the last two alphas (only the last for an empty
    target) at the sample's last input step, added as torch does."""
    batch = np.arange(spec.extended.shape[0])
    last = 2 * spec.target_lengths
    times = np.maximum(spec.input_lengths - 1, 0)
    end = alpha[times, batch, last]
    before = np.where(last > 0, alpha[times, batch, np.maximum(last - 1, 0)], -np.inf)
    top = np.maximum(end, before)
    top = np.where(np.isneginf(top), 0, top).astype(alpha.dtype)
    return np.log(np.exp(end - top) + np.exp(before - top)) + top


def _ctc_forward(log_probs, spec, saved):
    ext_lp = _extended_log_probs(log_probs, spec)
    alpha = _alphas(ext_lp, spec)
    with np.errstate(divide="ignore"):
        nll = -_log_likelihood(alpha, spec)
    empty_input = spec.input_lengths == 0  # nothing emitted: only an empty target is possible
    nll = np.where(empty_input, np.where(spec.target_lengths == 0, 0.0, np.inf),
                   nll).astype(log_probs.dtype)
    saved.values = (ext_lp, alpha, nll)
    if spec.zero_infinity:
        nll = np.where(np.isinf(nll), 0.0, nll).astype(log_probs.dtype)
    return nll


def _betas(ext_lp, spec):
    steps = ext_lp.shape[0]
    skip, valid = spec.skip_allowed(), spec.valid_positions()
    batch = np.arange(spec.extended.shape[0])
    last = 2 * spec.target_lengths
    beta = np.full(ext_lp.shape, -np.inf, dtype=ext_lp.dtype)
    for t in range(steps - 1, -1, -1):
        if t + 1 < steps:
            after = beta[t + 1]
            from_skip = _shift(np.where(skip, after, -np.inf)[:, ::-1], 2)[:, ::-1]
            from_next = _shift(after[:, ::-1], 1)[:, ::-1]
            step = _log_add3(after, from_next, from_skip) + ext_lp[t]
            beta[t] = np.where(valid & (t < spec.input_lengths - 1)[:, None], step, -np.inf)
        n = batch[spec.input_lengths - 1 == t]  # the samples whose input ends here
        beta[t, n, last[n]] = ext_lp[t, n, last[n]]
        with_label = n[last[n] > 0]
        beta[t, with_label, last[with_label] - 1] = ext_lp[t, with_label, last[with_label] - 1]
    return beta


def _log_alpha_beta_per_class(alpha, beta, spec, classes):
    """lcab (T, N, C): per class, the log of the sum of alpha * beta over the positions holding
    it, accumulated position by position from the end as torch does (same rounding)."""
    steps, batch = alpha.shape[:2]
    lcab = np.full((steps, batch, classes), -np.inf, dtype=alpha.dtype)
    rows, valid = np.arange(batch), spec.valid_positions()
    for s in range(spec.extended.shape[1] - 1, -1, -1):
        label = spec.extended[:, s]
        current = lcab[:, rows, label]
        term = alpha[:, :, s] + beta[:, :, s]
        top = np.maximum(current, term)
        with np.errstate(invalid="ignore"):
            added = np.log(np.exp(current - top) + np.exp(term - top)) + top
        update = np.where(np.isneginf(current), term, added)
        lcab[:, rows, label] = np.where(valid[:, s], update, current)
    return lcab


def _ctc_gradient(log_probs, spec, saved):
    """d nll / d log_probs per sample (torch's formula, see the module docstring), (T, N, C)."""
    ext_lp, alpha, nll = saved.values
    beta = _betas(ext_lp, spec)
    lcab = _log_alpha_beta_per_class(alpha, beta, spec, log_probs.shape[2])
    with np.errstate(invalid="ignore", over="ignore"):
        grad = np.exp(log_probs) - np.exp(lcab + nll[None, :, None] - log_probs)
    steps = np.arange(log_probs.shape[0])[:, None]
    grad = np.where((steps < spec.input_lengths[None, :])[:, :, None], grad, 0)
    if spec.zero_infinity:
        grad = np.where(np.isinf(nll)[None, :, None], 0, grad)
    return grad.astype(log_probs.dtype, copy=False)


def _ctc_backward(ctx, g):
    (log_probs,) = ctx.inputs
    spec, saved = ctx.args
    per_sample = _wrap(_ctc_gradient(log_probs._data, spec, saved))
    return (per_sample * g.reshape(1, -1, 1),)


ctc_loss_op = defop("ctc_loss", forward=_ctc_forward, backward=_ctc_backward, saves=(0,))


def _lengths(name, values, batch):
    """Lengths given as a tensor or a sequence, as an int64 array (N,)."""
    if isinstance(values, Tensor):
        if values._data.dtype.kind not in "iu":
            raise RuntimeError(f"ctc_loss(): {name} must hold integers, got dtype "
                               f"{values._data.dtype}")
        array = np.asarray(values._data).reshape(-1)
    else:
        array = np.asarray(values)
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"ctc_loss(): {name} must be integers, got {values!r}")
    array = array.astype(np.int64).reshape(-1)
    if array.shape[0] != batch:
        raise RuntimeError(f"ctc_loss(): {name} must be of size batch_size ({batch}), got "
                           f"{array.shape[0]}")
    if (array < 0).any():
        raise RuntimeError(f"ctc_loss(): {name} must be non-negative, got {array.tolist()}")
    return array


def _extended_targets(targets, target_lengths, batch, blank, classes):
    """Blank-extended labels (N, 2 * max length + 1) from padded (N, S) or concatenated
    targets."""
    t = np.asarray(targets._data)
    if t.dtype.kind in "fb":  # torch casts float and bool targets to int64 (truncating)
        t = t.astype(np.int64)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss(): targets must hold class indices (integers), got dtype "
                           f"{t.dtype}")
    longest = int(target_lengths.max()) if batch else 0
    if t.ndim == 2:
        if t.shape[0] != batch:
            raise RuntimeError(f"ctc_loss(): padded targets must have batch_size ({batch}) "
                               f"rows, got shape {tuple(t.shape)}")
        if t.shape[1] < longest:
            raise RuntimeError(f"ctc_loss(): expected tensor to have size at least {longest} "
                               f"at dimension 1 (the longest target), but got size "
                               f"{t.shape[1]}")
        labels = t[:, :longest]
    elif t.ndim == 1:
        if t.shape[0] < target_lengths.sum():
            raise RuntimeError(f"ctc_loss(): concatenated targets hold {t.shape[0]} labels, "
                               f"fewer than the target lengths' sum {int(target_lengths.sum())}")
        starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]]).astype(np.int64)
        offsets = np.minimum(np.arange(longest)[None, :], np.maximum(target_lengths - 1, 0)[:, None])
        # a trailing empty target starts at t.size: clipped, its labels are masked out below
        labels = t[np.minimum(starts[:, None] + offsets, t.size - 1)] if t.size \
            else np.zeros((batch, longest), np.int64)
    else:
        raise RuntimeError(f"ctc_loss(): targets must be 1-D (concatenated) or 2-D (padded), "
                           f"got shape {tuple(t.shape)}")
    in_target = np.arange(longest)[None, :] < target_lengths[:, None]
    used = labels[in_target]
    if used.size and (used.min() < 0 or used.max() >= classes):
        raise RuntimeError(f"ctc_loss(): target labels must be in [0, {classes}), got "
                           f"{int(used.min()) if used.min() < 0 else int(used.max())}")
    extended = np.full((batch, 2 * longest + 1), blank, dtype=np.int64)
    extended[:, 1::2] = np.where(in_target, labels, blank)
    return extended


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False):
    """-log p(target | input) summed over all alignments, for ``log_probs`` (T, N, C) (or
    (T, C) unbatched) from a log_softmax over C classes, ``blank`` among them. ``targets``
    are padded (N, S) or concatenated (sum(target_lengths),) class indices; the lengths are
    both tensors or both sequences of ints (one each for unbatched input). 'mean' divides
    each sample's loss by its target length (at least 1), then averages over the batch; ``zero_infinity`` replaces
    infinite losses (no alignment possible) and their gradients by zero."""
    check_reduction(reduction, "ctc_loss")
    check_tensor(log_probs, "ctc_loss", "log_probs")
    check_tensor(targets, "ctc_loss", "targets")
    if log_probs._data.dtype.kind != "f":
        raise RuntimeError(f"ctc_loss(): log_probs must be a floating point tensor, got "
                           f"{log_probs._data.dtype}")
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss(): log_probs must be 3-D (input length, batch, classes) "
                           f"or 2-D unbatched, got shape {tuple(log_probs.shape)}")
    batched = log_probs.ndim == 3
    if not batched:
        log_probs, targets = log_probs.unsqueeze(1), targets.unsqueeze(0)
    steps, batch, classes = log_probs.shape
    if not 0 <= blank < classes:
        raise RuntimeError(f"ctc_loss(): blank must be in label range [0, {classes}), got "
                           f"{blank}")
    # torch's overloads: both lengths tensors or both int sequences (a bare int is neither)
    kinds = {isinstance(v, Tensor) or (isinstance(v, (tuple, list)) and "seq")
             for v in (input_lengths, target_lengths)}
    if len(kinds) != 1 or False in kinds:
        raise TypeError(f"ctc_loss(): input_lengths and target_lengths must both be tensors or "
                        f"both sequences of ints, got {type(input_lengths).__name__} and "
                        f"{type(target_lengths).__name__}")
    input_lengths = _lengths("input_lengths", input_lengths, batch)
    target_lengths = _lengths("target_lengths", target_lengths, batch)
    if batch and input_lengths.max() > steps:
        raise RuntimeError(f"ctc_loss(): expected input_lengths to have value at most "
                           f"{steps}, but got value {int(input_lengths.max())}")
    extended = _extended_targets(targets, target_lengths, batch, blank, classes)
    spec = _CtcSpec(extended, input_lengths, target_lengths, blank, zero_infinity)
    losses = ctc_loss_op.apply((log_probs,), spec, Saved())
    if reduction == "mean":
        divisor = np.maximum(target_lengths, 1).astype(log_probs._data.dtype)
        return R.mean(losses / _wrap(divisor))
    if reduction == "sum":
        return R.sum(losses)
    return losses if batched else losses.reshape(())
