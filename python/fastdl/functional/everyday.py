"""Everyday PyTorch ops beyond the core families: einsum, sorting and selection, triangles and
diagonals, cumulative products, rolls, repeats, searches, counts, interpolation.

New primitives (``defop``, backward from registered ops): ``einsum``, ``tril``/``triu``,
``diag_extract``/``diag_embed2``, ``cumprod``, ``roll``. The rest are compositions of registered
ops (``sort``/``topk`` values are a ``gather`` by indices computed without gradient, ``baddbmm``
and ``lerp`` are products and sums, ``repeat_interleave`` an ``index_select``), so their first
and second derivatives come from those ops. ``argsort``, ``unique``, ``bincount`` and
``searchsorted`` return integers (no gradient, as in torch).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional._core import Tensor, _wrap, as_tensor_arg, grad_for, norm_dim, xp_of
from fastdl._argcheck import check_tensor_arg, check_tensor_element
from fastdl.tensor import int64

__all__ = ["einsum", "sort", "argsort", "topk", "tril", "triu", "unique", "bincount", "baddbmm",
           "cumprod", "roll", "repeat_interleave", "searchsorted", "clamp_min", "clamp_max",
           "lerp", "diag", "diagonal", "diag_embed"]

sort_result = namedtuple("sort_result", ["values", "indices"])
topk_result = namedtuple("topk_result", ["values", "indices"])


# ---- einsum ------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _check_einsum_equation(equation, shapes):
    """torch's parse of the equation, with its RuntimeErrors in its order: the inputs' labels
    character by character, the operand count, each operand's rank, then the output's."""
    lhs, arrow, rhs = equation.partition("->")
    labels, ell, i = [[]], False, 0
    while i < len(lhs):
        c = lhs[i]
        if c == ".":
            if ell:
                raise RuntimeError(f"einsum(): found '.' for operand {len(labels) - 1} for which "
                                   f"an ellipsis was already found")
            if not lhs.startswith("...", i):
                raise RuntimeError(f"einsum(): found '.' for operand {len(labels) - 1} that is "
                                   f"not part of any ellipsis")
            labels[-1].append("...")
            ell, i = True, i + 2
        elif c == ",":
            if len(labels) == len(shapes):
                raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                                   "equation")
            labels.append([])
            ell = False
        elif c != " " and c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               f"string, subscripts must be in [a-zA-Z]")
        elif c != " ":
            labels[-1].append(c)
        i += 1
    if len(labels) != len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for k, (labs, s) in enumerate(zip(labels, shapes)):
        has = "..." in labs
        n = len(labs) - has
        if (n > len(s)) if has else (n != len(s)):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) "
                               + (f"is more than the number of dimensions ({len(s)}) for operand "
                                  f"{k}" if has else
                                  f"does not match the number of dimensions ({len(s)}) for "
                                  f"operand {k} and no ellipsis was given"))
    if not arrow:
        return
    seen_in = set(c for labs in labels for c in labs)
    out, ell_out, j = set(), False, 0
    while j < len(rhs):
        c = rhs[j]
        if c == ".":
            if ell_out:
                raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) was "
                                   "already found")
            if not rhs.startswith("...", j):
                raise RuntimeError("einsum(): found '.' for output that is not part of any "
                                   "ellipsis (...)")
            ell_out, j = True, j + 2
        elif c != " ":
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{len(lhs) + 2 + j} in the equation string, subscripts must "
                                   f"be in [a-zA-Z]")
            if c in out or c not in seen_in:
                raise RuntimeError(f"einsum(): output subscript {c} " + (
                    "appears more than once in the output" if c in out else
                    "does not appear in the equation for any input operand"))
            out.add(c)
        j += 1


def _parse_einsum(equation, shapes):
    """``equation`` with every ``...`` spelled out in letters and an explicit output:
    (list of input subscripts, output subscripts)."""
    _check_einsum_equation(equation, shapes)
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for t, s in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(s) - (len(t) - 3))
    ell = "".join(free[:n_ell])
    subs = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:] if k else "")
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: the letters seen once, sorted, after the ellipsis dims
        counts = {}
        for t in subs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    _check_einsum_sizes(subs, shapes, ell)
    return subs, out


def _check_einsum_sizes(subs, shapes, ell):
    """torch's size rules: a subscript repeated within an operand (a diagonal) has one size
    there; across operands a size of 1 broadcasts against any other (einsum() expands it)."""
    sizes = {}
    for i, (t, s) in enumerate(zip(subs, shapes)):
        mine = {}
        for c, n in zip(t, s):
            if mine.setdefault(c, n) != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                   f"sizes don't match, {n} != {mine[c]}")
        for c, n in mine.items():
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                if c in ell:  # torch's words, its missing space included
                    raise RuntimeError(f"einsum(): dimension {ell.index(c)} covered by ellipsis "
                                       f"in operand {i}has size {n} which does not broadcast "
                                       f"with previously seen ellipsis with size {seen} for the "
                                       f"respective dimension")
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {seen}")
            sizes[c] = max(seen, n)


def _einsum_forward(*arrays_and_eq):
    *arrays, eq = arrays_and_eq
    return xp_of(arrays[0]).einsum(eq, *arrays, optimize=len(arrays) > 2)


def _einsum_backward(ctx, g):
    subs_out = ctx.args[0]
    lhs, out = subs_out.split("->")
    subs = lhs.split(",")
    inputs = ctx.inputs
    grads = []
    for i, x in enumerate(inputs):
        if ctx.edges[i] is None:
            grads.append(None)
            continue
        grads.append(grad_for(_einsum_grad(i, subs, out, inputs, g), x))
    return tuple(grads)


def _einsum_grad(i, subs, out, inputs, g):
    """d(sum g * einsum)/d(input i) as einsums: the other operands against g give input i's
    distinct subscripts; a subscript only input i has (summed out) is broadcast back; a
    repeated one (a diagonal) is put back on the diagonal with an identity matrix."""
    x = inputs[i]
    shape = x._data.shape
    target = subs[i]
    sizes = dict(zip(target, shape))
    distinct = "".join(dict.fromkeys(target))
    others = [(s, t) for j, (s, t) in enumerate(zip(subs, inputs)) if j != i]
    available = set(out).union(*[set(s) for s, _ in others])
    present = "".join(c for c in distinct if c in available)
    eq = ",".join([out] + [s for s, _ in others]) + "->" + present
    grad = einsum_op.apply((g,) + tuple(t for _, t in others), eq)
    # broadcast the subscripts only this input has (their gradient does not depend on them)
    if present != distinct:
        from fastdl.functional.shape import expand
        grad = grad.reshape(tuple(sizes[c] if c in present else 1 for c in distinct))
        grad = expand(grad, tuple(sizes[c] for c in distinct))
    if distinct == target:
        return grad
    # repeated subscripts: grad[..i..i..] = grad'[..i..] on the diagonal, 0 elsewhere
    used = set("".join(subs) + out)
    fresh = iter(c for c in _LETTERS if c not in used)
    seen, spelled, eyes = set(), "", []
    for c in target:
        if c in seen:
            f = next(fresh)
            spelled += f
            eyes.append(c + f)
        else:
            seen.add(c)
            spelled += c
    xp = xp_of(x._data)
    eye_tensors = tuple(_wrap(xp.eye(sizes[e[0]], dtype=x._data.dtype)) for e in eyes)
    return einsum_op.apply((grad,) + eye_tensors, ",".join([distinct] + eyes) + "->" + spelled)


einsum_op = defop("einsum", forward=_einsum_forward, backward=_einsum_backward,
                  saves=tuple(range(64)))  # each operand is read for the others' gradients


@autocast_op("einsum")
def einsum(equation, *operands):
    """Einstein summation (``torch.einsum``): ``einsum("ij,jk->ik", a, b)`` is ``a @ b``;
    ``...`` stands for broadcast dimensions; without ``->`` the output is the subscripts seen
    once, in alphabetical order. Operands may also be given as one list.

    >>> fastdl.einsum("bij,bjk->bik", fastdl.randn(2, 3, 4), fastdl.randn(2, 4, 5)).shape
    (2, 3, 5)
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): needs at least one operand")
    for i, t in enumerate(operands):
        check_tensor_element(t, i, 1)
    subs, out = _parse_einsum(equation, [t._data.shape for t in operands])
    from fastdl.functional.matmul_dtypes import einsum_result_dtype
    dt = einsum_result_dtype(subs, out, operands)
    operands = tuple(t if t._data.dtype == dt else t.to(dt) for t in operands)
    # size-1 broadcast dims of the ellipsis: expand them so every operand agrees
    sizes = {}
    for s, t in zip(subs, operands):
        for c, n in zip(s, t._data.shape):
            if n != 1 or c not in sizes:
                sizes[c] = max(sizes.get(c, 1), n)
    fixed = []
    for s, t in zip(subs, operands):
        want = tuple(sizes[c] for c in s)
        if want != t._data.shape:
            from fastdl.functional.shape import expand
            t = expand(t, want)
        fixed.append(t)
    return einsum_op.apply(tuple(fixed), ",".join(subs) + "->" + out)


# ---- sorting and selection ---------------------------------------------------------------
def _sort_indices(d, ax, descending, stable=True):
    xp = xp_of(d)
    if d.ndim == 0:
        return xp.zeros((), dtype=int64)
    if not descending:
        return xp.argsort(d, axis=ax, kind="stable")
    # descending and stable: sort the reversed array ascending, then reverse back (ties keep
    # their original order); NaN first, as torch puts it (it is the largest).
    n = d.shape[ax]
    key = d
    if d.dtype.kind == "b":
        key = d.astype(np.int8)
    rev = xp.flip(key, ax)
    idx = xp.argsort(rev, axis=ax, kind="stable")
    idx = xp.flip(idx, ax)
    return (n - 1 - idx).astype(int64)


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim`` (ties keep their order: every sort here is
    stable). ``values`` is differentiable (a gather of the input).

    >>> fastdl.sort(fastdl.tensor([3.0, 1.0, 2.0])).indices.tolist()
    [1, 2, 0]
    """
    from fastdl.functional.indexing import gather
    check_tensor_arg(input, "sort")
    d = input._data
    ax = norm_dim(dim, max(d.ndim, 1))
    idx = _wrap(_sort_indices(d, ax, descending).astype(int64, copy=False))
    values = gather(input, ax, idx) if d.ndim else input.clone()
    return sort_result(values, idx)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (int64).

    Shape: input's.

    >>> fastdl.argsort(fastdl.tensor([3, 1, 2])).tolist()
    [1, 2, 0]
    >>> fastdl.tensor([3, 1, 2]).argsort(descending=True).tolist()
    [0, 2, 1]
    """
    check_tensor_arg(input, "argsort")
    d = input._data
    ax = norm_dim(dim, max(d.ndim, 1))
    return _wrap(_sort_indices(d, ax, descending).astype(int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices.

    >>> fastdl.topk(fastdl.tensor([1.0, 5.0, 3.0]), 2).values.tolist()
    [5.0, 3.0]
    """
    from fastdl.functional.indexing import gather
    check_tensor_arg(input, "topk")
    d = input._data
    ax = norm_dim(dim, max(d.ndim, 1))
    n = d.shape[ax] if d.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= n:
        raise RuntimeError(f"topk(): k ({k!r}) is out of range for dimension {ax} of size {n}")
    if d.ndim == 0:
        idx = _wrap(np.zeros((), dtype=int64)) if k else _wrap(np.zeros((0,), dtype=int64))
        return topk_result(input.clone() if k else input.reshape(1)[:0], idx)
    order = _sort_indices(d, ax, largest)
    order = order[(slice(None),) * ax + (slice(0, int(k)),)]
    idx = _wrap(np.ascontiguousarray(order).astype(int64, copy=False))
    return topk_result(gather(input, ax, idx), idx)


# ---- triangles and diagonals -------------------------------------------------------------
def _check_2d(input, fn):
    if input._data.ndim < 2:
        raise RuntimeError(f"{fn}(): input tensor must have at least 2 dimensions, got shape "
                           f"{tuple(input._data.shape)}")


tril_op = defop("tril", forward=lambda d, k: xp_of(d).tril(d, k),
                backward=lambda ctx, g: (tril_op.apply((g,), ctx.args[0]),))
triu_op = defop("triu", forward=lambda d, k: xp_of(d).triu(d, k),
                backward=lambda ctx, g: (triu_op.apply((g,), ctx.args[0]),))


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (elements on and below ``diagonal``); the rest
    zero. ``fastdl.tril(fastdl.ones(3, 3))`` has six ones.

    Shape: input's, (*, n, m).

    >>> fastdl.tril(fastdl.ones(3, 3))
    tensor([[1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 1.]])
    """
    _check_2d(check_tensor_arg(input, "tril"), "tril")
    return tril_op.apply((input,), int(diagonal))


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (elements on and above ``diagonal``); the rest
    zero.

    Shape: input's, (*, n, m).

    >>> fastdl.triu(fastdl.ones(3, 3), diagonal=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.],
            [0., 0., 0.]])
    """
    _check_2d(check_tensor_arg(input, "triu"), "triu")
    return triu_op.apply((input,), int(diagonal))


def _diag_extract_forward(d, k):
    return xp_of(d).diagonal(d, k).copy()


def _diag_embed_forward(v, k, m, n):
    out = xp_of(v).zeros((m, n), dtype=v.dtype)
    if v.shape[0]:
        r = np.arange(v.shape[0])
        rows, cols = (r, r + k) if k >= 0 else (r - k, r)
        out[rows, cols] = v
    return out


diag_extract_op = defop("diag_extract", forward=_diag_extract_forward,
                        backward=lambda ctx, g: (diag_embed_op.apply(
                            (g,), ctx.args[0], *ctx.inputs[0]._data.shape),))
diag_embed_op = defop("diag_embed2", forward=_diag_embed_forward,
                      backward=lambda ctx, g: (diag_extract_op.apply((g,), ctx.args[0]),))


def diag(input, diagonal=0):
    """A 1-D input: the square matrix with it on ``diagonal``; a 2-D input: its ``diagonal``
    as a 1-D tensor (a copy).

    >>> fastdl.diag(fastdl.tensor([1.0, 2.0])).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    check_tensor_arg(input, "diag")
    d = input._data
    k = int(diagonal)
    if d.ndim == 1:
        n = d.shape[0] + abs(k)
        return diag_embed_op.apply((input,), k, n, n)
    if d.ndim == 2:
        return diag_extract_op.apply((input,), k)
    raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got shape {tuple(d.shape)}")


def _writable_diagonal(d, offset, dim1, dim2):
    """The diagonal of ``d`` as a view that can be written through, as torch's is (numpy hands
    out read-only diagonals of writable arrays; cupy's are writable)."""
    view = xp_of(d).diagonal(d, offset, dim1, dim2)
    if type(view) is np.ndarray and not view.flags.writeable and d.flags.writeable:
        view.flags.writeable = True
    return view


def _diag_embed_forward(v, shape, offset, dim1, dim2):
    out = xp_of(v).zeros(shape, dtype=v.dtype)
    _writable_diagonal(out, offset, dim1, dim2)[...] = v
    return out


# diagonal is a view (in-place writes on it reach the input); its backward puts the gradient on
# the diagonal of zeros, which is diag_embed's forward, and the other way round
diagonal_op = defop("diagonal", forward=_writable_diagonal, view=True,
                    backward=lambda ctx, g: (diagonal_embed_op.apply(
                        (g,), ctx.inputs[0]._data.shape, *ctx.args),))
diagonal_embed_op = defop("diag_embed", forward=_diag_embed_forward,
                          backward=lambda ctx, g: (diagonal_op.apply((g,), *ctx.args[1:]),))


def _diagonal_dims(dim1, dim2, ndim, fn):
    d1, d2 = norm_dim(dim1, ndim), norm_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"{fn}(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, a view: ``offset`` > 0 above the main
    diagonal, < 0 below. Writing into it writes into input (as torch's diagonal).

    Shape: input's without dim1 and dim2, plus the diagonal's length as the last dim (0 when
    offset is past the edge).

    >>> x = fastdl.arange(6.0).reshape(2, 3)
    >>> fastdl.diagonal(x).tolist(), x.diagonal(1).tolist(), x.diagonal(-1).tolist()
    ([0.0, 4.0], [1.0, 5.0], [3.0])
    >>> fastdl.ones(4, 2, 3).diagonal(0, 1, 2).shape
    (4, 2)
    """
    check_tensor_arg(input, "diagonal")
    d1, d2 = _diagonal_dims(dim1, dim2, input._data.ndim, "diagonal")
    return diagonal_op.apply((input,), int(offset), d1, d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) planes hold input's last dim on their ``offset`` diagonal,
    zeros elsewhere (the inverse of diagonal; torch.diag_embed).

    Shape: input (*, n) -> one more dim; dim1 and dim2 (counted in the result) have size
    n + |offset|, the other dims are input's leading ones in order.

    >>> fastdl.diag_embed(fastdl.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [0.0, 4.0]]]
    >>> fastdl.diag_embed(fastdl.ones(3), offset=1).shape
    (4, 4)
    """
    check_tensor_arg(input, "diag_embed")
    v = input if input._data.ndim else input.reshape(1)
    offset = int(offset)
    d1, d2 = _diagonal_dims(dim1, dim2, v._data.ndim + 1, "diag_embed")
    n = v._data.shape[-1] + abs(offset)
    shape = list(v._data.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    return diagonal_embed_op.apply((v,), tuple(shape), offset, d1, d2)


# ---- cumulative product, roll, repeat ----------------------------------------------------
def _cumprod_forward(d, ax, dt):
    if dt is not None:
        d = d.astype(dt, copy=False)
    if not d.ndim:
        return d.copy()
    from fastdl.functional.reductions import accumulator_dtype
    products = xp_of(d).cumprod(d, axis=ax, dtype=accumulator_dtype(d.dtype))
    return products.astype(d.dtype, copy=False)


def _reverse_cumsum(t, ax):
    from fastdl.functional.reductions import cumsum
    return cumsum(t.flip(ax), ax).flip(ax)


def _cumprod_backward(ctx, g):
    (x,) = ctx.inputs
    ax = ctx.args[0]
    if g._data.ndim == 0:
        return (g,)
    d = x._data
    if d.dtype.kind != "f":
        return (None,)
    if bool(xp_of(d).all(d != 0)):  # d out_j / d x_k = out_j / x_k for j >= k
        out = cumprod_op.apply((x,), ax, None)
        return (_reverse_cumsum(g * out, ax) / x,)
    # with zeros: for each k, the products with x_k replaced by 1 (O(n^2), exact)
    from fastdl.functional.arithmetic import where
    from fastdl.functional.shape import cat
    n = d.shape[ax]
    parts = []
    pos = np.arange(n).reshape((n,) + (1,) * (d.ndim - ax - 1))
    for k in range(n):
        one_at_k = _wrap(pos == k)
        prods = cumprod_op.apply((where(one_at_k, 1.0, x).to(x._data.dtype),), ax, None)
        later = _wrap(pos >= k)
        term = (where(later, g * prods, 0.0)).sum(ax, keepdim=True)
        parts.append(term)
    return (cat(parts, ax),)


cumprod_op = defop("cumprod", forward=_cumprod_forward, backward=_cumprod_backward)


@autocast_op("cumprod")
def cumprod(input, dim, *, dtype=None):
    """Cumulative product along ``dim`` (integers accumulate in int64, as torch's do). The
    gradient is exact with zeros in the input too.

    >>> fastdl.cumprod(fastdl.tensor([1.0, 2.0, 3.0]), 0).tolist()
    [1.0, 2.0, 6.0]
    """
    from fastdl.functional.reductions import refuse_bool_scan
    from fastdl.tensor import as_dtype
    check_tensor_arg(input, "cumprod")
    if dtype is not None:
        refuse_bool_scan(as_dtype(dtype), "cumprod")
    return _cumprod(input, dim, dtype)


def _cumprod(input, dim, dtype):
    """cumprod without the bool check: ``prod(dtype=bool)`` (logical all) runs through it."""
    from fastdl.tensor import as_dtype
    d = input._data
    ax = norm_dim(dim, max(d.ndim, 1)) if d.ndim == 0 else norm_dim(dim, d.ndim)
    dt = as_dtype(dtype) if dtype is not None else (int64 if d.dtype.kind in "biu" else None)
    if dt is not None and np.dtype(dt).kind == "f" and d.dtype != dt:
        return cumprod_op.apply((input.to(dt),), ax, None)
    return cumprod_op.apply((input,), ax, dt)


@autocast_op("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of the elements along ``dim`` (of all of them when None: a 0-d result): the last
    of cumprod's partial products, so the gradient is exact with zeros in the input, as
    cumprod's is. Integers multiply in int64, as torch's do.

    >>> fastdl.prod(fastdl.tensor([1.0, 2.0, 3.0])).item()
    6.0
    >>> fastdl.prod(fastdl.tensor([[1, 2], [3, 4]]), 1).tolist()
    [2, 12]
    """
    from fastdl.functional.shape import narrow, reshape, squeeze
    check_tensor_arg(input, "prod")
    x = input
    if dim is None or x._data.ndim == 0:
        if dim is not None:
            norm_dim(dim, 1)  # a 0-d tensor takes dim 0 or -1
        x, ax = reshape(x, -1), 0
    else:
        ax = norm_dim(dim, x._data.ndim)
    n = x._data.shape[ax]
    if n == 0:  # the empty product: 1, still on the graph (its gradient is empty anyway)
        from fastdl.functional.reductions import sum as sum_
        from fastdl.tensor import as_dtype
        dt = as_dtype(dtype) if dtype is not None else (
            int64 if x._data.dtype.kind in "biu" else x._data.dtype)
        out = (sum_(x, ax, keepdim=True) * 0 + 1).to(dt)
    else:
        out = narrow(_cumprod(x, ax, dtype), ax, n - 1, 1)
    if dim is None or input._data.ndim == 0:  # 0-d: over everything, or a 0-d input (keepdim
        return reshape(out, ())               # or not)
    return out if keepdim else squeeze(out, ax)


roll_op = defop("roll", forward=lambda d, shifts, dims: xp_of(d).roll(d, shifts, dims),
                backward=lambda ctx, g: (roll_op.apply(
                    (g,), tuple(-s for s in ctx.args[0]), ctx.args[1]),))


def roll(input, shifts, dims=None):
    """Elements shifted by ``shifts`` along ``dims`` (wrapping around); ``dims=None`` rolls the
    flattened tensor and restores the shape.

    >>> fastdl.roll(fastdl.tensor([1, 2, 3]), 1).tolist()
    [3, 1, 2]
    """
    check_tensor_arg(input, "roll")
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll(): shifts {shifts} need dims")
        shape = input._data.shape
        return roll_op.apply((input.reshape(-1),), (int(shifts[0]),), (0,)).reshape(shape)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts {shifts} and dims {dims} must have the same length")
    nd = input._data.ndim
    if nd == 0:
        raise IndexError(f"roll(): dims {dims} given for a 0-d tensor")
    return roll_op.apply((input,), tuple(int(s) for s in shifts),
                         tuple(norm_dim(d, nd) for d in dims))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element repeated ``repeats`` times along ``dim`` (the flattened input when None);
    ``repeats`` an int or a 1-D tensor of per-element counts. ``repeat_interleave(counts)``
    alone gives the indices ``[0]*counts[0] + [1]*counts[1] + ...``.

    >>> fastdl.repeat_interleave(fastdl.tensor([1, 2]), 2).tolist()
    [1, 1, 2, 2]
    """
    from fastdl.functional.indexing import index_select
    check_tensor_arg(input, "repeat_interleave")
    if repeats is None:  # the one-argument form
        r = input._data
        if r.ndim != 1 or r.dtype.kind not in "iu" or (r.size and r.min() < 0):
            raise RuntimeError("repeat_interleave(): repeats must be a 1-D tensor of "
                               "non-negative integers")
        return _wrap(np.repeat(np.arange(r.shape[0], dtype=int64), r))
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    d = input._data
    ax = norm_dim(dim, max(d.ndim, 1))
    if d.ndim == 0:
        input = input.reshape(1)
        d = input._data
    n = d.shape[ax]
    if isinstance(repeats, Tensor):
        r = repeats._data
        if r.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave(): repeats must be integers, got {r.dtype}")
        r = r.reshape(-1)
        if r.shape[0] == 1:
            r = np.repeat(r, n)
    elif isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        r = np.full(n, int(repeats), dtype=int64)
    else:
        raise TypeError(f"repeat_interleave(): repeats must be an int or a Tensor, got "
                        f"{type(repeats).__name__}")
    if r.shape[0] != n:
        raise RuntimeError(f"repeat_interleave(): repeats has {r.shape[0]} entries, dimension "
                           f"{ax} has size {n}")
    if r.size and r.min() < 0:
        raise RuntimeError("repeat_interleave(): repeats must be non-negative")
    index = _wrap(np.repeat(np.arange(n, dtype=int64), np.asarray(r)))
    return index_select(input, ax, index)


# ---- searches and counts (integer results) -----------------------------------------------
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse indices (input shape) and the
    counts. ``dim`` picks distinct slices along that dimension.

    Shape: (k,) for k distinct values; inverse has input's shape, counts (k,).

    >>> fastdl.unique(fastdl.tensor([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    >>> values, counts = fastdl.unique(fastdl.tensor([3, 1, 3, 2]), return_counts=True)
    >>> counts.tolist()
    [1, 1, 2]
    """
    check_tensor_arg(input, "unique")
    d = input._data
    if dim is None:
        vals, inv, counts = np.unique(d.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(d.shape)
    else:
        ax = norm_dim(dim, max(d.ndim, 1))
        vals, inv, counts = np.unique(d, return_inverse=True, return_counts=True, axis=ax)
        inv = inv.reshape(-1)
    return unique_result(vals, inv, counts, return_inverse, return_counts)


def unique_result(values, inverse, counts, return_inverse, return_counts):
    """torch's unique-style result: values alone, or a tuple with the inverse indices and/or
    the counts that were asked for (int64)."""
    out = [_wrap(values)]
    if return_inverse:
        out.append(_wrap(inverse.astype(int64)))
    if return_counts:
        out.append(_wrap(counts.astype(int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Counts of each value of a 1-D non-negative integer tensor (weighted sums with
    ``weights``); length ``max(input) + 1`` or ``minlength``.

    >>> fastdl.bincount(fastdl.tensor([0, 1, 1, 3])).tolist()
    [1, 2, 0, 1]
    >>> fastdl.bincount(fastdl.tensor([0, 1, 1, 3]), minlength=6).shape
    (6,)
    """
    check_tensor_arg(input, "bincount")
    d = input._data
    if d.ndim != 1 or d.dtype.kind not in "iub":
        raise RuntimeError(f"bincount(): expected a 1-D integer tensor, got shape "
                           f"{tuple(d.shape)} of {d.dtype}")
    if d.size and d.min() < 0:
        raise RuntimeError("bincount(): input must be non-negative")
    if not isinstance(minlength, (int, np.integer)) or minlength < 0:
        raise RuntimeError(f"bincount(): minlength must be a non-negative int, got {minlength!r}")
    if weights is None:
        return _wrap(np.bincount(d, minlength=int(minlength)).astype(int64))
    w = check_tensor_arg(weights, "bincount", "weights", 2)._data
    if w.shape != d.shape:
        raise RuntimeError(f"bincount(): weights shape {tuple(w.shape)} must match input "
                           f"shape {tuple(d.shape)}")
    out_dtype = w.dtype if w.dtype.kind == "f" and w.dtype != np.float16 else np.float64
    return _wrap(np.bincount(d, weights=w.astype(np.float64), minlength=int(minlength))
                 .astype(out_dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices where ``input``'s values would be inserted to keep ``sorted_sequence`` (sorted
    along its last dim) sorted; a N-D sequence searches row by row.

    Shape: values' (int64 indices).

    >>> fastdl.searchsorted(fastdl.tensor([1, 3, 5, 7]), fastdl.tensor([3, 6])).tolist()
    [1, 3]
    """
    seq = check_tensor_arg(sorted_sequence, "searchsorted", "sorted_sequence")._data
    scalar = not isinstance(input, Tensor)
    vals = np.asarray(input) if scalar else input._data
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted(): side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted(): side='left' and right=True disagree")
        right = side == "right"
    if sorter is not None:
        srt = check_tensor_arg(sorter, "searchsorted", "sorter", None)._data
        if srt.shape != seq.shape:
            raise RuntimeError("searchsorted(): sorter must have the shape of sorted_sequence")
        seq = np.take_along_axis(seq, srt, -1)
    how = "right" if right else "left"
    dt = np.int32 if out_int32 else int64
    if seq.ndim == 0:
        raise RuntimeError("searchsorted(): sorted_sequence must have at least one dimension")
    if seq.ndim == 1:
        return _wrap(np.asarray(np.searchsorted(seq, vals, side=how)).astype(dt))
    if scalar or vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]:
        raise RuntimeError(f"searchsorted(): boundaries {tuple(seq.shape)} and input "
                           f"{tuple(np.shape(vals))} must agree in all but the last dimension")
    s2, v2 = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
    out = np.stack([np.searchsorted(s, v, side=how) for s, v in zip(s2, v2)]) if len(s2) else \
        np.zeros(v2.shape, dt)
    return _wrap(out.reshape(vals.shape).astype(dt))


# ---- compositions of registered ops ------------------------------------------------------
def _check_baddbmm_dtypes(input, batch1, batch2):
    """torch does not promote in baddbmm: input and batch1 must match, then batch2."""
    from fastdl.functional._core import cpp_dtype_name, torch_dtype_name
    d0, d1, d2 = (t._data.dtype for t in (input, batch1, batch2))
    if d0 != d1:
        c = [cpp_dtype_name(d) for d in (d0, d1, d2)]
        raise RuntimeError(f"Input dtypes must be the same, got: input {c[0]}, batch1: {c[1]}, "
                           f"batch2: {c[2]}")
    if d1 != d2:
        raise RuntimeError(f"expected scalar type {torch_dtype_name(d1)} but found "
                           f"{torch_dtype_name(d2)}")


@autocast_op("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` over a batch: batch1 (b, n, m), batch2
    (b, m, p), input broadcastable to (b, n, p); ``beta=0`` ignores input's values (NaN too).

    >>> out = fastdl.baddbmm(fastdl.zeros(2, 3, 5), fastdl.ones(2, 3, 4), fastdl.ones(2, 4, 5))
    >>> out.shape, out[0, 0, 0].item()
    ((2, 3, 5), 4.0)
    """
    from fastdl.functional.linalg import bmm
    from fastdl.functional.shape import expand
    for position, (t, name) in enumerate(((input, "input"), (batch1, "batch1"),
                                          (batch2, "batch2")), 1):
        check_tensor_arg(t, "baddbmm", name, position)
    _check_baddbmm_dtypes(input, batch1, batch2)
    prod = bmm(batch1, batch2)
    if prod._data.dtype.kind in "iub":  # torch casts the scalars to the integer type
        alpha, beta = int(alpha), int(beta)
    if alpha != 1:
        prod = prod * alpha
    shape = prod._data.shape
    try:
        np.broadcast_shapes(input._data.shape, shape)
    except ValueError:
        raise RuntimeError(f"baddbmm(): input of shape {tuple(input._data.shape)} does not "
                           f"broadcast to the product's shape {shape}") from None
    if beta == 0:
        return prod if input._data.shape == shape else prod + 0 * expand(input, shape).detach()
    return prod + (input if beta == 1 else input * beta)


def lerp(input, end, weight):
    """``input + weight * (end - input)`` (weight a number or a tensor); differentiable in all
    three.

    Shape: input, end and weight broadcast together.

    >>> fastdl.lerp(fastdl.tensor([0.0, 10.0]), fastdl.tensor([10.0, 20.0]), 0.5).tolist()
    [5.0, 15.0]
    """
    check_tensor_arg(input, "lerp")
    end = as_tensor_arg(end)
    return input + weight * (end - input)


def clamp_min(input, min):
    """``clamp(input, min=min)``.

    Shape: input's.

    >>> fastdl.clamp_min(fastdl.tensor([1, 5]), 3).tolist()
    [3, 5]
    """
    from fastdl.functional.arithmetic import clamp
    check_tensor_arg(input, "clamp_min")
    return clamp(input, min=min)


def clamp_max(input, max):
    """``clamp(input, max=max)``.

    Shape: input's.

    >>> fastdl.clamp_max(fastdl.tensor([1, 5]), 3).tolist()
    [1, 3]
    """
    from fastdl.functional.arithmetic import clamp
    check_tensor_arg(input, "clamp_max")
    return clamp(input, max=max)
