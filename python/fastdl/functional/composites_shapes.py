"""torch's shape-building, splitting, distance and binning functions composed from registered
differentiable ops (tile, tensor_split, block_diag, kron, rot90, cartesian_prod, combinations,
cdist, renorm, bucketize, histc, Tensor.unfold, masked_scatter, ...): exact as
compositions, like composites.py's, so the gradients come from the ops they are built from.
"""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional._core import Tensor, _wrap, norm_dim, xp_of
from fastdl._argcheck import check_tensor_arg, check_tensor_element
from fastdl.functional.composites import _floating
from fastdl.functional.indexing import index_select
from fastdl.tensor import int64


# ---- shapes ----
def tile(input, dims):
    """input repeated ``dims[i]`` times along each dim; with fewer dims than input has, the
    leading ones count as 1 (``repeat`` with dims padded on the left).

    Shape: input's (padded with leading 1s) times dims.

    >>> fastdl.tile(fastdl.tensor([[1, 2]]), (2,)).tolist()
    [[1, 2, 1, 2]]
    """
    from fastdl.functional.shape import repeat
    check_tensor_arg(input, "tile")
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
    check_tensor_arg(input, "tensor_split")
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
    check_tensor_arg(input, name)
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
    check_tensor_arg(input, "hsplit")
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
        check_tensor_element(t, i)
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
    check_tensor_arg(input, "kron")
    check_tensor_arg(other, "kron", "other", 2)
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
    check_tensor_arg(input, "rot90")
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
        check_tensor_element(t, i)
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
    check_tensor_arg(input, "combinations")
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
_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def _euclidean_dist(x1, x2):
    """torch's _euclidean_dist: sqrt(|x1|^2 + |x2|^2 - 2 x1.x2) as one matmul of padded rows,
    clamped at 1e-30 (its rounding differs from the direct difference's; torch uses it for
    p = 2 when compute_mode asks, by default when either side has more than 25 rows)."""
    from fastdl.functional.linalg import matmul
    from fastdl.functional.shape import cat
    n1 = R.sum(A.mul(x1, x1), -1, True)
    n2 = R.sum(A.mul(x2, x2), -1, True)
    left = cat([A.mul(x1, -2), n1, _wrap(xp_of(x1._data).ones_like(n1._data))], -1)
    right = cat([x2, _wrap(xp_of(x2._data).ones_like(n2._data)), n2], -1)
    return A.sqrt(A.clamp(matmul(left, right.mT), min=1e-30))


@autocast_op("cdist")
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of x1 and each row of x2 (batched), for p = 0
    (count of differing coordinates), 1, 2, inf or any p > 0. At coincident points the
    gradient is 0 (torch's choice); for p = inf every coordinate at the maximum gets the full
    gradient, as in torch. For p = 2, ``compute_mode`` picks torch's matmul form
    (``"use_mm_for_euclid_dist"``; by default when P or R exceeds 25) or the direct difference
    (``"donot_use_mm_for_euclid_dist"``).

    Shape: x1 (*, P, M), x2 (*, R, M) -> (*, P, R), the batch dims broadcast.

    >>> fastdl.cdist(fastdl.tensor([[0.0, 0.0]]), fastdl.tensor([[3.0, 4.0], [1.0, 0.0]])).tolist()
    [[5.0, 1.0]]
    """
    if not isinstance(compute_mode, str) or compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    check_tensor_arg(x1, "cdist", "x1")
    check_tensor_arg(x2, "cdist", "x2", 2)
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
    rows, cols = x1._data.shape[-2], x2._data.shape[-2]
    if p == 2 and x1._data.shape[-1] and (compute_mode == _CDIST_MODES[1] or (
            compute_mode == _CDIST_MODES[0] and (rows > 25 or cols > 25))):
        return _euclidean_dist(x1, x2)
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


@autocast_op("renorm")
def renorm(input, p, dim, maxnorm):
    """input with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to
    norm ``maxnorm`` (by ``maxnorm / (norm + 1e-7)``, as torch).

    Shape: input's.

    >>> fastdl.renorm(fastdl.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0).tolist()[1]
    [0.30000001192092896, 0.4000000059604645]
    """
    check_tensor_arg(input, "renorm")
    d = input._data
    if d.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating point input, got {d.dtype}")
    if float(p) <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
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
    check_tensor_arg(boundaries, "bucketize", "boundaries", 2)
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
    check_tensor_arg(input, "histc")
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
    check_tensor_arg(input, "unfold")
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
    check_tensor_arg(input, "is_nonzero")
    n = input._data.size
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(-1)[0] != 0)


def masked_scatter(input, mask, source):
    """input and mask broadcast together, with the positions where mask is True filled, in
    order, from the first elements of ``source`` (any shape, read flat).

    Shape: input's and mask's broadcast; source has at least as many elements as mask has True.

    >>> fastdl.zeros(2, 2).masked_scatter(fastdl.tensor([[True, False], [True, True]]),
    ...                                   fastdl.tensor([1.0, 2.0, 3.0, 4.0])).tolist()
    [[1.0, 0.0], [2.0, 3.0]]
    """
    from fastdl.functional.shape_more import broadcast_shapes
    check_tensor_arg(input, "masked_scatter")
    check_tensor_arg(mask, "masked_scatter", "mask", 2)
    check_tensor_arg(source, "masked_scatter", "source", 3)
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {mask._data.dtype}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {input._data.dtype} and {source._data.dtype}")
    xp = xp_of(input._data)
    shape = broadcast_shapes(input._data.shape, mask._data.shape)
    m = xp.broadcast_to(mask._data, shape)
    count = int(m.sum())
    if count > source._data.size:
        raise RuntimeError("masked_scatter: Number of elements of source < number of ones in "
                           "mask")
    if source._data.size == 0:  # then count is 0 too: nothing to take
        return input.expand(*shape).clone()
    order = xp.maximum(xp.cumsum(m.reshape(-1)) - 1, 0).astype(int64)
    values = index_select(source.reshape(-1), 0, _wrap(order)).reshape(shape)
    return A.where(_wrap(m.copy()), values, input)  # (ascontiguousarray makes 0-d 1-d)
