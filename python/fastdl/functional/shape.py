"""Shape ops: views (reshape, transpose, permute, squeeze, expand ...) and joins/splits."""
from __future__ import annotations

import functools

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional._core import (Tensor, _wrap, expand as _expand, norm_dim, promote_dtypes,
                                     xp_of)
from fastdl.tensor import check_memory_format, contiguous_format, preserve_format


def _shape_args(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` like torch."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _reshape_forward(d, shape):
    try:
        return d.reshape(shape)
    except ValueError:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {d.size} "
                           f"(shape {tuple(d.shape)})") from None


reshape_op = defop("reshape", forward=_reshape_forward, view=True,
                   backward=lambda ctx, g: (reshape_op.apply((g,), ctx.inputs[0]._data.shape),))


def reshape(input, *shape):
    shape = _shape_args(shape)
    return reshape_op.apply((input,), shape)


def view(input, *shape):
    """reshape that never copies, as torch's: a shape the strides cannot give without a copy
    (x.t().view(-1)) raises instead of quietly returning a copy that writes do not reach.

    >>> fastdl.arange(6).view(2, 3).shape
    (2, 3)
    """
    out = reshape(input, *shape)  # a bad size raises there
    d, o = input._data, out._data
    if o.size and type(o) is np.ndarray and not np.may_share_memory(o, d):  # reshape copied
        raise RuntimeError(f"view size is not compatible with input tensor's size "
                           f"{tuple(d.shape)} and stride (at least one dimension spans across "
                           f"two contiguous subspaces). Use .reshape(...) instead.")
    return out


def view_as(input, other):
    return reshape(input, other._data.shape)


reshape_as = view_as


def flatten(input, start_dim=0, end_dim=-1):
    shape = input._data.shape
    if len(shape) == 0:
        return reshape(input, (1,))
    s = norm_dim(start_dim, len(shape))
    e = norm_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim {start_dim} after end_dim {end_dim}")
    n = 1
    for k in shape[s:e + 1]:
        n *= k
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


def unflatten(input, dim, sizes):
    shape = input._data.shape
    d = norm_dim(dim, len(shape))
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1:])


permute_op = defop("permute", forward=lambda d, perm: d.transpose(perm), view=True,
                   backward=lambda ctx, g: (permute_op.apply(
                       (g,), tuple(np.argsort(ctx.args[0]).tolist())),))


def permute(input, *dims):
    dims = _shape_args(dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute: number of dims {len(dims)} does not match the tensor's "
                           f"{nd} dims (shape {tuple(input._data.shape)})")
    perm = tuple(norm_dim(d, nd) for d in dims)
    if sorted(perm) != list(range(nd)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of {nd} dims")
    return permute_op.apply((input,), perm)


transpose_op = defop("transpose", forward=lambda d, a, b: d.swapaxes(a, b), view=True,
                     backward=lambda ctx, g: (transpose_op.apply((g,), *ctx.args),))


def transpose(input, dim0, dim1):
    nd = input._data.ndim
    a, b = norm_dim(dim0, nd), norm_dim(dim1, nd)
    if nd == 0:
        return input
    return transpose_op.apply((input,), a, b)


swapaxes = transpose


def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got shape "
                           f"{tuple(input._data.shape)}")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        drop = {norm_dim(d, len(shape)) for d in dims} if shape else set()
        new = tuple(s for i, s in enumerate(shape) if not (i in drop and s == 1))
    return input if new == shape else reshape(input, new)


def unsqueeze(input, dim):
    shape = input._data.shape
    d = norm_dim(dim, len(shape) + 1)
    return reshape(input, shape[:d] + (1,) + shape[d:])


def expand(input, *sizes):
    sizes = _shape_args(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if any(s < 0 for s in target):
        raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension "
                           f"(sizes {sizes}, shape {tuple(shape)})")
    return _expand(input, target)


def expand_as(input, other):
    return _expand(input, other._data.shape)


def broadcast_to(input, shape):
    return expand(input, *shape)


def _check_tensors(tensors, fn):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{fn}(): expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): expected a sequence of Tensors, item {i} is "
                            f"{type(t).__name__}")
    return tensors


def _is_legacy_empty(x):
    return x.ndim == 1 and x.shape[0] == 0


@autocast_op("cat")
def cat(tensors, dim=0):
    tensors = _check_tensors(tensors, "cat")
    datas = [t._data for t in tensors]
    # torch skips 1-d empty tensors (shape (0,)) whatever the other tensors' shapes (legacy rule)
    joined = [x for x in datas if not _is_legacy_empty(x)] or datas[:1]
    ref = joined[0].shape
    nd = len(ref)
    d = norm_dim(dim, nd)
    for i, x in enumerate(datas):
        if x is not joined[0] and not _is_legacy_empty(x) and (
                x.ndim != nd or x.shape[:d] + x.shape[d + 1:] != ref[:d] + ref[d + 1:]):
            raise RuntimeError(f"cat(): sizes of tensors must match except in dimension {d}; "
                               f"tensor 0 has shape {tuple(ref)}, tensor {i} has shape "
                               f"{tuple(x.shape)}")
    dt = functools.reduce(promote_dtypes, (x.dtype for x in datas))  # float32, int64 -> float32
    sizes = tuple(None if x.ndim != nd or (_is_legacy_empty(x) and nd != 1) else x.shape[d]
                  for x in datas)
    return cat_op.apply(tuple(tensors), d, dt, sizes)


def _cat_forward(*arrays_and_args):
    *datas, d, dt, sizes = arrays_and_args
    joined = [x for x in datas if not _is_legacy_empty(x)] or datas[:1]
    return xp_of(datas[0]).concatenate([x.astype(dt, copy=False) for x in joined], axis=d)


def _cat_backward(ctx, g):
    d, dt, sizes = ctx.args
    grads, start = [], 0
    for t, n in zip(ctx.inputs, sizes):
        t_dtype = t._data.dtype
        if n is None:  # a skipped legacy empty tensor
            grads.append(_wrap(xp_of(g._data).zeros((0,), dtype=t_dtype)))
            continue
        gi = narrow(g, d, start, n)
        grads.append(gi if gi._data.dtype == t_dtype else gi.to(t_dtype))
        start += n
    return tuple(grads)


cat_op = defop("cat", forward=_cat_forward, backward=_cat_backward)


concat = cat
concatenate = cat


@autocast_op("stack")
def stack(tensors, dim=0):
    tensors = _check_tensors(tensors, "stack")
    ref = tensors[0]._data.shape
    for i, t_ in enumerate(tensors):
        if t_._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {tuple(ref)} "
                               f"at entry 0 and {tuple(t_._data.shape)} at entry {i}")
    d = norm_dim(dim, len(ref) + 1)
    return cat([unsqueeze(x, d) for x in tensors], d)


def narrow(input, dim, start, length):
    shape = input._data.shape
    d = norm_dim(dim, len(shape))
    if start < 0:
        start += shape[d]
    if not (0 <= start and start + length <= shape[d] and length >= 0):
        raise IndexError(f"narrow: start {start} + length {length} exceeds dimension {d} of size "
                         f"{shape[d]}")
    key = (slice(None),) * d + (slice(start, start + length),)
    from fastdl.functional.indexing import getitem
    return getitem(input, key)


def split(tensor, split_size_or_sections, dim=0):
    shape = tensor._data.shape
    d = norm_dim(dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got {sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, d, start, s))
        start += s
    return tuple(out)




def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input._data.shape[norm_dim(dim, input._data.ndim)]
    step = -(-n // chunks) if n else 1
    return split(input, step, dim)


def unbind(input, dim=0):
    d = norm_dim(dim, input._data.ndim)
    from fastdl.functional.indexing import getitem
    return tuple(getitem(input, (slice(None),) * d + (i,)) for i in range(input._data.shape[d]))


flip_op = defop("flip", forward=lambda d, axes: xp_of(d).flip(d, axes).copy(),
                backward=lambda ctx, g: (flip_op.apply((g,), ctx.args[0]),))


def flip(input, *args, dims=None):
    """A reversed copy along ``dims`` (torch copies; a numpy view would alias the input).

    Shape: input's.

    >>> fastdl.flip(fastdl.arange(4), 0).tolist()
    [3, 2, 1, 0]
    >>> fastdl.flip(fastdl.arange(4).reshape(2, 2), (0, 1)).tolist()
    [[3, 2], [1, 0]]
    """
    if dims is None:  # flip(x, (0, 1)), flip(x, 0, 1) or flip(x, dims=...)
        dims = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    elif args:
        raise TypeError("flip(): give dims positionally or as dims=, not both")
    elif isinstance(dims, int):
        dims = (dims,)
    nd = input._data.ndim
    return flip_op.apply((input,), tuple(norm_dim(d, nd) for d in dims))


def _repeat_forward(d, reps, full):
    return xp_of(d).tile(d.reshape(full), reps)


def _repeat_backward(ctx, g):
    reps, full = ctx.args
    inter = []
    for r, s in zip(reps, full):
        inter += [r, s]
    gs = g.reshape(inter).sum(tuple(range(0, 2 * len(reps), 2)))
    return (gs.reshape(ctx.inputs[0]._data.shape),)


repeat_op = defop("repeat", forward=_repeat_forward, backward=_repeat_backward)


def repeat(input, *sizes):
    """Tile the tensor (torch's ``repeat``); the gradient sums over the copies.

    Shape: size i of the result is sizes[i] times input's (leading new dims when sizes is
    longer).

    >>> fastdl.tensor([1, 2]).repeat(2, 2).tolist()
    [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    reps = _shape_args(sizes)
    shape = input._data.shape
    if len(reps) < len(shape):
        raise RuntimeError(f"repeat: number of repeat dims ({len(reps)}) can not be smaller "
                           f"than number of tensor dims ({len(shape)})")
    full = (1,) * (len(reps) - len(shape)) + tuple(shape)
    return repeat_op.apply((input,), reps, full)


contiguous_op = defop("contiguous", forward=lambda d: xp_of(d).ascontiguousarray(d),
                      backward=lambda ctx, g: (g,))
clone_op = defop("clone", forward=lambda d: d.copy(), backward=lambda ctx, g: (g,))


def contiguous(input, memory_format=contiguous_format):
    if memory_format is not contiguous_format:
        check_memory_format(memory_format)
    if input._data.flags.c_contiguous:
        return input
    return contiguous_op.apply((input,))


def clone(input, *, memory_format=preserve_format):
    """A copy (always C-contiguous, which satisfies either memory format).

    Shape: input's.

    >>> x = fastdl.tensor([1.0, 2.0])
    >>> y = fastdl.clone(x)
    >>> y[0] = 9.0
    >>> x.tolist(), y.tolist()
    ([1.0, 2.0], [9.0, 2.0])
    """
    if memory_format is not preserve_format:
        check_memory_format(memory_format)
    return clone_op.apply((input,))


def movedim(input, source, destination):
    nd = input._data.ndim
    src = [norm_dim(s, nd) for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [norm_dim(s, nd) for s in (destination if isinstance(destination, (tuple, list))
                                     else (destination,))]
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source {source} and "
                           f"destination {destination} must have the same number of dims")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {source} or destination "
                           f"{destination}")
    order = [i for i in range(nd) if i not in src]
    for dd, ss in sorted(zip(dst, src)):
        order.insert(dd, ss)
    return permute(input, order)


def _mT(input):
    return transpose(input, -2, -1)


def _T(input):
    return permute(input, tuple(range(input._data.ndim - 1, -1, -1)))


