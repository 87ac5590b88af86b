"""Reductions with torch's ``dim``/``keepdim`` conventions."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl._argcheck import check_tensor_arg
from fastdl.autograd.op import defop
from fastdl.functional._core import Tensor, _wrap, expand, norm_dim, norm_dims, torch_dtype_name
from fastdl.functional import arithmetic as A
from fastdl.tensor import as_dtype, int64

MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _axis(dims):
    return None if dims is None else (dims[0] if len(dims) == 1 else dims)


def _keep_shape(shape, dims):
    """``shape`` with the reduced dims set to 1 (the keepdim=True result shape)."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _count(shape, dims):
    """How many elements a reduction over ``dims`` combines (a 0-d tensor's dim 0 has one)."""
    if dims is None:
        return int(np.prod(shape))
    return int(np.prod([shape[i] for i in dims if i < len(shape)]))


def _unreduce(g, shape, dims, keepdim):
    """Broadcast a reduction's gradient back over the reduced dims (differentiable)."""
    if not keepdim:
        g = g.reshape(_keep_shape(shape, dims))
    return expand(g, shape)


def accumulator_dtype(dtype):
    """The dtype a sum or product of ``dtype`` elements runs in: float16 in float32 (torch's
    acc_type: one rounding at the end, and no overflow to inf on the way), any other as it
    is. Always passed to numpy, whose sum would widen int8..int32 (and bool) to int64 and
    uint8 to uint64 where torch keeps the asked dtype."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _sum_forward(d, dims, keepdim, dt):
    if dt is not None:
        d = d.astype(dt, copy=False)
    total = d.sum(axis=_axis(dims), keepdims=keepdim, dtype=accumulator_dtype(d.dtype))
    return total.astype(d.dtype, copy=False)


def _sum_backward(ctx, g):
    dims, keepdim, _ = ctx.args
    x = ctx.inputs[0]._data
    g = _unreduce(g, x.shape, dims, keepdim)
    return (g if g._data.dtype == x.dtype else g.to(x.dtype),)


sum_op = defop("sum", forward=_sum_forward, backward=_sum_backward)
# The whole-tensor sum of a float tensor (a loss): the ufunc's reduce directly, and a backward
# that broadcasts the 0-d gradient in one step.
sum_all_op = defop("sum_all", cpu=lambda d: np.add.reduce(d, axis=None), cuda=lambda d: d.sum(),
                   backward=lambda ctx, g: (expand(g, ctx.inputs[0]._data.shape),))


@autocast_op("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (all elements when None), with torch's result dtype: ``dtype`` when
    given (the elements are cast to it first, so an integer sum wraps around in it), else
    int64 for integer and bool inputs, else the input's.

    >>> x = fastdl.tensor([100, 100], dtype=fastdl.int32)
    >>> fastdl.sum(x).dtype, fastdl.sum(x, 0, dtype=fastdl.int8).item()
    (dtype('int64'), -56)
    """
    d = input._data
    if dim is None and not keepdim and dtype is None and d.dtype.kind == "f" and d.itemsize > 2:
        return sum_all_op.unary(input)
    dims = norm_dims(dim, d.ndim)
    dt = None
    if dtype is not None:
        dt = as_dtype(dtype)
    elif d.dtype.kind in "biu":
        dt = int64
    out = sum_op.unary(input, dims, keepdim, dt)
    if dt is not None and dt.kind != "f" and out._requires_grad:
        out = out.detach()
    return out


def mean(input, dim=None, keepdim=False, *, dtype=None):
    d = input._data
    if dtype is None and d.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {torch_dtype_name(d.dtype)}")
    if dtype is not None and as_dtype(dtype).kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must be either "
                           f"a floating point or complex dtype. Got: {torch_dtype_name(as_dtype(dtype))}")
    n = _count(d.shape, norm_dims(dim, d.ndim))
    s = sum(input, dim, keepdim, dtype=dtype)
    return s / n if n else s * float("nan")


def _cumsum_forward(d, ax, dt):
    if dt is not None:
        d = d.astype(dt, copy=False)
    if not d.ndim:
        return d.copy()
    return np.cumsum(d, axis=ax, dtype=accumulator_dtype(d.dtype)).astype(d.dtype, copy=False)


def _cumsum_backward(ctx, g):
    ax = ctx.args[0]
    if g._data.ndim == 0:
        return (g,)
    return (cumsum(g.flip(ax), ax).flip(ax),)


cumsum_op = defop("cumsum", forward=_cumsum_forward, backward=_cumsum_backward)


def refuse_bool_scan(dt, name: str) -> None:
    """torch has no bool kernel for cumsum/cumprod: ``dtype=torch.bool`` raises (sum and prod
    take it, as logical any/all)."""
    if dt is not None and dt.kind == "b":
        raise NotImplementedError(f"\"{name}_out_cpu\" not implemented for 'Bool'")


@autocast_op("cumsum")
def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along ``dim``, with torch's result dtype: ``dtype`` when given, else
    int64 for integer and bool inputs, else the input's.

    >>> fastdl.cumsum(fastdl.tensor([1, 2, 3], dtype=fastdl.int8), 0, dtype=fastdl.int16).dtype
    dtype('int16')
    """
    d = input._data
    ax = norm_dim(dim, d.ndim)
    dt = None
    if dtype is not None:
        dt = as_dtype(dtype)
        refuse_bool_scan(dt, "cumsum")
    elif d.dtype.kind in "biu":
        dt = int64
    return cumsum_op.apply((input,), ax, dt)


def _running_logaddexp(a, ax):
    """``np.logaddexp.accumulate(a, axis=ax)`` slice by slice, for cupy (whose logaddexp has
    no ``accumulate``)."""
    out = a.copy()
    run = out.swapaxes(0, ax)
    for i in range(1, run.shape[0]):
        run[i] = np.logaddexp(run[i - 1], run[i])
    return out


def _logcumsumexp_forward(d, ax):
    if not d.ndim or not d.size:
        return d.copy()
    # float16 runs in float32 and rounds once at the end, as torch's CPU kernel does
    work = d.astype(np.float32) if d.dtype == np.float16 else d
    with np.errstate(invalid="ignore"):  # inf and -inf: numpy warns, torch does not
        if type(work) is np.ndarray:
            out = np.logaddexp.accumulate(work, axis=ax)
        else:
            out = _running_logaddexp(work, ax)
    return out.astype(d.dtype, copy=False)


def _logcumsumexp_backward(ctx, g):
    """torch's logcumsumexp_backward: the positive and negative parts of grad, each summed in
    the log domain by a reversed logcumsumexp against the result, so an infinite input gives
    torch's NaNs (inf - inf) rather than a finite limit."""
    (x,), y = ctx.inputs, ctx.output
    ax = ctx.args[0]
    if g._data.ndim == 0 or g._data.size == 0:
        return (g,)
    lowest = float(np.finfo(g._data.dtype).min)  # torch's stand-in for log(0), not -inf

    def part(log_g):
        rev = logcumsumexp_op.apply(((log_g - y).flip(ax),), ax).flip(ax)
        return (rev + x).exp()
    # log(0), inf - inf and overflowing exps are the formula's edge values, silent in torch
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_abs = g.abs().log()
        return (part(A.where(g > 0, log_abs, lowest)) - part(A.where(g < 0, log_abs, lowest)),)


logcumsumexp_op = defop("logcumsumexp", forward=_logcumsumexp_forward,
                        backward=_logcumsumexp_backward, saves=(0,), saves_output=True,
                        float_only=True)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input), dim))`` without overflow (float tensors, as torch's).

    Shape: input's.

    >>> [round(v, 4) for v in fastdl.logcumsumexp(fastdl.tensor([0.0, 0.0, 1000.0]), 0).tolist()]
    [0.0, 0.6931, 1000.0]
    """
    check_tensor_arg(input, "logcumsumexp")
    d = input._data
    if d.dtype.kind != "f":
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for "
                                  f"'{torch_dtype_name(d.dtype)}'")
    return logcumsumexp_op.apply((input,), norm_dim(dim, d.ndim))


def _extreme_backward(ctx, g):
    """max/min over dims: the gradient is split evenly among tied extreme elements (torch)."""
    (x,) = ctx.inputs
    dims, keepdim, _ = ctx.args
    d = x._data
    out = ctx.output._data
    kept = out if keepdim or dims is None else out.reshape(_keep_shape(d.shape, dims))
    mask = (d == kept) | (np.isnan(d) & np.isnan(kept))  # a NaN extreme: its NaNs (torch)
    share = mask / mask.sum(axis=_axis(dims), keepdims=True)
    return (_unreduce(g, d.shape, dims, keepdim) * _wrap(share.astype(d.dtype)),)


def _extreme_forward(d, dims, keepdim, reducer):
    return reducer(d, axis=_axis(dims), keepdims=keepdim)


extreme_op = defop("extreme", forward=_extreme_forward, backward=_extreme_backward, saves=(0,),
                   saves_output=True)


def amax(input, dim=None, keepdim=False):
    return _extreme_dims(input, dim, keepdim, np.max, "amax")


def amin(input, dim=None, keepdim=False):
    return _extreme_dims(input, dim, keepdim, np.min, "amin")


def _refuse_empty(d, reduced, name):
    """max/min have no value over an empty dimension (a 0-d tensor counts as one element)."""
    if d.size == 0 and (d.ndim == 0 or 0 in [d.shape[i] for i in reduced]):
        raise RuntimeError(f"{name}(): cannot reduce over an empty dimension "
                           f"(shape {tuple(d.shape)})")


def _extreme_dims(input, dim, keepdim, reducer, name):
    d = input._data
    dims = norm_dims(dim, d.ndim)
    _refuse_empty(d, range(d.ndim) if dims is None else dims, name)
    return extreme_op.apply((input,), dims, keepdim, reducer)


def _extreme(input, dim, keepdim, arg, reducer, result, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): input must be a Tensor, got {type(input).__name__}")
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (A.maximum if name == "max" else A.minimum)(input, dim)
    d = input._data
    if dim is None:
        return _extreme_dims(input, None, False, reducer, name)
    from fastdl.functional.indexing import gather
    ax = norm_dim(dim, d.ndim or 1)
    _refuse_empty(d, [ax] if d.ndim else [], name)
    if d.ndim == 0:  # a 0-d tensor is its own max along dim 0
        return result(input.reshape(()), _wrap(np.zeros((), dtype=int64)))
    idx = np.expand_dims(arg(d, axis=ax), ax)
    idx_t = _wrap(idx)
    values = gather(input, ax, idx_t)
    if not keepdim:
        values = values.squeeze(ax)
        idx_t = _wrap(idx.squeeze(ax))
    return result(values, idx_t)


def max(input, dim=None, keepdim=False):
    """Full max (a 0-d tensor), or ``(values, indices)`` along ``dim``, or the elementwise
    maximum when ``dim`` is a tensor.

    Shape: () for the full max; along dim (a, b) with dim=1 -> values and indices (a,).

    >>> x = fastdl.tensor([[1, 5], [7, 2]])
    >>> fastdl.max(x).item()
    7
    >>> values, indices = fastdl.max(x, 1)
    >>> values.tolist(), indices.tolist()
    ([5, 7], [1, 0])
    >>> fastdl.max(fastdl.tensor([1, 5]), fastdl.tensor([3, 2])).tolist()
    [3, 5]
    """
    return _extreme(input, dim, keepdim, np.argmax, np.max, MaxResult, "max")


def min(input, dim=None, keepdim=False):
    return _extreme(input, dim, keepdim, np.argmin, np.min, MinResult, "min")


def _arg_extreme(input, dim, keepdim, arg):
    d = input._data
    if dim is None:  # the flat index; keepdim keeps every dimension as 1 (torch)
        flat = np.asarray(arg(d), dtype=int64)
        return _wrap(flat.reshape((1,) * d.ndim) if keepdim else flat)
    return _wrap(arg(d, axis=norm_dim(dim, d.ndim), keepdims=keepdim).astype(int64))


def argmax(input, dim=None, keepdim=False):
    return _arg_extreme(input, dim, keepdim, np.argmax)


def argmin(input, dim=None, keepdim=False):
    return _arg_extreme(input, dim, keepdim, np.argmin)


def variance_args(name, dim, unbiased, keepdim, correction):
    """``(dim, correction)`` from torch's overloads of var/std/var_mean/std_mean:
    ``(input, unbiased)`` -- a bool second argument is ``unbiased``, alone --,
    ``(input, dim, unbiased, keepdim)`` and ``(input, dim, *, correction, keepdim)``."""
    if isinstance(dim, (bool, np.bool_)):
        if unbiased is not None or keepdim or correction is not None:
            raise TypeError(f"{name}(): a bool second argument is unbiased, which takes no "
                            "unbiased, keepdim or correction beside it")
        unbiased, dim = bool(dim), None
    if unbiased is not None:
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"{name}(): argument 'unbiased' must be bool, not "
                            f"{type(unbiased).__name__}")
        if correction is not None:
            raise TypeError(f"{name}(): pass either unbiased or correction, not both")
    return dim, correction if correction is not None else (0 if unbiased is False else 1)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (``correction=1``), like torch.

    Shape: () over all elements; (a, b) with dim=1 -> (a,), or (a, 1) with keepdim.

    >>> fastdl.var(fastdl.tensor([1.0, 3.0])).item()
    2.0
    >>> fastdl.var(fastdl.tensor([1.0, 3.0]), correction=0).item()
    1.0
    >>> fastdl.var(fastdl.ones(2, 3), 1).shape
    (2,)
    """
    dim, c = variance_args("var", dim, unbiased, keepdim, correction)
    n = _count(input._data.shape, norm_dims(dim, input._data.ndim))
    centered = input - mean(input, dim, keepdim=True)
    return sum(centered * centered, dim, keepdim) / float(np.maximum(n - c, 0))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return A.sqrt_flat_at_zero(var(input, dim, unbiased, keepdim, correction=correction))


@autocast_op("logsumexp")
def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x)))`` along ``dim``, shifted by the max so it never overflows.

    Shape: (a, b) with dim=1 -> (a,), or (a, 1) with keepdim.

    >>> fastdl.logsumexp(fastdl.zeros(2, 4), 1).shape
    (2,)
    >>> fastdl.logsumexp(fastdl.tensor([1000.0, 1000.0]), 0).item()  # 1000 + ln 2, no overflow
    1000.69...
    """
    x = input if input._data.dtype.kind == "f" else input.float()
    dims = norm_dims(dim, x._data.ndim)
    d = x._data
    if d.size:
        shift = np.max(d, axis=_axis(dims), keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0)
    else:  # the max has no identity; log(sum over nothing) is -inf anyway
        shift = np.zeros(_keep_shape(d.shape, dims), dtype=d.dtype)
    s = _wrap(shift)
    out = A.log(sum(A.exp(x - s), dim, keepdim=True)) + s
    return out if keepdim else out.reshape(tuple(
        n for i, n in enumerate(out._data.shape) if i not in (dims or range(out._data.ndim))))


@autocast_op("norm")
def norm(input, p=2, dim=None, keepdim=False):
    """Vector p-norm over ``dim`` (all elements by default).

    Shape: () over all elements; (a, b) with dim=1 -> (a,), or (a, 1) with keepdim.

    >>> fastdl.norm(fastdl.tensor([3.0, 4.0])).item()
    5.0
    >>> fastdl.norm(fastdl.tensor([3.0, -4.0]), p=1).item()
    7.0
    >>> fastdl.norm(fastdl.ones(2, 4), dim=1).tolist()
    [2.0, 2.0]
    """
    x = input
    if isinstance(p, str) and not (p == "fro" and (dim is None or isinstance(dim, int)
                                                   or len(dim) <= 2)):
        # torch.norm's rule: 'nuc', and 'fro' over more than two dims, are matrix norms
        from fastdl.linalg.norms import matrix_norm
        dims = range(x._data.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
        return matrix_norm(x, p, tuple(dims), keepdim)
    if p is None or p == 2 or p == "fro":
        return A.sqrt_flat_at_zero(sum(x * x, dim, keepdim))
    if p == 1:
        return sum(A.abs(x), dim, keepdim)
    if p == float("inf"):
        return amax(A.abs(x), dim, keepdim)
    if p == float("-inf"):
        return amin(A.abs(x), dim, keepdim)
    if p == 0:  # the number of non-zero elements (piecewise constant: zero gradient)
        return sum(A.ceil(A.sign(A.abs(x))), dim, keepdim)
    return sum(A.abs(x) ** p, dim, keepdim) ** (1.0 / p)


def all(input, dim=None, keepdim=False):
    dims = norm_dims(dim, input._data.ndim)
    return _wrap(np.all(input._data, axis=_axis(dims), keepdims=keepdim))


def any(input, dim=None, keepdim=False):
    dims = norm_dims(dim, input._data.ndim)
    return _wrap(np.any(input._data, axis=_axis(dims), keepdims=keepdim))


def count_nonzero(input, dim=None):
    dims = norm_dims(dim, input._data.ndim)
    return _wrap(np.asarray(np.count_nonzero(input._data, axis=_axis(dims)), dtype=int64))
