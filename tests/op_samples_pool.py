"""Float64 samples of the pooling and interpolation ops (loaded by op_samples.py).

Max-pool inputs have well-separated values (``distinct``), so no window holds two values
within the central-difference step and the argmax is stable under it. The backward-only ops
(pool_scatter, pool_gather, avg_pool_backward, adaptive_avg_pool_backward,
interpolate_backward) are sampled as first derivatives of the public functions.
"""
from __future__ import annotations

import numpy as np

from op_samples import G, U, sample, vjp_at


def distinct(r, shape):
    """A random arrangement of values at least 0.03 apart."""
    n = int(np.prod(shape))
    return r.permutation(n).reshape(shape) * 0.05 - 0.025 * n + r.uniform(-0.01, 0.01, shape)


def _unpool_indices(shape, kernel):
    """Valid max-pool indices for an input plane of ``shape`` pooled by ``kernel`` (stride =
    kernel): one position per window, varied."""
    out = tuple(s // k for s, k in zip(shape, kernel))
    rng = np.random.default_rng(7)
    grids = np.meshgrid(*[np.arange(o) for o in out], indexing="ij")
    pos = [g * k + rng.integers(0, k, g.shape) for g, k in zip(grids, kernel)]
    return np.ravel_multi_index(pos, shape).astype(np.int64)


UNPOOL_IDX_2D = np.stack([_unpool_indices((4, 6), (2, 2)) for _ in range(2)])[None]  # (1,2,2,3)
UNPOOL_IDX_1D = np.stack([_unpool_indices((9,), (3,)) for _ in range(3)])[None]      # (1,3,3)

# ---- max pool --------------------------------------------------------------------------------
sample("max_pool", "2d_k3_s2_p1_ceil",
       lambda L, x: L.F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
       lambda r: [distinct(r, (2, 2, 7, 8))])
sample("max_pool", "1d_dilation2_p1",
       lambda L, x: L.F.max_pool1d(x, 3, 1, 1, dilation=2),
       lambda r: [distinct(r, (2, 2, 9))])
sample("max_pool", "3d_k2_s122",
       lambda L, x: L.F.max_pool3d(x, 2, stride=(1, 2, 2)),
       lambda r: [distinct(r, (1, 2, 3, 5, 5))])
sample("max_pool", "2d_2x2_unbatched_odd",
       lambda L, x: L.F.max_pool2d(x, 2, ceil_mode=True),
       lambda r: [distinct(r, (2, 5, 7))])
sample("adaptive_max_pool", "2d_7x9_to_3x4",
       lambda L, x: L.F.adaptive_max_pool2d(x, (3, 4)),
       lambda r: [distinct(r, (2, 2, 7, 9))])
sample("adaptive_max_pool", "1d_and_3d",
       lambda L, x, y: L.F.adaptive_max_pool1d(x, 4).sum() + L.F.adaptive_max_pool3d(y, 2).sum(),
       lambda r: [distinct(r, (1, 2, 9)), distinct(r, (1, 1, 3, 4, 5))])
# the gradient is linear in g and depends on x only through the argmax (held fixed)
sample("pool_scatter", "grad_of_max_pool2d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.max_pool2d(x, 3, 2, 1), [x], g),
       lambda r: [distinct(r, (1, 2, 7, 6)), G(r, (1, 2, 4, 3))], nograd=(0,))
sample("pool_scatter", "grad_of_adaptive_max_pool1d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.adaptive_max_pool1d(x, 3), [x], g),
       lambda r: [distinct(r, (2, 1, 8)), G(r, (2, 1, 3))], nograd=(0,))

# ---- max unpool (forward: scatter by indices; backward: pool_gather) -------------------------
sample("max_unpool", "2d_k2",
       lambda L, x: L.F.max_unpool2d(x, L.const(UNPOOL_IDX_2D), 2),
       lambda r: [U(r, (1, 2, 2, 3))])
sample("max_unpool", "1d_k3_output_size",
       lambda L, x: L.F.max_unpool1d(x, L.const(UNPOOL_IDX_1D), 3, output_size=(10,)),
       lambda r: [U(r, (1, 3, 3))])
sample("pool_gather", "grad_of_max_unpool2d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.max_unpool2d(x, L.const(UNPOOL_IDX_2D), 2), [x],
                              g),
       lambda r: [U(r, (1, 2, 2, 3)), G(r, (1, 2, 4, 6))], nograd=(0,))

# ---- average pools ---------------------------------------------------------------------------
sample("avg_pool", "2d_k3_s2_p1_ceil_exclude_pad",
       lambda L, x: L.F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
       lambda r: [U(r, (2, 2, 7, 8))])
sample("avg_pool", "2d_divisor_override",
       lambda L, x: L.F.avg_pool2d(x, (2, 3), (1, 2), (1, 0), divisor_override=5),
       lambda r: [U(r, (1, 2, 5, 7))])
sample("avg_pool", "1d_and_3d",
       lambda L, x, y: L.F.avg_pool1d(x, 3, 2, 1).sum() + L.F.avg_pool3d(y, 2, 1, 1).sum(),
       lambda r: [U(r, (2, 2, 9)), U(r, (1, 1, 3, 4, 4))])
sample("avg_pool_backward", "grad_of_avg_pool2d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                          count_include_pad=False), [x], g),
       lambda r: [U(r, (1, 2, 6, 7)), G(r, (1, 2, 4, 4))], nograd=(0,))
sample("adaptive_avg_pool", "2d_7x9_to_3x4",
       lambda L, x: L.F.adaptive_avg_pool2d(x, (3, 4)),
       lambda r: [U(r, (2, 2, 7, 9))])
sample("adaptive_avg_pool", "1d_and_3d",
       lambda L, x, y: L.F.adaptive_avg_pool1d(x, 4).sum() + L.F.adaptive_avg_pool3d(y, 2).sum(),
       lambda r: [U(r, (1, 2, 9)), U(r, (1, 1, 3, 4, 5))])
sample("adaptive_avg_pool_backward", "grad_of_adaptive_avg_pool2d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.adaptive_avg_pool2d(x, (2, 3)), [x], g),
       lambda r: [U(r, (1, 2, 5, 7)), G(r, (1, 2, 2, 3))], nograd=(0,))

# ---- interpolate -----------------------------------------------------------------------------
sample("interpolate", "nearest_scale_1.7",
       lambda L, x: L.F.interpolate(x, scale_factor=1.7, mode="nearest"),
       lambda r: [U(r, (1, 2, 3, 4))])
sample("interpolate", "nearest_exact_1d_down",
       lambda L, x: L.F.interpolate(x, size=5, mode="nearest-exact"),
       lambda r: [U(r, (2, 2, 9))])
sample("interpolate", "linear_align_corners",
       lambda L, x: L.F.interpolate(x, size=7, mode="linear", align_corners=True),
       lambda r: [U(r, (2, 2, 4))])
sample("interpolate", "bilinear_scale_1.5",
       lambda L, x: L.F.interpolate(x, scale_factor=(1.5, 0.75), mode="bilinear"),
       lambda r: [U(r, (1, 2, 4, 5))])
sample("interpolate", "bicubic_size",
       lambda L, x: L.F.interpolate(x, size=(5, 3), mode="bicubic", align_corners=False),
       lambda r: [U(r, (1, 2, 3, 4))])
sample("interpolate", "trilinear_align_corners",
       lambda L, x: L.F.interpolate(x, size=(3, 4, 2), mode="trilinear", align_corners=True),
       lambda r: [U(r, (1, 1, 2, 3, 3))])
sample("interpolate_backward", "grad_of_bilinear",
       lambda L, x, g: vjp_at(L, lambda x: L.F.interpolate(x, size=(5, 7), mode="bilinear"),
                              [x], g),
       lambda r: [U(r, (1, 2, 3, 4)), G(r, (1, 2, 5, 7))], nograd=(0,))
sample("interpolate_backward", "grad_of_bicubic_align_corners",
       lambda L, x, g: vjp_at(L, lambda x: L.F.interpolate(x, size=(4, 6), mode="bicubic",
                                                           align_corners=True), [x], g),
       lambda r: [U(r, (1, 1, 3, 4)), G(r, (1, 1, 4, 6))], nograd=(0,))
