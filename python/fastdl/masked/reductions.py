"""torch.masked's reductions: the plain reduction of the input with its masked-out elements
replaced by the reduction's identity (sum 0, prod 1, amax -inf ...), so a fully masked slice
gives the identity; mean, var and std count only the kept elements (NaN for none), and median
skips them (NaN for none)."""
from __future__ import annotations

import numpy as np

from fastdl.creation import ones
from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional.composites import nanmedian
from fastdl.functional.everyday import clamp_min
from fastdl.functional.everyday import prod as _prod
from fastdl.linalg.norms import vector_norm
from fastdl.masked._mask import canonical_dim, combine, input_mask, quiet
from fastdl.tensor import as_dtype, bool_, float32, int64


def _widened(input, dtype):
    """sum's and prod's result dtype: int64 for bool and the integers narrower than it."""
    if dtype is not None:
        return as_dtype(dtype)
    return int64 if input.dtype.kind in "biu" else input.dtype


@quiet
def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Sum of the elements kept by ``mask`` (0 for a fully masked slice); bool and integer
    inputs sum in int64 unless ``dtype`` says otherwise.

    >>> x = fastdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> m = fastdl.tensor([[True, False, True], [False, False, False]])
    >>> fastdl.masked.sum(x, 1, mask=m).tolist()
    [4.0, 0.0]
    """
    dims = canonical_dim(dim, input.ndim)
    return R.sum(combine("sum", input, mask), dims, bool(keepdim), dtype=_widened(input, dtype))


@quiet
def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Product of the kept elements (1 for a fully masked slice).

    >>> x = fastdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> m = fastdl.tensor([True, False, True])  # broadcast over the rows
    >>> fastdl.masked.prod(x, 1, mask=m).tolist()
    [3.0, 24.0]
    """
    out = combine("prod", input, mask).to(_widened(input, dtype))
    for d in reversed(canonical_dim(dim, input.ndim)):  # the highest first: the rest keep place
        out = _prod(out, d, bool(keepdim))
    return out


def _extreme(name, reducer, input, dim, keepdim, dtype, mask):
    out = reducer(combine(name, input, mask), canonical_dim(dim, input.ndim), bool(keepdim))
    return out if dtype is None else out.to(dtype)


@quiet
def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Maximum of the kept elements: -inf (the dtype's minimum for integers) for a fully masked
    slice.

    >>> x = fastdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> m = fastdl.tensor([[True, True, False], [False, False, False]])
    >>> fastdl.masked.amax(x, 1, mask=m).tolist()
    [2.0, -inf]
    """
    return _extreme("amax", R.amax, input, dim, keepdim, dtype, mask)


@quiet
def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Minimum of the kept elements: inf (the dtype's maximum for integers) for a fully masked
    slice.

    >>> x = fastdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> fastdl.masked.amin(x, 1, mask=fastdl.tensor([False, True, True])).tolist()
    [2.0, 5.0]
    """
    return _extreme("amin", R.amin, input, dim, keepdim, dtype, mask)


@quiet
def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the largest kept element, in ``dtype`` (the input's by default, as torch's:
    float indices for a float input). A fully masked slice gives index 0.

    >>> x = fastdl.tensor([[1.0, 9.0, 3.0], [4.0, 5.0, 6.0]])
    >>> fastdl.masked.argmax(x, 1, mask=fastdl.tensor([True, False, True])).tolist()
    [2.0, 2.0]
    """
    out = R.argmax(combine("argmax", input, mask), dim, bool(keepdim))
    return out.to(input.dtype if dtype is None else dtype)


@quiet
def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the smallest kept element, in ``dtype`` (the input's by default).

    >>> x = fastdl.tensor([[1.0, 9.0, 3.0], [4.0, 5.0, 6.0]])
    >>> fastdl.masked.argmin(x, 1, mask=fastdl.tensor([False, True, True])).tolist()
    [2.0, 1.0]
    """
    out = R.argmin(combine("argmin", input, mask), dim, bool(keepdim))
    return out.to(input.dtype if dtype is None else dtype)


def _count(input, dims, keepdim, mask):
    """How many elements each slice keeps (an int64 tensor, as torch's)."""
    kept = ones(tuple(input.shape), dtype=bool_, device=input.device) if mask is None else mask
    return R.sum(kept, dims, keepdim)


@quiet
def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Mean of the kept elements (NaN for a fully masked slice). Needs a floating point input
    or ``dtype``.

    >>> x = fastdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> m = fastdl.tensor([[True, False, True], [False, False, False]])
    >>> fastdl.masked.mean(x, 1, mask=m).tolist()
    [2.0, nan]
    """
    dt = input.dtype if dtype is None else as_dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"mean(): Could not infer output dtype. "
                         f"{'Input' if dtype is None else 'Optional'} dtype must be either a "
                         f"floating point or complex dtype. Got: {dt}")
    inmask = None if mask is None else input_mask(input, mask)
    count = _count(input, canonical_dim(dim, input.ndim), bool(keepdim), inmask)
    return A.div(sum(input, dim, keepdim=keepdim, dtype=dt, mask=inmask), count)


@quiet
def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    """Median of the kept elements along one dim (the lower one of an even count; NaN for a
    fully masked slice, which an integer input refuses). NaNs in the input are skipped too, as
    torch's (which uses nanmedian). ``dtype`` applies to integer inputs only.

    >>> x = fastdl.tensor([[1.0, 7.0, 3.0, 5.0], [4.0, 5.0, 6.0, 0.0]])
    >>> fastdl.masked.median(x, 1, mask=fastdl.tensor([True, True, True, False])).tolist()
    [3.0, 5.0]
    """
    d = canonical_dim(dim, input.ndim)[0]
    is_float = input.dtype.kind == "f"
    x = input if is_float else input.to(float32)
    out = nanmedian(combine("median", x, mask), d, bool(keepdim)).values
    if is_float:
        return out
    if np.isnan(out.detach().numpy()).any():
        raise ValueError("masked median expects no fully masked out rows if dtype is not "
                         "floating point")
    return out.to(input.dtype if dtype is None else dtype)


@quiet
def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """``log(sum(exp(x)))`` over the kept elements (-inf for a fully masked slice).

    >>> x = fastdl.tensor([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]])
    >>> out = fastdl.masked.logsumexp(x, 1, mask=fastdl.tensor([True, True, False]))
    >>> [round(v, 4) for v in out.tolist()]
    [0.6931, 2.3133]
    """
    out = R.logsumexp(combine("logsumexp", input, mask), canonical_dim(dim, input.ndim),
                      bool(keepdim))
    return out.to(input.dtype if dtype is None else dtype)


@quiet
def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Vector ``ord``-norm of the kept elements (0 for a fully masked slice; inf for
    ``ord=-inf``).

    >>> x = fastdl.tensor([[3.0, 4.0, 12.0], [1.0, 1.0, 1.0]])
    >>> fastdl.masked.norm(x, 2.0, 1, mask=fastdl.tensor([True, True, False])).tolist()
    [5.0, 1.414...]
    """
    return vector_norm(combine("norm", input, mask, ord), ord, canonical_dim(dim, input.ndim),
                       bool(keepdim), dtype=dtype)


def _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt):
    if unbiased is not None and correction is not None:
        raise ValueError("masked var/std: pass either unbiased or correction, not both")
    c = float(correction) if correction is not None else 0.0 if unbiased is False else 1.0
    dt = input.dtype if dtype is None else as_dtype(dtype)
    dt = dt if dtype is not None or dt.kind == "f" else float32
    compute = dt if dt.kind == "f" else float32
    inmask = None if mask is None else input_mask(input, mask)
    count = _count(input, canonical_dim(dim, input.ndim), True, inmask)
    centered = input - A.div(sum(input, dim, keepdim=True, dtype=dt, mask=inmask), count)
    total = sum(centered * centered, dim, keepdim=keepdim, dtype=compute, mask=inmask)
    if not keepdim:
        count = count.reshape(tuple(total.shape))
    if c != 0:
        count = clamp_min(count.to(compute) - c, 0.0)
    out = A.div(total, count).to(dt)
    return A.sqrt(out) if take_sqrt else out


@quiet
def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None,
        mask=None):
    """Variance of the kept elements, with ``correction`` (default 1, or 0 for
    ``unbiased=False``) subtracted from their count; NaN where no element is kept. Integer
    inputs give float32.

    >>> x = fastdl.tensor([[1.0, 3.0, 8.0], [2.0, 2.0, 2.0]])
    >>> fastdl.masked.var(x, 1, mask=fastdl.tensor([True, True, False])).tolist()
    [2.0, 0.0]
    """
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, False)


@quiet
def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None,
        mask=None):
    """Standard deviation of the kept elements: the square root of masked ``var``.

    >>> x = fastdl.tensor([[1.0, 3.0, 8.0], [2.0, 2.0, 2.0]])
    >>> m = fastdl.tensor([True, True, False])
    >>> fastdl.masked.std(x, 1, correction=0, mask=m).tolist()
    [1.0, 0.0]
    """
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, True)
