"""torch's numerical-analysis helpers composed from registered differentiable ops: trapezoid
(trapz) and cumulative_trapezoid, gradient (central differences, edge_order 1 or 2, uniform or
coordinate spacing), vander; and the piecewise-constant histogram and unique_consecutive,
computed on the arrays (torch does not differentiate them either).
"""
from __future__ import annotations

import builtins

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.functional._core import Tensor, _wrap, norm_dim, xp_of
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.everyday import cumprod, unique_result
from fastdl.functional.shape import cat, expand, flip, narrow, reshape, unsqueeze
from fastdl.creation_ranges import torch_linspace
from fastdl.tensor import get_default_dtype, int64


def _along(shape_len, ax, values, like):
    """A 1-D array as a constant broadcasting along axis ``ax`` of an n-dim tensor."""
    view = [1] * shape_len
    view[ax] = -1
    return _wrap(xp_of(like._data).asarray(values.reshape(view)))


def _spacing_of(fn, y, x, dx, ax):
    """The widths between neighbouring samples along ``ax``: a number, or a tensor that
    broadcasts against y's (n - 1)-long slices."""
    if x is None:
        return 1 if dx is None else dx
    if dx is not None:
        raise TypeError(f"{fn}(): give either x or dx, not both")
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): x must be a Tensor, got {type(x).__name__}")
    n = y._data.shape[ax]
    if x._data.ndim == 1:
        if x._data.shape[0] != n:
            raise RuntimeError(f"{fn}: There must be one `x` value for each sample point")
        widths = A.sub(narrow(x, 0, 1, n - 1), narrow(x, 0, 0, n - 1)) if n else x
        view = [1] * y._data.ndim
        view[ax] = -1
        return reshape(widths, view)
    x_ax = norm_dim(ax - y._data.ndim, x._data.ndim)
    m = x._data.shape[x_ax]
    return A.sub(narrow(x, x_ax, 1, m - 1), narrow(x, x_ax, 0, m - 1)) if m else x


def _pair_sums(y, ax):
    n = y._data.shape[ax]
    return A.add(narrow(y, ax, 1, n - 1), narrow(y, ax, 0, n - 1))


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of y along ``dim`` by the trapezoid rule, at sample points ``x`` (a 1-D
    tensor, or one broadcasting with y) or spaced ``dx`` apart (default 1).

    Shape: y's without dim.

    >>> fastdl.trapezoid(fastdl.tensor([1.0, 2.0, 4.0]), fastdl.tensor([0.0, 1.0, 3.0])).item()
    7.5
    """
    check_tensor_arg(y, "trapezoid", "y")
    ax = norm_dim(dim, y._data.ndim)
    if y._data.shape[ax] == 0:  # torch: constant zeros in y's dtype (x is not looked at)
        shape = y._data.shape[:ax] + y._data.shape[ax + 1:]
        return _wrap(xp_of(y._data).zeros(shape, dtype=y._data.dtype))
    spacing = _spacing_of("trapezoid", y, x, dx, ax)
    if not isinstance(spacing, Tensor):  # torch's form for even spacing
        first, last = narrow(y, ax, 0, 1), narrow(y, ax, y._data.shape[ax] - 1, 1)
        ends = R.sum(A.mul(A.add(first, last), 0.5), ax)
        return A.mul(A.sub(R.sum(y, ax), ends), spacing)
    return A.mul(R.sum(A.mul(spacing, _pair_sums(y, ax)), ax), 0.5)


def trapz(y, x=None, *, dx=None, dim=-1):
    """trapezoid's older name.

    >>> fastdl.trapz(fastdl.tensor([1.0, 1.0]), dx=2.0).item()
    2.0
    """
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoid integral of y along ``dim`` (the area up to each sample after the
    first).

    Shape: y's with dim one shorter.

    >>> fastdl.cumulative_trapezoid(fastdl.tensor([1.0, 2.0, 4.0])).tolist()
    [1.5, 4.5]
    """
    check_tensor_arg(y, "cumulative_trapezoid", "y")
    ax = norm_dim(dim, y._data.ndim)
    spacing = _spacing_of("cumulative_trapezoid", y, x, dx, ax)
    if y._data.shape[ax] == 0:
        return A.mul(y, 1.0)
    areas = A.mul(A.mul(spacing, 0.5) if isinstance(spacing, Tensor) else spacing * 0.5,
                  _pair_sums(y, ax))
    return R.cumsum(areas, ax)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of 1-D x: column j is x ** (N - 1 - j) (x ** j when increasing);
    integer x gives int64.

    Shape: (len(x), N), N defaulting to len(x).

    >>> fastdl.vander(fastdl.tensor([2, 3]), 3).tolist()
    [[4, 2, 1], [9, 3, 1]]
    """
    check_tensor_arg(x, "vander", "x")
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._data.shape[0]
    N = n if N is None else int(N)
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "biu":
        x = x.to(int64)
    ones = _wrap(xp_of(x._data).ones((n, 1), dtype=x._data.dtype))
    if N == 0:
        return narrow(ones, 1, 0, 0)
    columns = cat([ones, expand(unsqueeze(x, 1), (n, N - 1))], 1) if N > 1 else ones
    powers = cumprod(columns, 1)  # 1, x, x*x, ... (torch's construction, exact for integers)
    return powers if increasing else flip(powers, 1)


# ---- gradient ----
def _uniform_derivative(f, ax, h, edge_order):
    n = f._data.shape[ax]

    def at(start, length):
        return narrow(f, ax, start, length)

    interior = A.div(A.sub(at(2, n - 2), at(0, n - 2)), 2.0 * h)
    if edge_order == 1:
        first = A.div(A.sub(at(1, 1), at(0, 1)), h)
        last = A.div(A.sub(at(n - 1, 1), at(n - 2, 1)), h)
    else:
        first = A.div(A.add(A.add(A.mul(at(0, 1), -1.5), A.mul(at(1, 1), 2.0)),
                            A.mul(at(2, 1), -0.5)), h)
        last = A.div(A.add(A.add(A.mul(at(n - 3, 1), 0.5), A.mul(at(n - 2, 1), -2.0)),
                           A.mul(at(n - 1, 1), 1.5)), h)
    return cat([first, interior, last], ax)


def _weighted(f, ax, terms):
    """sum of coefficient arrays (broadcast along ax) times slices (start, length) of f."""
    out = None
    for coeff, start, length in terms:
        term = A.mul(narrow(f, ax, start, length), _along(f._data.ndim, ax, coeff, f))
        out = term if out is None else A.add(out, term)
    return out


def _coordinate_derivative(f, ax, coords, edge_order):
    """numpy's (and torch's) second-order accurate differences for uneven sample points."""
    dx = np.diff(coords.astype(np.float64)).astype(f._data.dtype)
    n = f._data.shape[ax]
    d1, d2 = dx[:-1], dx[1:]
    interior = _weighted(f, ax, [(-d2 / (d1 * (d1 + d2)), 0, n - 2),
                                 ((d2 - d1) / (d1 * d2), 1, n - 2),
                                 (d1 / (d2 * (d1 + d2)), 2, n - 2)])
    if edge_order == 1:
        first = _weighted(f, ax, [(-1 / dx[:1], 0, 1), (1 / dx[:1], 1, 1)])
        last = _weighted(f, ax, [(-1 / dx[-1:], n - 2, 1), (1 / dx[-1:], n - 1, 1)])
    else:
        a, b = dx[:1], dx[1:2]
        first = _weighted(f, ax, [(-(2 * a + b) / (a * (a + b)), 0, 1),
                                  ((a + b) / (a * b), 1, 1), (-a / (b * (a + b)), 2, 1)])
        a, b = dx[-2:-1], dx[-1:]
        last = _weighted(f, ax, [(b / (a * (a + b)), n - 3, 1), (-(a + b) / (a * b), n - 2, 1),
                                 ((2 * b + a) / (b * (a + b)), n - 1, 1)])
    return cat([first, interior, last], ax)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative estimates of input along each of ``dim`` (all dims when None): central
    differences inside, one-sided ones of order ``edge_order`` (1 or 2) at the ends. spacing is
    one number for every dim, one per dim, or one 1-D tensor of sample coordinates per dim
    (the coordinates are constants: no gradient flows to them).

    Shape: a tuple of tensors of input's shape; integer input gives the default float dtype.

    >>> [g.tolist() for g in fastdl.gradient(fastdl.tensor([1.0, 2.0, 4.0, 8.0]))]
    [[1.0, 1.5, 3.0, 4.0]]
    """
    check_tensor_arg(input, "gradient")
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got "
                           f"{edge_order}")
    nd = input._data.ndim
    dims = list(builtins.range(nd)) if dim is None else (
        [dim] if isinstance(dim, (int, np.integer)) else list(dim))
    axes = [norm_dim(d, nd) for d in dims]
    if len(set(axes)) != len(axes):
        repeated = next(a for a in axes if axes.count(a) > 1)
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    if spacing is None:
        spacing = 1
    spacings = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(axes)
    if len(spacings) != len(axes):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                           f"it's spacing and dim arguments to have the same length, but got "
                           f"a spacing argument of length {len(spacings)} and a dim argument "
                           f"of length {len(axes)}.")
    f = input if input._data.dtype.kind == "f" else input.to(get_default_dtype())
    out = []
    for ax, h in zip(axes, spacings):
        n = f._data.shape[ax]
        if n < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
        if isinstance(h, Tensor):
            coords = h.detach().numpy() if type(h._data) is np.ndarray else h._data.get()
            if coords.ndim != 1 or coords.shape[0] != n:
                raise RuntimeError(f"torch.gradient expected each tensor to be on the same "
                                   f"device and have {n} coordinates along dim {ax}")
            out.append(_coordinate_derivative(f, ax, coords, edge_order))
        else:
            out.append(_uniform_derivative(f, ax, float(h), edge_order))
    return tuple(out)


# ---- piecewise constant: counts and runs ----
def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """Counts (or ``weight`` sums) of input's values in ``bins`` equal bins over ``range``
    (input's min and max when None), or between the edges of a 1-D ``bins`` tensor; the last
    bin includes its right edge. ``density`` divides by the total and the bin widths.

    Shape: (hist (nbins,), bin_edges (nbins + 1,)), both in input's dtype.

    >>> hist, edges = fastdl.histogram(fastdl.tensor([1.0, 2.0, 1.0]), bins=2, range=(0.0, 2.0))
    >>> hist.tolist(), edges.tolist()
    ([0.0, 3.0], [0.0, 1.0, 2.0])
    """
    check_tensor_arg(input, "histogram")
    d = input._data
    if d.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                           f"same dtype, but got input {d.dtype}")
    host = np.asarray(d if type(d) is np.ndarray else d.get()).reshape(-1)
    w = None
    if weight is not None:
        if weight._data.shape != d.shape:
            raise RuntimeError("histogram: weight should have the same shape as input")
        w = np.asarray(weight.detach().numpy() if type(weight._data) is np.ndarray
                       else weight._data.get()).reshape(-1)
    if isinstance(bins, Tensor):
        if bins._data.ndim != 1 or bins._data.shape[0] < 1:
            raise RuntimeError("histogram: bins tensor should have one dimension and at least "
                               "1 element")
        edges = bins.detach().numpy() if type(bins._data) is np.ndarray else bins._data.get()
        if (np.diff(edges) < 0).any():
            raise RuntimeError("histogram: bin edges must be increasing")
    else:
        if int(bins) <= 0:
            raise RuntimeError(f"histogram(): bins must be > 0, but got {bins} for dimension 0")
        lo, hi = (float(range[0]), float(range[1])) if range is not None else (
            (float(host.min()), float(host.max())) if host.size else (0.0, 0.0))
        if lo > hi:
            raise RuntimeError(f"histogram(): max must be larger than min, got {lo} > {hi}")
        if lo == hi:  # an empty range: one unit around it (numpy and torch)
            lo, hi = lo - 0.5, hi + 0.5
        edges = torch_linspace(lo, hi, int(bins) + 1, d.dtype)
    # torch's binning: the last edge at or below the value (the last bin keeps its right edge)
    inside = (host >= edges[0]) & (host <= edges[-1])
    which = np.minimum(np.searchsorted(edges, host[inside], side="right") - 1, len(edges) - 2)
    hist = np.bincount(which, weights=None if w is None else w[inside],
                       minlength=len(edges) - 1).astype(d.dtype)
    if density:
        hist = hist / hist.sum() / np.diff(edges).astype(d.dtype)
    xp = xp_of(d)
    return (_wrap(xp.asarray(hist.astype(d.dtype))), _wrap(xp.asarray(edges.astype(d.dtype))))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """input with runs of equal consecutive elements (slices along ``dim``) collapsed to one;
    optionally with the inverse indices (which run each element fell in) and the run lengths.

    Shape: (k,) for k runs (input's with k at dim); inverse input's shape (dim's length with
    dim), counts (k,).

    >>> fastdl.unique_consecutive(fastdl.tensor([1, 1, 2, 2, 1])).tolist()
    [1, 2, 1]
    """
    check_tensor_arg(input, "unique_consecutive")
    d = input._data
    xp = xp_of(d)
    if dim is None:
        flat = d.reshape(-1)
        changed = flat[1:] != flat[:-1]
    else:
        ax = norm_dim(dim, d.ndim)
        moved = xp.moveaxis(d, ax, 0).reshape(d.shape[ax], -1) if d.ndim else d.reshape(1, 1)
        flat = moved
        changed = (moved[1:] != moved[:-1]).any(axis=1) if moved.shape[1] else \
            xp.zeros(max(moved.shape[0] - 1, 0), dtype=bool)
    starts = xp.concatenate([xp.ones(min(flat.shape[0], 1), dtype=bool), changed])
    keep = xp.nonzero(starts)[0]
    if dim is None:
        values = flat[keep]
        inverse = (xp.cumsum(starts) - 1).reshape(d.shape)
    else:
        values = xp.take(d, keep, axis=ax) if d.ndim else d
        inverse = xp.cumsum(starts) - 1
    counts = xp.diff(xp.concatenate([keep, xp.asarray([flat.shape[0]])]))
    return unique_result(values, inverse, counts, return_inverse, return_counts)
