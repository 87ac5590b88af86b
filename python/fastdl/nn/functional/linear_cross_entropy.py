"""``linear_cross_entropy``: cross entropy of linearly projected inputs, whole or in row chunks
(torch 2.13's semantics), composed of ``linear`` and ``cross_entropy``."""
from __future__ import annotations

import math
import warnings

import fastdl
from fastdl.autograd.function import Function
from fastdl.autograd.grad_mode import enable_grad, is_grad_enabled
from fastdl.nn.functional._checks import check_tensor
from fastdl.nn.functional.linear import linear
from fastdl.nn.functional.linear_cross_entropy_options import LinearCrossEntropyOptions
from fastdl.nn.functional.loss_classification import cross_entropy

__all__ = ["LinearCrossEntropyOptions", "linear_cross_entropy"]


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction: str = "mean", ignore_index=None,
                         label_smoothing: float = 0.0, options=None):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``.

    ``input`` is ``(in_features,)`` or ``(N, in_features)``; ``linear_weight`` is
    ``(C, in_features)`` or ``(C, d_1, ..., d_K, in_features)`` for a K-dimensional loss
    (logits ``(N, C, d_1, ..., d_K)``), ``linear_bias`` its shape without the last dimension.
    ``ignore_index=None`` means -100 for class-index targets and is the only value allowed with
    class probabilities. With ``options`` (a :class:`LinearCrossEntropyOptions`) the rows run in
    chunks that are recomputed in backward, so the ``(N, C)`` logits never exist at once; like
    torch this needs int64 targets, no label smoothing and ``out_features == ()``, and other
    calls warn and take the whole-logits path.

    Example::

        >>> import fastdl
        >>> import fastdl.nn.functional as F
        >>> x, w = fastdl.ones(2, 3), fastdl.zeros(4, 3)
        >>> round(F.linear_cross_entropy(x, w, fastdl.tensor([0, 3])).item(), 4)  # log(4)
        1.3863
        >>> opts = fastdl.nn.LinearCrossEntropyOptions(batch_chunk_size=1)
        >>> F.linear_cross_entropy(x, w, fastdl.tensor([0, 3]), reduction="none", options=opts)
        tensor([1.3863, 1.3863])
    """
    check_tensor(input, "linear_cross_entropy")
    check_tensor(linear_weight, "linear_cross_entropy", "linear_weight")
    check_tensor(target, "linear_cross_entropy", "target")
    x_shape, w_shape = tuple(input.shape), tuple(linear_weight.shape)
    if not 1 <= len(x_shape) <= 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {len(x_shape)}")
    if len(w_shape) < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{len(w_shape)}")
    batches, in_features = x_shape[:-1], x_shape[-1]
    if in_features != w_shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {in_features} and {w_shape[-1]}, respectively")
    num_classes, out_features = w_shape[0], w_shape[1:-1]
    if linear_bias is not None and tuple(linear_bias.shape) != w_shape[:-1]:
        raise RuntimeError(f"expected linear_bias shape {w_shape[:-1]}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {w_shape} "
                           f"requires batched input, (N, {in_features}), got unbatched input "
                           f"with shape {x_shape}")
    logits_shape = (*batches, num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None:
        if _chunkable(target, reduction, label_smoothing, out_features):
            return _chunked(input, linear_weight, target, linear_bias, weight, reduction,
                            ignore_index, options)
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
            "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, out_features "
            f"== (). Got reduction={reduction!r}, label_smoothing={label_smoothing}, "
            f"target.dtype={target.dtype}, out_features={out_features}.", stacklevel=2)
    rows = math.prod(w_shape[:-1])
    logits = linear(input, linear_weight.reshape(rows, in_features),
                    None if linear_bias is None else linear_bias.reshape(rows))
    return cross_entropy(logits.reshape(logits_shape), target, weight=weight,
                         reduction=reduction, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)


def _chunkable(target, reduction, label_smoothing, out_features):
    return (reduction in ("mean", "sum", "none") and label_smoothing == 0.0
            and target.dtype == fastdl.int64 and not out_features)


def _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index,
             options):
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1)
    n, in_features = input.shape
    rows = options.chunk_rows(n, in_features, linear_weight.shape[0])
    plan = _Plan(rows, target, weight, ignore_index, options.acc_dtype)
    out = _ChunkedLoss.apply(plan, input, linear_weight, linear_bias)
    if reduction == "none":
        return out.reshape(()) if unbatched else out
    total = out.sum()
    if reduction == "sum":
        return total
    # torch's mean: divided by the summed class weights of the targets that are not ignored
    kept = target != ignore_index
    safe = fastdl.where(kept, target, fastdl.zeros_like(target))
    taken = kept.to(input.dtype) if weight is None else weight[safe] * kept.to(input.dtype)
    return total / taken.sum()


class _Plan:
    """What the chunks share besides the differentiable tensors."""

    def __init__(self, rows, target, weight, ignore_index, acc_dtype):
        self.rows, self.target, self.weight = rows, target, weight
        self.ignore_index, self.acc_dtype = ignore_index, acc_dtype

    def spans(self, n):
        return [(s, min(s + self.rows, n)) for s in range(0, n, self.rows)] or [(0, 0)]

    def losses(self, x, w, b, start, stop):
        """Per-row weighted losses of rows start:stop (0 where the target is ignored)."""
        dtype = x.dtype
        if self.acc_dtype is not None and self.acc_dtype != dtype:
            x, w = x.to(self.acc_dtype), w.to(self.acc_dtype)
            b = None if b is None else b.to(self.acc_dtype)
        weight = None if self.weight is None else self.weight.to(x.dtype)
        logits = linear(x[start:stop], w, b)
        out = cross_entropy(logits, self.target[start:stop], weight=weight,
                            ignore_index=self.ignore_index, reduction="none")
        return out.to(dtype)


class _ChunkedLoss(Function):
    """Per-row losses, chunk by chunk; backward recomputes one chunk's logits at a time
    (activation checkpointing per chunk), through the differentiable ops when a graph of the
    backward is asked for, so second derivatives flow as well."""

    @staticmethod
    def forward(ctx, plan, x, w, b):
        ctx.plan = plan
        ctx.save_for_backward(x, w, b)
        n = x.shape[0]
        return fastdl.cat([plan.losses(x, w, b, s, e) for s, e in plan.spans(n)])

    @staticmethod
    def backward(ctx, grad):
        plan, (x, w, b) = ctx.plan, ctx.saved_tensors
        create = is_grad_enabled()
        if not create:  # fresh leaves: each chunk's graph is freed once its gradients are out
            x, w = x.detach().requires_grad_(), w.detach().requires_grad_()
            b = None if b is None else b.detach().requires_grad_()
        wants = [t for t, need in zip((w, b), ctx.needs_input_grad[2:]) if need]
        x_parts, sums = [], None
        for s, e in plan.spans(x.shape[0]):
            with enable_grad():
                xs = x[s:e]
                losses = _losses_of_rows(plan, xs, w, b, s, e)
            found = fastdl.autograd.grad(losses, [xs] + wants, grad_outputs=grad[s:e],
                                         create_graph=create, allow_unused=True)
            x_parts.append(_or_zeros(found[0], xs))
            parts = [_or_zeros(g, t) for g, t in zip(found[1:], wants)]
            sums = parts if sums is None else [a + p for a, p in zip(sums, parts)]
        grads = iter(sums or [])
        gw = next(grads) if ctx.needs_input_grad[2] else None
        gb = next(grads) if ctx.needs_input_grad[3] else None
        gx = fastdl.cat(x_parts) if ctx.needs_input_grad[1] else None
        return None, gx, gw, gb


def _losses_of_rows(plan, xs, w, b, start, stop):
    """plan.losses on an already sliced chunk (its rows are start:stop of the target)."""
    sub = _Plan(plan.rows, plan.target[start:stop], plan.weight, plan.ignore_index,
                plan.acc_dtype)
    return sub.losses(xs, w, b, 0, stop - start)


def _or_zeros(g, like):
    return fastdl.zeros_like(like) if g is None else g
