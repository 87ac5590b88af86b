"""``affine_grid`` and ``grid_sample`` (2-D and 3-D; bilinear, nearest and, in 2-D, bicubic;
zeros/border/reflection padding; align_corners either way).

Both are composed from registered differentiable ops with torch's arithmetic, so the input and
the grid get torch's gradients (and second derivatives). grid_sample turns each output point's
normalized coordinate into a source coordinate (unnormalize, then border clipping or
reflection), takes the integer taps around it as constants, gathers the input at the taps in
bounds (one ``gather`` per tap over the whole batch) and adds them up with interpolation
weights that are tensors of the coordinates: that is where the grid's gradient comes from. As
torch's, the clipping passes no gradient at the border itself and the reflection flips its
sign on mirrored stretches.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import indexing as I
from fastdl.functional.linalg import matmul
from fastdl.nn.functional._checks import check_tensor
from fastdl.tensor import _wrap

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def _linspace_from_neg_one(steps, align_corners, dtype):
    """torch's base-grid coordinates along one dim: -1..1 (the pixel centres' positions with
    align_corners=False), 0 for a single step."""
    if steps <= 1:
        return np.zeros(max(steps, 1), dtype=dtype)[:steps]
    values = np.linspace(-1, 1, steps, dtype=dtype)
    return values if align_corners else values * ((steps - 1) / steps)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of affine transforms ``theta`` (N, 2, 3) for an output of ``size``
    (N, C, H, W), or (N, 3, 4) for (N, C, D, H, W): (N, H, W, 2) / (N, D, H, W, 3) normalized
    (x, y[, z]) coordinates, theta applied to the base grid."""
    check_tensor(theta, "affine_grid", "theta")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if theta._data.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"{theta._data.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    d = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (d, d + 1):
        raise ValueError(f"Expected a batch of {d}D affine matrices of shape Nx{d}x{d + 1} for "
                         f"size {list(size)}. Got {tuple(theta.shape)}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      UserWarning, stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {list(size)}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid(): theta holds {theta.shape[0]} matrices for a batch of "
                         f"{size[0]}")
    dtype = theta._data.dtype
    axes = [_linspace_from_neg_one(s, align_corners, dtype) for s in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # (D,) H, W: coordinates in input-dim order
    base = np.stack([m for m in reversed(mesh)] + [np.ones(spatial, dtype=dtype)], axis=-1)
    grid = matmul(_wrap(base.reshape(1, -1, d + 1)), theta.transpose(1, 2))
    return grid.reshape((size[0],) + spatial + (d,))


# torch runs 2-D sampling through its vectorized CPU kernel and 3-D through a scalar one, whose
# arithmetic differs in rounding: ``vectorized`` picks the matching formulas (float32 parity).

def _unnormalize(coord, size, align_corners, vectorized):
    """Normalized [-1, 1] to pixel coordinates."""
    if vectorized:
        if align_corners:
            return (coord + 1) * ((size - 1) / 2)
        shifted = coord + 1
        if shifted._data.dtype != np.float32:
            return shifted * (size / 2) - 0.5
        # torch's compiler fuses the multiply-add (one rounding): a float32 product is exact
        # in float64, so the float64 expression rounded once gives the same coordinate
        return (shifted.to(np.float64) * (size / 2) - 0.5).to(np.float32)
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _clip(coord, size):
    """coord clamped to [0, size - 1]; the gradient passes strictly inside only (torch's)."""
    c = coord._data
    inside = (c > 0) & (c < size - 1)
    return A.where(_wrap(inside), coord, _wrap(np.clip(c, 0, size - 1)))


def _absolute(shifted):
    """|shifted| with the sign's gradient taken as +1 at 0 (torch's reflection)."""
    c = shifted._data
    return shifted * _wrap(np.where(c < 0, -1, 1).astype(c.dtype))


def _reflect(coord, size, align_corners, vectorized):
    """coord mirrored at the border (pixel centres with align_corners, else pixel edges) as
    often as needed to land inside."""
    if size <= 1 and align_corners:
        return coord * 0.0
    low = 0.0 if align_corners else -0.5
    span = float(size - 1) if align_corners else float(size)
    distance = _absolute(coord - low)
    if vectorized:  # torch: extra = |c| mod 2 span, then the nearer of extra, 2 span - extra
        twice_span = 2 * span
        extra = distance - _wrap(np.trunc(distance._data / twice_span) * twice_span)
        reflected = twice_span - extra
        return A.where(_wrap(extra._data > reflected._data), reflected, extra) + low
    flips = np.floor(distance._data / span)
    extra = distance - _wrap(flips * span)  # fmod(|c|, span), its gradient 1
    return A.where(_wrap(flips % 2 == 0), extra + low, (span - extra) + low)


def _source_coordinate(coord, size, padding_mode, align_corners, vectorized):
    coord = _unnormalize(coord, size, align_corners, vectorized)
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        return _clip(_reflect(coord, size, align_corners, vectorized), size)
    return coord


def _integer_tap(tap, size, padding_mode, align_corners):
    """A bicubic tap (an integer coordinate array) moved by the padding rule, as torch's
    get_value_bounded."""
    if padding_mode == "border":
        return np.clip(tap, 0, size - 1)
    if padding_mode == "reflection":
        if size <= 1 and align_corners:
            return np.zeros_like(tap)
        low = 0.0 if align_corners else -0.5
        span = float(size - 1) if align_corners else float(size)
        distance = np.abs(tap - low)
        flips, extra = np.floor(distance / span), np.fmod(distance, span)
        mirrored = np.where(flips % 2 == 0, extra + low, span - extra + low)
        return np.clip(mirrored, 0, size - 1)
    return tap


def _cubic_weights(t):
    """The four cubic-convolution weights (A = -0.75) of offset t in [0, 1), torch's formulas."""
    a = -0.75

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def _taps(coords, sizes, mode, padding_mode, align_corners):
    """Per dim (input order): a list of (integer tap array, weight tensor or None)."""
    vectorized = len(sizes) == 2
    per_dim = []
    for coord, size in zip(coords, sizes):
        if mode == "bicubic":
            x = _unnormalize(coord, size, align_corners, vectorized)
            floor = np.floor(x._data)
            weights = _cubic_weights(x - _wrap(floor))
            per_dim.append([(_integer_tap(floor + k - 1, size, padding_mode, align_corners), w)
                            for k, w in enumerate(weights)])
            continue
        x = _source_coordinate(coord, size, padding_mode, align_corners, vectorized)
        if mode == "nearest":
            per_dim.append([(np.rint(x._data), None)])
            continue
        floor = np.floor(x._data)
        offset = x - _wrap(floor)
        low_weight = 1 - offset if vectorized else _wrap(floor + 1) - x
        per_dim.append([(floor, low_weight), (floor + 1, offset)])
    return per_dim


def _check_grid_sample(input, grid, mode, padding_mode):
    check_tensor(input, "grid_sample")
    check_tensor(grid, "grid_sample", "grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    x, g = input._data, grid._data
    if x.ndim not in (4, 5) or g.ndim != x.ndim:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {tuple(x.shape)} and grid "
                           f"with sizes {tuple(g.shape)}")
    if x.dtype.kind != "f" or x.dtype != g.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same floating "
                           f"point dtype, but input has {x.dtype} and grid has {g.dtype}")
    if x.shape[0] != g.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {tuple(x.shape)} and grid with sizes "
                           f"{tuple(g.shape)}")
    d = x.ndim - 2
    if g.shape[-1] != d:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {d} in last dimension, "
                           f"but got grid with sizes {tuple(g.shape)}")
    if any(s == 0 for s in x.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                           f"dimensions, but input has sizes {tuple(x.shape)}")
    if mode == "bicubic" and d != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners=None):
    """The input (N, C, H, W) sampled at ``grid`` (N, Ho, Wo, 2) normalized (x, y) points
    (-1 and 1 the extreme pixels' centres with align_corners, else their outer edges); 5-D
    likewise with (x, y, z) points. Output (N, C, Ho, Wo) / (N, C, Do, Ho, Wo)."""
    _check_grid_sample(input, grid, mode, padding_mode)
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    n, c, *sizes = input.shape
    out_spatial = tuple(grid.shape[1:-1])
    points = int(np.prod(out_spatial))
    d = len(sizes)
    flat_grid = grid.reshape(n, points, d)
    coords = [flat_grid[:, :, d - 1 - k] for k in range(d)]  # grid's last dim is (x, y, z)
    per_dim = _taps(coords, sizes, mode, padding_mode, align_corners)
    values = input.reshape(n, c, -1)
    strides = np.cumprod([1] + sizes[::-1])[:-1][::-1]

    def gather(tap_per_dim):
        """The input at one tap per dim (n, c, points), 0 where it falls outside."""
        inside = np.ones((n, points), dtype=bool)
        flat = np.zeros((n, points), dtype=np.int64)
        for tap, size, stride in zip(tap_per_dim, sizes, strides):
            inside &= (tap >= 0) & (tap <= size - 1)
            flat += np.clip(tap, 0, size - 1).astype(np.int64) * stride
        index = _wrap(np.ascontiguousarray(np.broadcast_to(flat[:, None, :], (n, c, points))))
        # taps outside the input read 0 (a where, not a 0 factor: an inf there stays out)
        return A.where(_wrap(inside[:, None, :]), I.gather(values, 2, index), 0.0)

    def weighted_sum(terms):
        out = None
        for value, weight in terms:  # in torch's summation order
            term = value if weight is None else value * weight.unsqueeze(1)
            out = term if out is None else out + term
        return out

    if mode == "bicubic":  # along x within each of the 4 rows, then along y
        (y_taps, x_taps) = per_dim
        rows = [(weighted_sum((gather((y_tap, x_tap)), wx) for x_tap, wx in x_taps), wy)
                for y_tap, wy in y_taps]
        return weighted_sum(rows).reshape((n, c) + out_spatial)
    terms = []
    for corner in itertools.product(*per_dim):  # last dim fastest: torch's summation order
        weight = None
        for _, w in reversed(corner):  # the x factor first, as torch
            if w is not None:
                weight = w if weight is None else weight * w
        terms.append((gather([tap for tap, _ in corner]), weight))
    out = weighted_sum(terms)
    if mode == "nearest" and grid.requires_grad:
        # torch gives the grid a zero gradient (not none); a where, so inf/NaN points stay out
        never = _wrap(np.zeros((1, 1, 1), dtype=bool))
        out = out + A.where(never, flat_grid[:, :, 0].unsqueeze(1), 0.0)
    return out.reshape((n, c) + out_spatial)
