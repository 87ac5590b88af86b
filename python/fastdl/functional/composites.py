"""torch functions composed from registered differentiable ops.

Each one here is exact as a composition (same values and the same gradients as torch's own
backward formula in derivatives.yaml), so none needs an op of its own: the gradients, double
backward and the CUDA path come from the ops it is built from. Where torch picks elements
(cummax, kthvalue, median, mode), the positions are found on the arrays and the values are
``gather``-ed, which is torch's backward (the gradient goes to the picked position).
"""
from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional._core import (Tensor, _category, _wrap, norm_dim, promote_dtypes,
                                     promote_pair, torch_dtype_name, xp_of)
from fastdl.functional.indexing import gather, index_select
from fastdl.functional.linalg import mm
from fastdl._argcheck import check_tensor_arg
from fastdl.tensor import int64

values_indices = {name: namedtuple(name, ["values", "indices"])
                  for name in ("cummax", "cummin", "kthvalue", "median", "nanmedian", "mode")}
aminmax_result = namedtuple("aminmax", ["min", "max"])


# ---- pointwise with a scale ----
def _common_dtype(*arrays):
    """torch's result dtype of several tensors: the dimensioned ones' (the higher category
    wins, then numpy's promotion within it), unless the 0-d ones' is of a higher category."""
    dims = [a.dtype for a in arrays if a.ndim]
    zeros = [a.dtype for a in arrays if not a.ndim]
    if not dims or not zeros:
        return functools.reduce(promote_dtypes, dims or zeros)
    dim_dtype, zero_dtype = (functools.reduce(promote_dtypes, d) for d in (dims, zeros))
    return zero_dtype if _category(zero_dtype) > _category(dim_dtype) else dim_dtype


def _scaled_operands(name, input, tensor1, tensor2, value):
    """The three tensors cast to their common dtype (torch computes in it, value included) and
    value as that dtype's scalar: truncated to an integer for integer tensors, as torch's
    kernels convert it. Bool tensors raise torch's NotImplementedError."""
    check_tensor_arg(input, name)
    check_tensor_arg(tensor1, name, "tensor1", 2)
    check_tensor_arg(tensor2, name, "tensor2", 3)
    dtype = _common_dtype(input._data, tensor1._data, tensor2._data)
    if dtype == np.bool_:
        raise NotImplementedError(f"\"{name}_cpu_out\" not implemented for 'Bool'")
    a, b, c = (t if t._data.dtype == dtype else t.to(dtype) for t in (input, tensor1, tensor2))
    return a, b, c, int(value) if dtype.kind in "iu" else float(value)


@autocast_op("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``, computed in the three tensors' common dtype
    (value truncated to an integer for integer tensors, as in torch).

    Shape: the three broadcast together.

    >>> fastdl.addcmul(fastdl.ones(2), fastdl.tensor([1.0, 2.0]), fastdl.tensor([3.0, 4.0]),
    ...                value=0.5).tolist()
    [2.5, 5.0]
    """
    input, tensor1, tensor2, value = _scaled_operands("addcmul", input, tensor1, tensor2, value)
    scaled = tensor1 if value == 1 else A.mul_scalar_op.apply((tensor1,), value)
    return A.add(input, A.mul(scaled, tensor2))


@autocast_op("addcdiv")
def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``, computed in the three tensors' common dtype;
    integer tensor1 and tensor2 raise, as in torch (true division of integers is ambiguous
    there).

    Shape: the three broadcast together.

    >>> fastdl.addcdiv(fastdl.ones(2), fastdl.tensor([1.0, 2.0]), fastdl.tensor([4.0, 4.0]),
    ...                value=2).tolist()
    [1.5, 2.0]
    """
    if all(isinstance(t, Tensor) and t._data.dtype.kind in "biu" for t in (tensor1, tensor2)):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. Use addcdiv with a floating-point tensor1 or tensor2 instead")
    input, tensor1, tensor2, value = _scaled_operands("addcdiv", input, tensor1, tensor2, value)
    scaled = tensor1 if value == 1 else A.mul_scalar_op.apply((tensor1,), value)
    return A.add(input, A.div(scaled, tensor2))


@autocast_op("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``; with beta == 0 input is ignored (NaN in it
    does not propagate), as in torch.

    Shape: mat1 (n, m), mat2 (m, p); input broadcasts to (n, p).

    >>> fastdl.addmm(fastdl.ones(2, 2), fastdl.eye(2), fastdl.full((2, 2), 3.0),
    ...              alpha=2).tolist()
    [[7.0, 7.0], [7.0, 7.0]]
    """
    from fastdl.functional._core import check_addmm_dtypes
    check_tensor_arg(input, "addmm")
    check_addmm_dtypes(input, mat1, mat2)
    product = mm(mat1, mat2)
    if alpha != 1:
        product = A.mul(product, alpha)
    if beta == 0:  # input still broadcasts and gets a zero gradient, its NaN/inf are dropped
        return A.add(product, A.mul(A.where(A.isfinite(input), input, 0), 0))
    return A.add(product, input if beta == 1 else A.mul(input, beta))


def take(input, index):
    """input's elements at ``index`` as if input were flattened (negative indices count from
    the end).

    Shape: index's.

    >>> fastdl.take(fastdl.tensor([[4.0, 3.0], [5.0, 6.0]]), fastdl.tensor([[0, 3], [-1, 1]])).tolist()
    [[4.0, 6.0], [6.0, 3.0]]
    """
    check_tensor_arg(input, "take")
    if not isinstance(index, Tensor):
        raise TypeError(f"take(): index must be a Tensor, got {type(index).__name__}")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{torch_dtype_name(index._data.dtype)}")
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
    check_tensor_arg(input, "nansum")
    x = A.where(A.isnan(input), 0, input) if input._data.dtype.kind == "f" else input
    return R.sum(x, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """mean of the non-NaN elements (NaN when all are NaN).

    Shape: mean's.

    >>> fastdl.nanmean(fastdl.tensor([[1.0, float("nan")], [2.0, 4.0]]), 1).tolist()
    [1.0, 3.0]
    """
    check_tensor_arg(input, "nanmean")
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
    check_tensor_arg(input, "aminmax")
    d = input._data
    if dim is None:
        if d.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity")
    else:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
        ax = norm_dim(dim, d.ndim)
        if d.ndim and d.shape[ax] == 0:  # other empty dims just give an empty result
            raise IndexError(f"aminmax: Expected reduction dim {ax} to have non-zero size.")
    return aminmax_result(R.amin(input, dim, keepdim), R.amax(input, dim, keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` of input (var with Bessel's correction by default, as torch).

    Shape: var's.

    >>> v, m = fastdl.var_mean(fastdl.tensor([1.0, 2.0, 3.0, 4.0]))
    >>> round(v.item(), 4), m.item()
    (1.6667, 2.5)
    """
    check_tensor_arg(input, "var_mean")
    dim, correction = R.variance_args("var_mean", dim, unbiased, keepdim, correction)
    return (R.var(input, dim, keepdim=keepdim, correction=correction),
            R.mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` of input (std with Bessel's correction by default, as torch).

    Shape: std's.

    >>> s, m = fastdl.std_mean(fastdl.tensor([1.0, 3.0]))
    >>> round(s.item(), 4), m.item()
    (1.4142, 2.0)
    """
    check_tensor_arg(input, "std_mean")
    dim, correction = R.variance_args("std_mean", dim, unbiased, keepdim, correction)
    return (R.std(input, dim, keepdim=keepdim, correction=correction),
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
    check_tensor_arg(input, name)
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
    check_tensor_arg(input, name)
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
    check_tensor_arg(input, "kthvalue")
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
    check_tensor_arg(input, name)
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
    check_tensor_arg(input, "mode")
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


@autocast_op("trace")
def trace(input):
    """Sum of the main diagonal of a 2-D tensor (integers sum in int64, as torch's).

    Shape: (n, m) -> ().

    >>> fastdl.trace(fastdl.arange(9.0).reshape(3, 3)).item()
    12.0
    """
    check_tensor_arg(input, "trace")
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
    check_tensor_arg(input, "diff")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"diff(): argument 'n' (position 2) must be int, not {type(n).__name__}")
    d = input._data
    if d.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    for name, other in (("prepend", prepend), ("append", append)):
        if other is None:
            continue
        check_tensor_arg(other, "diff", name, None)
        if other._data.ndim != d.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
        ax = norm_dim(dim, d.ndim)
        for i, (mine, theirs) in enumerate(zip(d.shape, other._data.shape)):
            if i != ax and mine != theirs:
                raise RuntimeError(
                    "diff expects the shape of tensor to prepend or append to match that of "
                    "input except along the differencing dimension; "
                    f"input.size({i}) = {mine}, but got tensor.size({i}) = {theirs}")
    if n == 0:  # torch returns a copy of input, without prepend/append (nor a dim check)
        return input.clone()
    ax = norm_dim(dim, d.ndim)
    pieces = [p for p in (prepend, input, append) if p is not None]
    x = cat(pieces, ax) if len(pieces) > 1 else input
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
    check_tensor_arg(input, name)
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
    check_tensor_arg(input, "nan_to_num")
    d = input._data
    if d.dtype.kind != "f":
        return input.clone()
    info = np.finfo(d.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    x = A.where(A.isnan(input), nan, input)
    x = A.where(_wrap(xp_of(d).isposinf(d)), posinf, x)
    return A.where(_wrap(xp_of(d).isneginf(d)), neginf, x)


def deg2rad(input):
    """Degrees to radians (integers become float).

    Shape: input's.

    >>> round(fastdl.deg2rad(fastdl.tensor([180.0])).item(), 5)
    3.14159
    """
    check_tensor_arg(input, "deg2rad")
    return A.mul(_floating(input), float(np.pi / 180.0))


def rad2deg(input):
    """Radians to degrees (integers become float).

    Shape: input's.

    >>> fastdl.rad2deg(fastdl.tensor([3.141592653589793], dtype=fastdl.float64)).tolist()
    [180.0]
    """
    check_tensor_arg(input, "rad2deg")
    return A.mul(_floating(input), float(180.0 / np.pi))


def signbit(input):
    """True where input's sign bit is set (negative numbers and -0.0).

    Shape: input's (bool).

    >>> fastdl.signbit(fastdl.tensor([-1.0, -0.0, 0.0, 2.0])).tolist()
    [True, True, False, False]
    """
    check_tensor_arg(input, "signbit")
    d = input._data
    return _wrap(xp_of(d).signbit(d) if d.dtype.kind in "fi" else xp_of(d).zeros(d.shape, bool))


def heaviside(input, values):
    """The step function: 0 where input < 0, 1 where input > 0, ``values`` where it is 0.
    Not differentiable (torch has no derivative for it either: the result
    carries no gradient); input and values must have the same dtype.

    Shape: input and values broadcast together.

    >>> fastdl.heaviside(fastdl.tensor([-1.0, 0.0, 2.0]), fastdl.tensor([0.5])).tolist()
    [0.0, 0.5, 1.0]
    """
    check_tensor_arg(input, "heaviside")
    check_tensor_arg(values, "heaviside", "values", 2)
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
