"""torch's statistics functions composed from registered differentiable ops: quantile and
nanquantile (sort, then gather the neighbouring order statistics and interpolate), cov and
corrcoef, isin. Positions (ranks, NaN counts) are found on the arrays; the values they pick
flow through gather, so the gradients are torch's (to the picked elements).
"""
from __future__ import annotations

import warnings

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional._core import Tensor, _wrap, norm_dim, xp_of
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.indexing import gather
from fastdl.functional.linalg import mm
from fastdl.functional.shape import movedim, reshape, unsqueeze
from fastdl.tensor import get_default_dtype, int64

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_q(fn, input, q):
    """q as a float array (0-d or 1-D) after torch's checks, and whether it was a scalar."""
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise RuntimeError(f"{fn}() q must be a scalar or 1D tensor")
        if q._data.dtype != input._data.dtype:
            raise RuntimeError(f"{fn}() q tensor must be same dtype as the input tensor")
        qv = np.asarray(q.detach().numpy() if type(q._data) is np.ndarray else q._data.get())
    else:
        qv = np.asarray(float(q), dtype=input._data.dtype)
    if qv.size and (np.isnan(qv).any() or qv.min() < 0 or qv.max() > 1):
        shown = float(qv.reshape(-1)[~((qv >= 0) & (qv <= 1)).reshape(-1)][0])
        raise RuntimeError(f"{fn}() q must be in the range [0, 1] but got {shown}")
    return qv, qv.ndim == 0


def _quantile(fn, input, q, dim, keepdim, interpolation, ignore_nan):
    check_tensor_arg(input, fn)
    d = input._data
    if d.dtype.kind != "f":
        raise RuntimeError(f"{fn}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{fn}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    qv, scalar_q = _quantile_q(fn, input, q)
    if d.size == 0:
        raise RuntimeError(f"{fn}() input tensor must be non-empty")
    if dim is None:
        x, kept_shape = reshape(input, (-1,)), (1,) * d.ndim
    else:
        ax = norm_dim(dim, d.ndim)
        x = movedim(input, ax, -1) if d.ndim else reshape(input, (1,))
        kept_shape = d.shape[:ax] + (1,) + d.shape[ax + 1:] if d.ndim else ()
    ordered = x.sort(-1)[0]  # NaN sort last
    xd = x._data
    n = xd.shape[-1]
    nan_count = np.isnan(np.asarray(xd if type(xd) is np.ndarray else xd.get())).sum(-1)
    rows = nan_count.shape
    qs = qv.reshape((-1,) + (1,) * len(rows))
    if ignore_nan:  # rank among the non-NaN values; a row of NaN only gives NaN (the last one)
        scale = n - nan_count - 1
        forced = scale < 0
    else:  # any NaN in the row gives NaN: the rank of the last (NaN) element
        scale = np.full(rows, n - 1)
        forced = nan_count > 0
    rank = np.where(forced, n - 1, qs * scale)
    rank = np.broadcast_to(rank, qs.shape[:1] + rows)
    lower = np.floor(rank).astype(int64)
    upper = np.ceil(rank).astype(int64)
    picks = {"lower": lower, "higher": upper, "nearest": np.round(rank).astype(int64)}
    spread = ordered.unsqueeze(0).expand(qs.shape[:1] + ordered._data.shape)
    xp = xp_of(xd)

    def pick(idx):
        return gather(spread, -1, _wrap(xp.asarray(idx[..., None]))).squeeze(-1)

    if interpolation in picks:
        out = pick(picks[interpolation])
    else:
        below, above = pick(lower), pick(upper)
        if interpolation == "midpoint":
            weight = _wrap(xp.full(rank.shape, 0.5, dtype=d.dtype))
        else:
            weight = _linear_weight(q, qs, rank, lower, scale, forced, d.dtype, xp)
        out = A.add(below, A.mul(weight, A.sub(above, below)))
    if keepdim:
        out = reshape(out, out._data.shape[:1] + kept_shape)
    return reshape(out, out._data.shape[1:]) if scalar_q else out


def _linear_weight(q, qs, rank, lower, scale, forced, dtype, xp):
    """rank - floor(rank), differentiable in a tensor q as torch's (rank = q * scale, except
    in the rows whose rank is forced to the last, NaN, element)."""
    fraction = _wrap(xp.asarray((rank - lower).astype(dtype)))
    if not isinstance(q, Tensor) or not q._requires_grad:
        return fraction
    q_rank = A.sub(A.mul(reshape(q, qs.shape), _wrap(xp.asarray(scale.astype(dtype)))),
                   _wrap(xp.asarray(lower.astype(dtype))))
    return A.where(_wrap(xp.asarray(np.broadcast_to(forced, rank.shape))), fraction, q_rank)


@autocast_op("quantile")
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles of input along ``dim`` (of all elements when None), interpolating
    between the neighbouring order statistics by ``interpolation`` (linear, lower, higher,
    midpoint, nearest). A NaN in a reduced slice makes its quantiles NaN.

    Shape: input's with dim reduced (kept as 1 with keepdim), with a leading len(q) dim when q
    is a 1-D tensor.

    >>> fastdl.quantile(fastdl.tensor([1.0, 2.0, 4.0]), 0.75).item()
    3.0
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)


@autocast_op("nanquantile")
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile ignoring NaN values (a slice of NaN only gives NaN).

    >>> fastdl.nanquantile(fastdl.tensor([1.0, float("nan"), 3.0]), 0.5).item()
    2.0
    """
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True)


def _check_weights(name, w, n, integral):
    if w is None:
        return None
    check_tensor_arg(w, "cov", name, None)
    if w._data.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {w._data.ndim} dimensions")
    if w._data.size != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {w._data.size} != {n}")
    kind = w._data.dtype.kind
    if integral and kind not in "iu":
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights "
                           f"with {w._data.dtype} dtype")
    if not integral and kind != "f":
        raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got "
                           f"aweights with {w._data.dtype} dtype")
    if w._data.size and float(w._data.min()) < 0:
        raise RuntimeError(f"cov(): {name} cannot be negative")
    return w


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in input's rows (observations in columns),
    with integer frequency weights ``fweights`` and float observation weights ``aweights``;
    ``correction=1`` is Bessel's (unbiased), 0 the plain average.

    Shape: input (vars, obs) -> (vars, vars); a single variable gives a 0-d tensor.

    >>> fastdl.cov(fastdl.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    check_tensor_arg(input, "cov")
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input._data.ndim} dimensions")
    x = input if input._data.ndim == 2 else reshape(input, (1, -1))
    if x._data.dtype.kind != "f":
        x = x.to(get_default_dtype())  # torch's integer covariance is in the default dtype
    n = x._data.shape[1]
    fweights = _check_weights("fweights", fweights, n, integral=True)
    aweights = _check_weights("aweights", aweights, n, integral=False)
    # the weights keep their own dtype, as torch's: with float32 aweights and a float64 input
    # the normalisation is computed in float32 there too
    w = fweights
    if aweights is not None:
        w = aweights if w is None else A.mul(w, aweights)
    if w is None:
        w_sum = float(n)
        mean = R.mean(x, 1, keepdim=True)
    else:
        w_sum = R.sum(w)
        if float(w_sum.item()) == 0:
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        mean = A.div(R.sum(A.mul(x, w), 1, keepdim=True), w_sum)
    if w is None:
        norm = float(n - correction)
    elif correction == 0:
        norm = w_sum
    elif aweights is None:
        norm = A.sub(w_sum, correction)
    else:
        norm = A.sub(w_sum, A.div(A.mul(R.sum(A.mul(w, aweights)), correction), w_sum))
    if float(norm.item() if isinstance(norm, Tensor) else norm) <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
    norm = A.clamp(norm, min=0) if isinstance(norm, Tensor) else max(norm, 0.0)
    centered = A.sub(x, mean)
    weighted = centered if w is None else A.mul(centered, w)
    out = A.div(mm(weighted, centered.t()), norm)
    return reshape(out, ()) if out._data.shape == (1, 1) else out


def corrcoef(input):
    """Pearson correlation coefficients of the variables in input's rows (cov normalised by
    the standard deviations, clipped to [-1, 1] as torch's).

    Shape: cov's.

    >>> fastdl.corrcoef(fastdl.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]]))[0, 1].item() < 0
    True
    """
    c = cov(input)
    if c._data.ndim == 0:
        return A.div(c, c)
    std = A.sqrt(c.diagonal())
    c = A.div(A.div(c, unsqueeze(std, 1)), unsqueeze(std, 0))
    return A.clamp(c, -1, 1)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is in ``test_elements`` (either may be a number,
    not both); ``invert`` negates. ``assume_unique`` is a speed hint only (the result is the
    same).

    Shape: elements'; a bool tensor.

    >>> fastdl.isin(fastdl.tensor([1, 2, 3]), fastdl.tensor([2, 5])).tolist()
    [False, True, False]
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: elements and "
                        "test_elements cannot both be numbers")
    like = elements if isinstance(elements, Tensor) else test_elements
    xp = xp_of(like._data)
    e = elements._data if isinstance(elements, Tensor) else xp.asarray(elements)
    t = test_elements._data if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    return _wrap(xp.isin(e, t, invert=bool(invert)))
