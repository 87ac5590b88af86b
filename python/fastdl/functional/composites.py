"""torch functions composed from registered differentiable ops.

Each one here is exact as a composition (same values and the same gradients as torch's own
backward formula in derivatives.yaml), so none needs an op of its own: the gradients, double
backward and the CUDA path come from the ops it is built from. Where torch picks elements
(cummax, kthvalue, median, mode), the positions are found on the arrays and the values are
``gather``-ed, which is torch's backward (the gradient goes to the picked position).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional._core import Tensor, _wrap, as_tensor_arg, norm_dim, promote_pair, xp_of
from fastdl.functional.indexing import gather, index_select, masked_fill, scatter_add
from fastdl.functional.linalg import mm
from fastdl.functional.scattering import scatter
from fastdl.tensor import int64

values_indices = {name: namedtuple(name, ["values", "indices"])
                  for name in ("cummax", "cummin", "kthvalue", "median", "nanmedian", "mode")}
aminmax_result = namedtuple("aminmax", ["min", "max"])


def _tensor(x, fn, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{what}' must be Tensor, not {type(x).__name__}")
    return x


# ---- pointwise with a scale ----
def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``.

    Shape: the three broadcast together.

    >>> fastdl.addcmul(fastdl.ones(2), fastdl.tensor([1.0, 2.0]), fastdl.tensor([3.0, 4.0]),
    ...                value=0.5).tolist()
    [2.5, 5.0]
    """
    _tensor(input, "addcmul")
    product = A.mul(tensor1, tensor2)
    return A.add(input, product if value == 1 else A.mul(product, value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``; integer tensor1 and tensor2 raise, as in torch
    (true division of integers is ambiguous there).

    Shape: the three broadcast together.

    >>> fastdl.addcdiv(fastdl.ones(2), fastdl.tensor([1.0, 2.0]), fastdl.tensor([4.0, 4.0]),
    ...                value=2).tolist()
    [1.5, 2.0]
    """
    _tensor(input, "addcdiv")
    if all(isinstance(t, Tensor) and t._data.dtype.kind in "biu" for t in (tensor1, tensor2)):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. Use addcdiv with a floating-point tensor1 or tensor2 instead")
    quotient = A.div(tensor1, tensor2)
    return A.add(input, quotient if value == 1 else A.mul(quotient, value))


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``; with beta == 0 input is ignored (NaN in it
    does not propagate), as in torch.

    Shape: mat1 (n, m), mat2 (m, p); input broadcasts to (n, p).

    >>> fastdl.addmm(fastdl.ones(2, 2), fastdl.eye(2), fastdl.full((2, 2), 3.0),
    ...              alpha=2).tolist()
    [[7.0, 7.0], [7.0, 7.0]]
    """
    _tensor(input, "addmm")
    product = mm(mat1, mat2)
    if alpha != 1:
        product = A.mul(product, alpha)
    if beta == 0:  # input still broadcasts and gets a zero gradient, its NaN/inf are dropped
        return A.add(product, A.mul(A.where(A.isfinite(input), input, 0), 0))
    return A.add(product, input if beta == 1 else A.mul(input, beta))


# ---- the index_* family: scatter/scatter_add along one dim with index spread over the rest ----
def _index_along(fn, input, dim, index, slice_shape=None):
    """(axis, index broadcast over a slice of input with len(index) along axis), after torch's
    checks: a 1-D (or 0-d) integer index whose entries lie in [0, input.size(dim))."""
    d = input._data
    ax = norm_dim(dim, d.ndim)
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise TypeError(f"{fn}(): index must be an integer tensor, got "
                        f"{getattr(getattr(index, '_data', index), 'dtype', type(index))}")
    idx = index._data
    if idx.ndim > 1:
        raise IndexError(f"{fn}(): index should have at most one dimension, got {idx.ndim}")
    idx = idx.reshape(-1).astype(int64)
    size = d.shape[ax] if d.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise IndexError(f"{fn}(): index out of range for dimension {dim} of size {size}")
    shape = list(d.shape) if d.ndim else [1]
    shape[ax] = idx.size
    if slice_shape is not None and tuple(slice_shape) != tuple(shape[:d.ndim]):
        raise RuntimeError(f"{fn}(): source of shape {tuple(slice_shape)} must have input's "
                           f"shape {tuple(d.shape)} with {idx.size} at dim {ax}")
    view = [1] * len(shape)
    view[ax] = idx.size
    spread = xp_of(d).ascontiguousarray(xp_of(d).broadcast_to(idx.reshape(view), shape))
    return ax, _wrap(spread)


def _on_1d(input, fn):
    """Run fn on a 0-d input as a 1-element 1-D one (torch treats 0-d as size 1 at dim 0)."""
    return fn(input.reshape(1)).reshape(()) if input._data.ndim == 0 else fn(input)


def _index_source(fn, input, dim, index, source):
    """(axis, spread index, source shaped like it) for index_add/index_copy, after checking
    that source matches input's dtype and shape (len(index) at dim)."""
    _tensor(input, fn)
    _tensor(source, fn, "source")
    source_shape = source._data.shape if source._data.ndim else (1,) * max(input._data.ndim, 1)
    ax, spread = _index_along(fn, input, dim, index, source_shape)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"{fn}(): self ({input._data.dtype}) and source "
                           f"({source._data.dtype}) must have the same scalar type")
    return ax, spread, source.reshape(spread._data.shape)


def index_add(input, dim, index, source, *, alpha=1):
    """``out = input.clone(); out[..., index[i], ...] += alpha * source[..., i, ...]`` along
    ``dim`` (repeated indices accumulate).

    Shape: source has input's shape with len(index) at dim; the result has input's shape.

    >>> fastdl.index_add(fastdl.zeros(3, 2), 0, fastdl.tensor([0, 2, 0]), fastdl.ones(3, 2)).tolist()
    [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    """
    ax, spread, source = _index_source("index_add", input, dim, index, source)
    if alpha != 1:
        source = A.mul(source, alpha)
    return _on_1d(input, lambda x: scatter_add(x, ax, spread, source))


def index_copy(input, dim, index, source):
    """``out = input.clone(); out[..., index[i], ...] = source[..., i, ...]`` along ``dim``
    (with a repeated index, which copy wins is unspecified, as in torch).

    Shape: source has input's shape with len(index) at dim; the result has input's shape.

    >>> fastdl.index_copy(fastdl.zeros(2, 3), 1, fastdl.tensor([2, 0]),
    ...                   fastdl.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[2.0, 0.0, 1.0], [4.0, 0.0, 3.0]]
    """
    ax, spread, source = _index_source("index_copy", input, dim, index, source)
    return _on_1d(input, lambda x: scatter(x, ax, spread, source))


def index_fill(input, dim, index, value):
    """input with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d
    tensor, which is differentiable).

    Shape: input's.

    >>> fastdl.index_fill(fastdl.zeros(2, 3), 1, fastdl.tensor([0, 2]), -1.0).tolist()
    [[-1.0, 0.0, -1.0], [-1.0, 0.0, -1.0]]
    """
    _tensor(input, "index_fill")
    ax, spread = _index_along("index_fill", input, dim, index)
    d = input._data
    selected = xp_of(d).zeros(d.shape[ax] if d.ndim else 1, dtype=bool)
    selected[spread._data.reshape(-1)] = True
    view = [1] * max(d.ndim, 1)
    view[ax] = selected.size
    mask = _wrap(selected.reshape(view) if d.ndim else selected.reshape(()))
    return masked_fill(input, mask, value)


def take(input, index):
    """input's elements at ``index`` as if input were flattened (negative indices count from
    the end).

    Shape: index's.

    >>> fastdl.take(fastdl.tensor([[4.0, 3.0], [5.0, 6.0]]), fastdl.tensor([[0, 3], [-1, 1]])).tolist()
    [[4.0, 6.0], [6.0, 3.0]]
    """
    _tensor(input, "take")
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise TypeError("take(): index must be an integer tensor")
    n = input._data.size
    idx = index._data.astype(int64)
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"take(): index out of range for a tensor of {n} elements")
    flat_index = _wrap(xp_of(idx).where(idx < 0, idx + n, idx).reshape(-1))
    return index_select(input.reshape(-1), 0, flat_index).reshape(idx.shape)


# ---- reductions that skip NaN, and pairs of reductions ----
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """sum treating NaN as zero (their gradient is 0, as torch's).

    Shape: sum's.

    >>> fastdl.nansum(fastdl.tensor([1.0, float("nan"), 2.0])).item()
    3.0
    """
    _tensor(input, "nansum")
    x = A.where(A.isnan(input), 0, input) if input._data.dtype.kind == "f" else input
    return R.sum(x, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """mean of the non-NaN elements (NaN when all are NaN).

    Shape: mean's.

    >>> fastdl.nanmean(fastdl.tensor([[1.0, float("nan")], [2.0, 4.0]]), 1).tolist()
    [1.0, 3.0]
    """
    _tensor(input, "nanmean")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected a floating point input, got "
                           f"{input._data.dtype}")
    if dtype is not None:
        input = input.to(dtype)
    present = A.logical_not(A.isnan(input))
    count = R.sum(present, dim, keepdim).to(input._data.dtype)
    return A.div(nansum(input, dim, keepdim), count)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` of input, over all elements or along ``dim``.

    Shape: amin's.

    >>> fastdl.aminmax(fastdl.tensor([[1.0, 5.0], [3.0, -2.0]]), dim=1)
    aminmax(min=tensor([ 1., -2.]), max=tensor([5., 3.]))
    """
    _tensor(input, "aminmax")
    if input._data.size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity")
    return aminmax_result(R.amin(input, dim, keepdim), R.amax(input, dim, keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` of input (var with Bessel's correction by default, as torch).

    Shape: var's.

    >>> v, m = fastdl.var_mean(fastdl.tensor([1.0, 2.0, 3.0, 4.0]))
    >>> round(v.item(), 4), m.item()
    (1.6667, 2.5)
    """
    _tensor(input, "var_mean")
    return (R.var(input, dim, unbiased, keepdim, correction=correction),
            R.mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` of input (std with Bessel's correction by default, as torch).

    Shape: std's.

    >>> s, m = fastdl.std_mean(fastdl.tensor([1.0, 3.0]))
    >>> round(s.item(), 4), m.item()
    (1.4142, 2.0)
    """
    _tensor(input, "std_mean")
    return (R.std(input, dim, unbiased, keepdim, correction=correction),
            R.mean(input, dim, keepdim))


# ---- selections: positions found on the arrays, values gathered (torch's gradient) ----
def _picked(name, input, positions, ax, keepdim):
    """values_indices[name] of input's elements at ``positions`` (keepdim-shaped, int64)."""
    index = _wrap(positions)
    values = gather(input, ax, index)
    if not keepdim:
        values, index = values.squeeze(ax), index.squeeze(ax)
    return values_indices[name](values, index)


def _cumulative_extreme(name, input, dim, better):
    _tensor(input, name)
    d = input._data
    if d.ndim == 0:
        return values_indices[name](input.clone(), _wrap(np.zeros((), dtype=int64)))
    ax = norm_dim(dim, d.ndim)
    xp = xp_of(d)
    running = better.accumulate(d, axis=ax) if d.size else d
    steps = xp.arange(d.shape[ax]).reshape([-1 if i == ax else 1 for i in range(d.ndim)])
    # torch moves the index on ties (>=) and to every NaN: the last position holding the
    # running extreme
    holds = d == running
    if d.dtype.kind == "f":
        holds |= xp.isnan(d)
    positions = xp.maximum.accumulate(xp.where(holds, steps, 0), axis=ax) if d.size else \
        xp.zeros(d.shape, dtype=int64)
    return _picked(name, input, positions.astype(int64), ax, True)


def cummax(input, dim):
    """Running maximum along ``dim`` and where it was found (the latest position on ties; NaN
    propagates).

    Shape: values and indices have input's shape.

    >>> fastdl.cummax(fastdl.tensor([1.0, 3.0, 2.0, 5.0]), 0)
    cummax(values=tensor([1., 3., 3., 5.]), indices=tensor([0, 1, 1, 3]))
    """
    return _cumulative_extreme("cummax", input, dim, np.maximum)


def cummin(input, dim):
    """cummax's twin: the running minimum along ``dim`` and where it was found.

    >>> fastdl.cummin(fastdl.tensor([3.0, 1.0, 2.0, 0.0]), 0)
    cummin(values=tensor([3., 1., 1., 0.]), indices=tensor([0, 1, 1, 3]))
    """
    return _cumulative_extreme("cummin", input, dim, np.minimum)


def _sorted_pick(name, input, dim, keepdim, rank_of):
    """Values and indices at sorted rank ``rank_of(n, nan_count)`` along dim (NaN sorts last,
    as in torch)."""
    _tensor(input, name)
    d = input._data
    if d.ndim == 0:
        input = input.reshape(1)
        d = input._data
        dim, scalar = 0, True
    else:
        scalar = False
    ax = norm_dim(dim, d.ndim)
    n = d.shape[ax]
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {ax} to have non-zero size.")
    xp = xp_of(d)
    order = xp.argsort(d, axis=ax, kind="stable")
    nan_count = (xp.isnan(d).sum(axis=ax, keepdims=True) if d.dtype.kind == "f"
                 else xp.zeros([1 if i == ax else s for i, s in enumerate(d.shape)], int64))
    rank = rank_of(n, nan_count)
    positions = xp.take_along_axis(order, xp.asarray(rank, dtype=int64), axis=ax)
    result = _picked(name, input, positions.astype(int64), ax, keepdim or scalar)
    if scalar:
        return values_indices[name](result.values.reshape(()), result.indices.reshape(()))
    return result


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element along ``dim`` (k counts from 1) and its position.

    Shape: input's without dim (kept as 1 with keepdim).

    >>> fastdl.kthvalue(fastdl.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]), 2)
    kthvalue(values=tensor([2., 4.]), indices=tensor([2, 2]))
    """
    _tensor(input, "kthvalue")
    size = input._data.shape[norm_dim(dim, input._data.ndim)] if input._data.ndim else 1
    if not 1 <= int(k) <= size:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {dim} of "
                         f"size {size}")
    return _sorted_pick("kthvalue", input, dim, keepdim,
                        lambda n, nans: np.full(nans.shape, int(k) - 1))


def _evenly_distributed(input, value):
    """0-d ``value`` (an element of input) whose gradient is shared equally by every element
    of input equal to it (torch's evenly_distribute_backward for median() and nanmedian())."""
    d = input._data
    v = value._data
    same = (d == v) | (xp_of(d).isnan(d) & xp_of(d).isnan(v))
    share = _wrap((same / same.sum()).astype(d.dtype))
    exact = _wrap(v.copy())
    offsets = A.where(_wrap(same), A.sub(input, exact), 0)  # 0 exactly where picked
    return A.add(exact, R.sum(A.mul(offsets, share)))


def median(input, dim=None, keepdim=False):
    """The lower median (the smaller of the two middle values for an even count), NaN if the
    slice has a NaN. With ``dim``: values and indices along it; without: a 0-d tensor whose
    gradient is shared among the elements equal to it, as torch's.

    Shape: input's without dim (kept as 1 with keepdim); 0-d without dim.

    >>> fastdl.median(fastdl.tensor([4.0, 1.0, 3.0, 2.0])).item()
    2.0
    >>> fastdl.median(fastdl.tensor([[4.0, 1.0, 3.0], [0.0, 5.0, 2.0]]), 1)
    median(values=tensor([3., 2.]), indices=tensor([2, 2]))
    """
    return _median("median", input, dim, keepdim,
                   lambda n, nans: np.where(nans > 0, n - nans, (n - 1) // 2))


def nanmedian(input, dim=None, keepdim=False):
    """median ignoring NaN (NaN only where a slice is all NaN).

    Shape: median's.

    >>> fastdl.nanmedian(fastdl.tensor([4.0, float("nan"), 1.0, 3.0])).item()
    3.0
    """
    return _median("nanmedian", input, dim, keepdim,
                   lambda n, nans: np.maximum((n - nans - 1) // 2, 0))


def _median(name, input, dim, keepdim, rank_of):
    _tensor(input, name)
    if dim is not None:
        return _sorted_pick(name, input, dim, keepdim, rank_of)
    if input._data.size == 0:
        return _wrap(np.asarray(np.nan, dtype=input._data.dtype))
    flat = input.reshape(-1)
    value = _sorted_pick(name, flat.detach(), 0, False, rank_of).values
    return _evenly_distributed(input, value) if input._requires_grad else value


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest on ties) and a position of it.

    Shape: input's without dim (kept as 1 with keepdim).

    >>> fastdl.mode(fastdl.tensor([[1, 2, 2], [3, 3, 1]]))
    mode(values=tensor([2, 3]), indices=tensor([2, 1]))
    """
    _tensor(input, "mode")
    d = input._data
    scalar = d.ndim == 0
    if scalar:
        input, d, dim = input.reshape(1), d.reshape(1), 0
    ax = norm_dim(dim, d.ndim)
    if d.shape[ax] == 0:
        raise IndexError(f"mode(): Expected reduction dim {ax} to have non-zero size.")
    moved = np.moveaxis(np.asarray(d), ax, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    picked = np.empty(rows.shape[0], dtype=int64)
    for r, row in enumerate(rows):
        values, counts = np.unique(row, return_counts=True)
        best = values[np.argmax(counts)]  # unique sorts, argmax takes the first: the smallest
        picked[r] = np.flatnonzero(row == best)[-1]  # torch reports the last occurrence
    positions = np.expand_dims(picked.reshape(moved.shape[:-1]), ax)
    result = _picked("mode", input, xp_of(d).asarray(positions), ax, keepdim or scalar)
    if scalar:
        return values_indices["mode"](result.values.reshape(()), result.indices.reshape(()))
    return result


# ---- pointwise ----
def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow.

    Shape: input and other broadcast together.

    >>> round(fastdl.logaddexp(fastdl.tensor([1000.0]), fastdl.tensor([1000.0])).item(), 2)
    1000.69
    """
    _tensor(input, "logaddexp")
    a, b = promote_pair(input, other)
    larger = A.maximum(a, b).detach()
    larger = A.where(A.isfinite(larger), larger, 0)  # keeps inf + inf = inf, no inf - inf
    return A.add(larger, A.log(A.add(A.exp(A.sub(a, larger)), A.exp(A.sub(b, larger)))))


def hypot(input, other):
    """``sqrt(input**2 + other**2)`` elementwise (float tensors).

    Shape: input and other broadcast together.

    >>> fastdl.hypot(fastdl.tensor([3.0]), fastdl.tensor([4.0])).tolist()
    [5.0]
    """
    _tensor(input, "hypot")
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"hypot(): expected floating point tensors, got {a._data.dtype}")
    return A.sqrt_flat_at_zero(A.add(A.mul(a, a), A.mul(b, b)))


def trace(input):
    """Sum of the main diagonal of a 2-D tensor (integers sum in int64, as torch's).

    Shape: (n, m) -> ().

    >>> fastdl.trace(fastdl.arange(9.0).reshape(3, 3)).item()
    12.0
    """
    _tensor(input, "trace")
    if input._data.ndim != 2:
        raise RuntimeError(f"trace(): expected a matrix, but got tensor with dim "
                           f"{input._data.ndim}")
    from fastdl.functional.everyday import diagonal
    return R.sum(diagonal(input))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """``input[..., 1:] - input[..., :-1]`` along ``dim``, ``n`` times (bool: ``!=``), after
    joining ``prepend`` and ``append`` to input along dim.

    Shape: input's with dim shorter by n (longer by prepend's and append's sizes there).

    >>> fastdl.diff(fastdl.tensor([1, 4, 9, 16]), n=2).tolist()
    [2, 2]
    """
    from fastdl.functional.shape import cat, narrow
    _tensor(input, "diff")
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    ax = norm_dim(dim, input._data.ndim)
    pieces = [p if p._data.ndim else p.expand(*[1 if i == ax else s for i, s in
                                                enumerate(input._data.shape)])
              for p in (prepend, input, append) if p is not None]
    x = cat([as_tensor_arg(p) for p in pieces], ax) if len(pieces) > 1 else input
    for _ in range(int(n)):
        length = x._data.shape[ax]
        if length == 0:
            break
        later, earlier = narrow(x, ax, 1, length - 1), narrow(x, ax, 0, length - 1)
        x = A.ne(later, earlier) if x._data.dtype == np.bool_ else A.sub(later, earlier)
    return x


# ---- more pointwise ----
def _floating(x):
    """x itself when floating, else x cast to the default float dtype (torch's int -> float)."""
    if x._data.dtype.kind == "f":
        return x
    from fastdl.tensor import get_default_dtype
    return x.to(get_default_dtype())


def _float_pair(name, input, other):
    """input and other (a Tensor or a number) in their promoted dtype, made floating."""
    _tensor(input, name)
    a, b = promote_pair(input, other)
    return _floating(a), _floating(b)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """input with NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (the
    dtype's largest and lowest finite values by default); the replaced elements get a zero
    gradient, as in torch.

    Shape: input's.

    >>> fastdl.nan_to_num(fastdl.tensor([float("nan"), 1.0, float("-inf")]), neginf=-5.0).tolist()
    [0.0, 1.0, -5.0]
    """
    _tensor(input, "nan_to_num")
    d = input._data
    if d.dtype.kind != "f":
        return input.clone()
    info = np.finfo(d.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    x = A.where(A.isnan(input), nan, input)
    x = A.where(_wrap(xp_of(d).isposinf(d)), posinf, x)
    return A.where(_wrap(xp_of(d).isneginf(d)), neginf, x)


def logaddexp2(input, other):
    """``log2(2**input + 2**other)`` without overflow.

    Shape: input and other broadcast together.

    >>> fastdl.logaddexp2(fastdl.tensor([3.0]), fastdl.tensor([3.0])).tolist()
    [4.0]
    """
    a, b = _float_pair("logaddexp2", input, other)
    ln2 = float(np.log(2.0))
    return A.div(logaddexp(A.mul(a, ln2), A.mul(b, ln2)), ln2)


def xlogy(input, other):
    """``input * log(other)``, 0 where input is 0 (unless other is NaN). The gradients are
    torch's: ``log(other)`` for input (0 where input == 0 and other <= 0) and
    ``input / other`` for other (0, not torch's 0/0 = NaN, where both are 0).

    Shape: input and other broadcast together.

    >>> fastdl.xlogy(fastdl.tensor([0.0, 2.0]), fastdl.tensor([0.0, 1.0])).tolist()
    [0.0, 0.0]
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): expected at least one Tensor argument")
    x, y = promote_pair(input, other)
    x, y = _floating(x), _floating(y)
    xd, yd = xp_of(x._data).broadcast_arrays(x._data, y._data)
    # where x == 0 the result is 0: log is taken of 1 instead of a y that would give NaN/inf
    unsafe = (xd == 0) & ~xp_of(xd).isnan(yd) & ((yd <= 0) | xp_of(yd).isinf(yd))
    y_safe = A.where(_wrap(unsafe), 1, y)
    return A.mul(x, A.log(y_safe))


def logit(input, eps=None):
    """``log(p / (1 - p))``, with p = input clamped to ``[eps, 1 - eps]`` when eps is given
    (the gradient is 0 outside that range, and passes at its ends, as in torch). Without
    eps, outside [0, 1] the value is NaN as in torch, but the gradient is finite
    (``1 / (p (1 - p))``) where torch's is NaN.

    Shape: input's.

    >>> round(fastdl.logit(fastdl.tensor([0.75])).item(), 4)
    1.0986
    """
    _tensor(input, "logit")
    p = _floating(input)
    if eps is not None:
        p = A.clamp(p, eps, 1 - eps)
    return A.sub(A.log(p), A.log1p(A.neg(p)))


def sinc(input):
    """The normalized sinc, ``sin(pi x) / (pi x)``, and 1 at 0 (where its gradient is 0).

    Shape: input's.

    >>> fastdl.sinc(fastdl.tensor([0.0, 1.0, 0.5])).tolist()[0], round(fastdl.sinc(fastdl.tensor(0.5)).item(), 4)
    (1.0, 0.6366)
    """
    _tensor(input, "sinc")
    x = _floating(input)
    zero = _wrap(x._data == 0)
    pix = A.mul(A.where(zero, 1, x), float(np.pi))
    return A.where(zero, 1, A.div(A.sin(pix), pix))


def deg2rad(input):
    """Degrees to radians (integers become float).

    Shape: input's.

    >>> round(fastdl.deg2rad(fastdl.tensor([180.0])).item(), 5)
    3.14159
    """
    _tensor(input, "deg2rad")
    return A.mul(_floating(input), float(np.pi / 180.0))


def rad2deg(input):
    """Radians to degrees (integers become float).

    Shape: input's.

    >>> fastdl.rad2deg(fastdl.tensor([3.141592653589793], dtype=fastdl.float64)).tolist()
    [180.0]
    """
    _tensor(input, "rad2deg")
    return A.mul(_floating(input), float(180.0 / np.pi))


def signbit(input):
    """True where input's sign bit is set (negative numbers and -0.0).

    Shape: input's (bool).

    >>> fastdl.signbit(fastdl.tensor([-1.0, -0.0, 0.0, 2.0])).tolist()
    [True, True, False, False]
    """
    _tensor(input, "signbit")
    d = input._data
    return _wrap(xp_of(d).signbit(d) if d.dtype.kind in "fi" else xp_of(d).zeros(d.shape, bool))


def copysign(input, other):
    """``|input|`` with the sign of ``other`` (-0.0 counts as negative). The gradient goes to
    input only (0 where input is 0), as in torch.

    Shape: input and other broadcast together (float).

    >>> fastdl.copysign(fastdl.tensor([1.0, -2.0, 3.0]), fastdl.tensor([-0.0, 1.0, -1.0])).tolist()
    [-1.0, 2.0, -3.0]
    """
    a, b = _float_pair("copysign", input, other)
    magnitude = A.abs(a)
    negative = signbit(b.detach())
    # other gets torch's zero gradient (a where that never picks it)
    never = _wrap(xp_of(negative._data).zeros(negative._data.shape, dtype=bool))
    return A.where(negative, A.neg(magnitude), A.where(never, b, magnitude))


def heaviside(input, values):
    """The step function: 0 where input < 0, 1 where input > 0, ``values`` where it is 0.
    Not differentiable (torch has no derivative for it either: the result
    carries no gradient); input and values must have the same dtype.

    Shape: input and values broadcast together.

    >>> fastdl.heaviside(fastdl.tensor([-1.0, 0.0, 2.0]), fastdl.tensor([0.5])).tolist()
    [0.0, 0.5, 1.0]
    """
    _tensor(input, "heaviside")
    _tensor(values, "heaviside", "values")
    a, v = input._data, values._data
    if a.dtype != v.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    xp = xp_of(a)
    return _wrap(xp.where(a == 0, v, (a > 0)).astype(a.dtype))


def float_power(input, exponent):
    """``input ** exponent`` computed in float64 (both are cast to double first).

    Shape: input and exponent broadcast together (float64).

    >>> fastdl.float_power(fastdl.tensor([2, 3]), 2).dtype
    dtype('float64')
    """
    from fastdl.tensor import float64
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): expected at least one Tensor argument")
    a = input.to(float64) if isinstance(input, Tensor) else float(input)
    b = exponent.to(float64) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(a, Tensor):
        a = _wrap(np.asarray(a, dtype=float64) if not isinstance(b, Tensor) else
                  xp_of(b._data).asarray(a, dtype=float64))
    return A.pow(a, b)


# ---- shapes ----
def tile(input, dims):
    """input repeated ``dims[i]`` times along each dim; with fewer dims than input has, the
    leading ones count as 1 (``repeat`` with dims padded on the left).

    Shape: input's (padded with leading 1s) times dims.

    >>> fastdl.tile(fastdl.tensor([[1, 2]]), (2,)).tolist()
    [[1, 2, 1, 2]]
    """
    from fastdl.functional.shape import repeat
    _tensor(input, "tile")
    dims = [int(d) for d in ((dims,) if isinstance(dims, int) else dims)]
    dims = [1] * (input._data.ndim - len(dims)) + dims
    return repeat(input, *dims)


def tensor_split(input, indices_or_sections, dim=0):
    """input split along ``dim`` into ``n`` near-equal parts (the first ``size % n`` one
    longer) for an int, or at the given indices for a list (views, like torch's).

    Shape: a tuple of input's shape with dim cut.

    >>> [t.tolist() for t in fastdl.tensor_split(fastdl.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    >>> [t.tolist() for t in fastdl.arange(5).tensor_split([1, 4])]
    [[0], [1, 2, 3], [4]]
    """
    from fastdl.functional.shape import narrow
    _tensor(input, "tensor_split")
    d = input._data
    if d.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    ax = norm_dim(dim, d.ndim)
    size = d.shape[ax]
    split = indices_or_sections
    if isinstance(split, Tensor):
        if split._data.dtype.kind not in "iu" or split._data.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor of dtype long")
        split = int(split.item()) if split._data.ndim == 0 else [int(i) for i in split.tolist()]
    if isinstance(split, (int, np.integer)):
        n = int(split)
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        small, extra = divmod(size, n)
        bounds = np.cumsum([0] + [small + (1 if i < extra else 0) for i in range(n)])
    else:
        bounds = [0] + [min(max(int(i) + (size if int(i) < 0 else 0), 0), size)
                        for i in split] + [size]
    return tuple(narrow(input, ax, int(s), max(int(e) - int(s), 0))
                 for s, e in zip(bounds[:-1], bounds[1:]))


def _direction_split(name, input, sections, dim, min_dims):
    _tensor(input, name)
    nd = input._data.ndim
    if nd < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} "
                           f"dimension, but got a tensor with "
                           f"{nd} dimensions!")
    if isinstance(sections, (int, np.integer)):
        size = input._data.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but "
                               f"the size of the dimension {size} is not divisible by the "
                               f"split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    """tensor_split along dim 1 (dim 0 for a 1-D input); an int must divide that size.

    Shape: a tuple of input's shape with that dim cut.

    >>> [t.shape for t in fastdl.hsplit(fastdl.zeros(2, 4), 2)]
    [(2, 2), (2, 2)]
    """
    _tensor(input, "hsplit")
    return _direction_split("hsplit", input, indices_or_sections,
                            0 if input._data.ndim == 1 else 1, 1)


def vsplit(input, indices_or_sections):
    """tensor_split along dim 0 of an at least 2-D input; an int must divide that size.

    Shape: a tuple of input's shape with dim 0 cut.

    >>> [t.shape for t in fastdl.vsplit(fastdl.zeros(4, 2), [1])]
    [(1, 2), (3, 2)]
    """
    return _direction_split("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    """tensor_split along dim 2 of an at least 3-D input; an int must divide that size.

    Shape: a tuple of input's shape with dim 2 cut.

    >>> [t.shape for t in fastdl.dsplit(fastdl.zeros(1, 2, 4), 2)]
    [(1, 2, 2), (1, 2, 2)]
    """
    return _direction_split("dsplit", input, indices_or_sections, 2, 3)


def block_diag(*tensors):
    """The tensors (0-d, 1-d as a row, or 2-d) placed along the diagonal of a zero matrix
    (in their promoted dtype).

    Shape: (sum of rows, sum of columns).

    >>> fastdl.block_diag(fastdl.tensor([[1, 2]]), fastdl.tensor(3)).tolist()
    [[1, 2, 0], [0, 0, 3]]
    """
    from fastdl.functional.shape import cat
    blocks = []
    for i, t in enumerate(tensors):
        _tensor(t, "block_diag", f"tensors[{i}]")
        nd = t._data.ndim
        if nd > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {nd} dimensions")
        blocks.append(t.reshape(1, 1) if nd == 0 else t.reshape(1, -1) if nd == 1 else t)
    if not blocks:
        return _wrap(np.zeros((1, 0), dtype=np.float32))
    blocks = _promote_all(blocks)
    dtype = blocks[0]._data.dtype
    xp = xp_of(blocks[0]._data)
    width = sum(b._data.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b._data.shape
        parts = [_wrap(xp.zeros((r, left), dtype)), b, _wrap(xp.zeros((r, width - left - c), dtype))]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


def kron(input, other):
    """The Kronecker product: every element of input times a copy of other (the shorter shape
    is padded with leading 1s).

    Shape: the padded shapes multiplied dim by dim.

    >>> fastdl.kron(fastdl.tensor([1, 10]), fastdl.tensor([1, 2, 3])).tolist()
    [1, 2, 3, 10, 20, 30]
    """
    _tensor(input, "kron")
    _tensor(other, "kron", "other")
    nd = max(input._data.ndim, other._data.ndim)
    a_shape = (1,) * (nd - input._data.ndim) + tuple(input._data.shape)
    b_shape = (1,) * (nd - other._data.ndim) + tuple(other._data.shape)
    a = input.reshape(*[s for n in a_shape for s in (n, 1)]) if nd else input
    b = other.reshape(*[s for n in b_shape for s in (1, n)]) if nd else other
    return A.mul(a, b).reshape(*[x * y for x, y in zip(a_shape, b_shape)]) if nd else A.mul(a, b)


def rot90(input, k=1, dims=(0, 1)):
    """input rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first
    towards the second.

    Shape: input's with dims' sizes swapped for odd k.

    >>> fastdl.rot90(fastdl.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    from fastdl.functional.shape import flip, transpose
    _tensor(input, "rot90")
    dims = list(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = norm_dim(dims[0], nd), norm_dim(dims[1], nd)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(input, [d1]), d0, d1)
    if k == 2:
        return flip(input, [d0, d1])
    if k == 3:
        return transpose(flip(input, [d0]), d0, d1)
    return input.clone()


def cartesian_prod(*tensors):
    """Every combination of one element from each 1-D tensor, one combination per row (a
    single tensor comes back as is).

    Shape: (product of the lengths, number of tensors); one tensor: its own.

    >>> fastdl.cartesian_prod(fastdl.tensor([1, 2]), fastdl.tensor([3, 4])).tolist()
    [[1, 3], [1, 4], [2, 3], [2, 4]]
    """
    from fastdl.functional.shape import stack
    for i, t in enumerate(tensors):
        _tensor(t, "cartesian_prod", f"tensors[{i}]")
        if t._data.ndim != 1:
            raise RuntimeError("Expect a 1D vector, but got shape "
                               f"{list(t._data.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    if not tensors:
        raise RuntimeError("cartesian_prod expects at least one tensor")
    if len({t._data.dtype for t in tensors}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    lengths = [t._data.shape[0] for t in tensors]
    columns = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[i] = lengths[i]
        columns.append(t.reshape(*view).expand(*lengths).reshape(-1))
    return stack(columns, 1)


def _promote_all(tensors):
    """The tensors cast to their common dtype."""
    from fastdl.functional._core import promote
    dtype = tensors[0]._data.dtype
    for t in tensors[1:]:
        dtype = promote(np.zeros((), dtype), t._data)
    return [t if t._data.dtype == dtype else t.to(dtype) for t in tensors]


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of a 1-D tensor's elements (itertools.combinations, or
    combinations_with_replacement), one per row.

    Shape: (number of combinations, r).

    >>> fastdl.combinations(fastdl.tensor([1, 2, 3])).tolist()
    [[1, 2], [1, 3], [2, 3]]
    """
    import itertools
    from fastdl.functional.shape import stack
    _tensor(input, "combinations")
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input._data.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _wrap(xp_of(input._data).zeros((0,), input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = np.asarray(list(pick(range(input._data.shape[0]), r)), dtype=int64).reshape(-1, r)
    xp = xp_of(input._data)
    return stack([index_select(input, 0, _wrap(xp.asarray(rows[:, j]))) for j in range(r)], 1)


# ---- distances, norms, bins ----
def cdist(x1, x2, p=2.0):
    """The p-norm distance between each row of x1 and each row of x2 (batched), for p = 0
    (count of differing coordinates), 1, 2, inf or any p > 0. At coincident points the
    gradient is 0 (torch's choice); for p = inf every coordinate at the maximum gets the full
    gradient, as in torch.

    Shape: x1 (*, P, M), x2 (*, R, M) -> (*, P, R), the batch dims broadcast.

    >>> fastdl.cdist(fastdl.tensor([[0.0, 0.0]]), fastdl.tensor([[3.0, 4.0], [1.0, 0.0]])).tolist()
    [[5.0, 1.0]]
    """
    _tensor(x1, "cdist", "x1")
    _tensor(x2, "cdist", "x2")
    if x1._data.ndim < 2 or x2._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: "
                           f"{x1._data.ndim}D" if x1._data.ndim < 2 else
                           f"cdist only supports at least 2D tensors, X2 got: {x2._data.ndim}D")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1._data.shape[-1]} X2: {x2._data.shape[-1]}")
    if x1._data.dtype.kind != "f" or x2._data.dtype.kind != "f":
        raise RuntimeError("cdist only supports floating-point dtypes, X1 got: "
                           f"{x1._data.dtype}")
    p = float(p)
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    diff = A.sub(x1.unsqueeze(-2), x2.unsqueeze(-3))
    size = diff.abs()
    if p == 0:  # the count of differing coordinates, with a zero gradient (torch's)
        return R.sum(A.where(A.ne(diff.detach(), 0), 1, A.mul(diff, 0)), -1)
    if p == 1:
        return R.sum(size, -1)
    if p == 2:
        return A.sqrt_flat_at_zero(R.sum(A.mul(diff, diff), -1))
    if p == float("inf"):
        if diff._data.shape[-1] == 0:
            return R.sum(size, -1)
        top = R.amax(size, -1, True).detach()
        ties = A.where(A.eq(size.detach(), top), A.sub(size, top), 0)
        return A.add(top.squeeze(-1), R.sum(ties, -1))
    total = R.sum(A.pow(size, p), -1)
    zero = _wrap(total._data == 0)
    return A.where(zero, 0, A.pow(A.where(zero, 1, total), 1.0 / p))


def renorm(input, p, dim, maxnorm):
    """input with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to
    norm ``maxnorm`` (by ``maxnorm / (norm + 1e-7)``, as torch).

    Shape: input's.

    >>> fastdl.renorm(fastdl.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0).tolist()[1]
    [0.30000001192092896, 0.4000000059604645]
    """
    _tensor(input, "renorm")
    d = input._data
    if d.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating point input, got {d.dtype}")
    if float(p) <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported")
    if float(maxnorm) < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if d.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {d.ndim} "
                           f"dimensions")
    ax = norm_dim(dim, d.ndim)
    rest = tuple(i for i in range(d.ndim) if i != ax)
    p = float(p)
    size = A.abs(input)
    if p == float("inf"):
        norms = R.amax(size, rest, True)
    else:
        norms = A.pow(R.sum(A.pow(size, p), rest, True), 1.0 / p)
    over = A.gt(norms, maxnorm).detach()
    factor = A.where(over, A.div(maxnorm, A.add(norms, 1e-7)), 1)
    return A.mul(input, factor)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """For each element of input, the index of the bucket of the sorted 1-D ``boundaries`` it
    falls in (``boundaries[i-1] < x <= boundaries[i]``; with right, ``<= x <``).

    Shape: input's (int64, or int32 with out_int32).

    >>> fastdl.bucketize(fastdl.tensor([1, 5, 9]), fastdl.tensor([1, 3, 5, 7])).tolist()
    [0, 2, 4]
    """
    from fastdl.functional.everyday import searchsorted
    _tensor(boundaries, "bucketize", "boundaries")
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histc(input, bins=100, min=0, max=0):
    """A histogram of input's elements in ``bins`` equal bins over ``[min, max]`` (the data's
    own range when both are 0; elements outside are ignored). Not differentiable.

    Shape: (bins,), input's dtype.

    >>> fastdl.histc(fastdl.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3).tolist()
    [0.0, 2.0, 1.0, 0.0]
    """
    _tensor(input, "histc")
    d = input._data
    if d.dtype.kind != "f":
        raise NotImplementedError(f'"histogram_cpu" not implemented for '
                                  f"'{str(d.dtype).capitalize()}'")
    if int(bins) <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    lo, hi = float(min), float(max)
    xp = xp_of(d)
    if lo == hi and d.size:
        lo, hi = float(d.min()), float(d.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min, but got min {lo} "
                           f"max {hi}")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    flat = d.reshape(-1)
    flat = flat[(flat >= lo) & (flat <= hi)]
    pos = ((flat.astype(np.float64) - lo) * int(bins) / (hi - lo)).astype(int64)
    pos = xp.minimum(pos, int(bins) - 1)
    return _wrap(xp.bincount(pos, minlength=int(bins)).astype(d.dtype))


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input), dim))`` without overflow.

    Shape: input's.

    >>> [round(v, 4) for v in fastdl.logcumsumexp(fastdl.tensor([0.0, 0.0, 1000.0]), 0).tolist()]
    [0.0, 0.6931, 1000.0]
    """
    _tensor(input, "logcumsumexp")
    x = _floating(input)
    if x._data.ndim == 0:
        return x.clone()
    ax = norm_dim(dim, x._data.ndim)
    if x._data.size == 0:
        return x.clone()
    # a running logaddexp: each prefix is shifted by its own maximum, so nothing overflows
    # and no early term underflows against a later large one
    from fastdl.functional.shape import stack, unbind
    pieces = unbind(x, ax)
    total, out = pieces[0], [pieces[0]]
    for piece in pieces[1:]:
        total = logaddexp(total, piece)
        out.append(total)
    return stack(out, ax)


# ---- Tensor-only and the rest ----
def unfold(input, dimension, size, step):
    """Tensor.unfold: every window of ``size`` elements along ``dimension``, ``step`` apart,
    as a new last dim.

    Shape: input's with dimension's size n replaced by ``(n - size) // step + 1`` and a last
    dim of ``size``.

    >>> fastdl.arange(5).unfold(0, 2, 2).tolist()
    [[0, 1], [2, 3]]
    """
    from fastdl.functional.shape import movedim
    _tensor(input, "unfold")
    d = input._data
    x = input.reshape(1) if d.ndim == 0 else input
    ax = norm_dim(dimension, max(d.ndim, 1))
    n = x._data.shape[ax]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {ax} is {n} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    count = (n - size) // step + 1
    starts = np.arange(count) * step
    index = (starts[:, None] + np.arange(size)[None, :]).reshape(-1).astype(int64)
    picked = index_select(x, ax, _wrap(xp_of(d).asarray(index)))
    shape = list(x._data.shape)
    shape[ax:ax + 1] = [count, size]
    out = movedim(picked.reshape(*shape), ax + 1, -1)
    return out.reshape(size) if d.ndim == 0 else out


def is_nonzero(input):
    """Whether a single-element tensor is nonzero (a Python bool).

    >>> fastdl.is_nonzero(fastdl.tensor([0.5]))
    True
    """
    _tensor(input, "is_nonzero")
    n = input._data.size
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(-1)[0] != 0)


def masked_scatter(input, mask, source):
    """input with the positions where ``mask`` (broadcast to input) is True filled, in order,
    from the first elements of ``source``.

    Shape: input's; source has at least as many elements as mask has True.

    >>> fastdl.zeros(2, 2).masked_scatter(fastdl.tensor([[True, False], [True, True]]),
    ...                                   fastdl.tensor([1.0, 2.0, 3.0, 4.0])).tolist()
    [[1.0, 0.0], [2.0, 3.0]]
    """
    _tensor(input, "masked_scatter")
    _tensor(mask, "masked_scatter", "mask")
    _tensor(source, "masked_scatter", "source")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {mask._data.dtype}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {input._data.dtype} and {source._data.dtype}")
    xp = xp_of(input._data)
    m = xp.broadcast_to(mask._data, input._data.shape)
    count = int(m.sum())
    if count > source._data.size:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           "as ones in mask")
    if source._data.size == 0:  # then count is 0 too: nothing to take
        return input.clone()
    order = xp.maximum(xp.cumsum(m.reshape(-1)) - 1, 0).astype(int64)
    values = index_select(source.reshape(-1), 0, _wrap(order)).reshape(*input._data.shape)
    return A.where(_wrap(xp.ascontiguousarray(m)), values, input)
