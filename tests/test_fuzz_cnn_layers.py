"""Randomized differential test of the CNN-side layers against torch: convolutions (and their
transposes with output_size), every pooling, interpolation, pixel shuffle, fold/unfold, the
normalizations, channel dropout in eval, F.pad, grid_sample/affine_grid. Each case draws every
argument (including illegal ones, where both libraries must raise the same exception type),
an odd shape, batched or not, float32 or float64, and a contiguous, channels-last or strided
input; outputs, indices, input and parameter gradients and running statistics must agree.
The seed is fixed so a failure names a case that reproduces; FASTDL_FUZZ_CASES raises the
count for a longer hunt."""
from __future__ import annotations

import os

import numpy as np
import pytest

import fuzz_cnn_cases as A
import fuzz_cnn_cases_more as B
from fuzz_diff import run

pytest.importorskip("torch")
# torch warns about the deprecated ranks dropout2d/3d still accept; fastdl matches them quietly
pytestmark = pytest.mark.filterwarnings("ignore:dropout[23]d:UserWarning")

FAMILIES = {
    "conv": A.conv, "conv_transpose": A.conv_transpose, "max_pool": A.max_pool,
    "avg_pool": A.avg_pool, "adaptive_pool": A.adaptive_pool, "lp_pool": A.lp_pool,
    "max_unpool": A.max_unpool, "fractional_max_pool": A.fractional_max_pool,
    "interpolate": A.interpolate, "upsample": A.upsample_module,
    "pixel_shuffle": A.pixel_shuffle, "unfold": B.unfold, "fold": B.fold,
    "batch_norm": B.batch_norm, "instance_norm": B.instance_norm, "group_norm": B.group_norm,
    "layer_norm": B.layer_norm, "local_response_norm": B.local_response_norm,
    "dropout_eval": B.dropout_eval, "pad": B.pad, "grid_sample": B.grid_sample,
    "affine_grid": B.affine_grid,
}
CASES = int(os.environ.get("FASTDL_FUZZ_CASES", "16"))
SEED = 20261130
LOOSE32 = dict(rtol=2e-3, atol=2e-4)


def _values(rng, shape, opts, dtype):
    if opts.get("distinct"):  # no ties, so max indices (and their gradients) are unambiguous
        n = int(np.prod(shape))
        a = rng.permutation(n).reshape(shape) * (1.0 / max(n, 1)) - 0.5
    else:
        a = rng.standard_normal(shape)
    if opts.get("positive"):
        a = np.abs(a) + 0.1
    return a.astype(dtype)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_family(family):
    rng = np.random.default_rng([SEED, sorted(FAMILIES).index(family)])
    seen = set()
    for i in range(CASES):
        desc, build, shapes, opts = FAMILIES[family](rng)
        dtype = np.float64 if rng.random() < 0.5 else np.float32
        layout = ["contiguous", "channels_last", "strided"][int(rng.integers(3))]
        arrays = [_values(rng, s, opts, dtype) for s in shapes]
        for a, scale in zip(arrays, opts.get("scale", [])):
            a *= scale
        try:
            tol = LOOSE32 if opts.get("loose32") and dtype == np.float32 else None
            seen.add(run(build, arrays, layout=layout, train=opts.get("train", True), seed=i,
                         grad=opts.get("grad", True), tol=tol))
        except AssertionError as e:
            raise AssertionError(f"case {i}: {desc} {np.dtype(dtype).name} {layout}\n{e}") from None
    assert seen - {"error"}, f"every {family} case was an error: the generator is off"


def _f(name, *args, **kwargs):
    """build(lib) for lib.nn.functional.<name>(x, *args, **kwargs)."""
    return lambda lib: lambda x: getattr(lib.nn.functional, name)(x, *args, **kwargs)


def _unpool_to_empty(lib):
    def f(x):
        y, idx = lib.nn.functional.max_pool2d(x, 1, return_indices=True)
        return lib.nn.functional.max_unpool2d(y, idx, 2, 1, 1)  # (1 - 1) + 2 - 2 rows
    return f


def _fractional_scalar_ratio(lib):
    samples = lib.tensor(np.full((1, 2, 2), 0.5))
    return lambda x: lib.nn.functional.fractional_max_pool2d(
        x, 2, output_ratio=0.5, _random_samples=samples.to(x.dtype))


# cases the fuzzer found (fixed in fastdl), pinned: (build, input shapes, run options)
FOUND = {
    "pad_reflect_crop_to_empty_dim": (_f("pad", (0, 2, 0, 2, -1, 0), mode="reflect"),
                                      [(2, 2, 1, 3, 4)], {"grad": False}),
    "pad_reflect_crop_past_pad": (_f("pad", (1, -3), mode="reflect"), [(1, 1, 3)], {}),
    "pad_replicate_all_empty": (_f("pad", (-3, 0, -3, 0), mode="replicate"), [(1, 2, 3, 3)], {}),
    "pad_circular_to_empty": (_f("pad", (-3, 0, 0, 0), mode="circular"), [(1, 2, 3, 3)], {}),
    "pad_circular_wraps_twice": (_f("pad", (6, 0), mode="circular"), [(2, 3, 5)], {}),
    "pad_constant_crop_past_dim": (_f("pad", (-2, 3)), [(1, 2, 1)], {}),
    "pad_odd_length": (_f("pad", (1, 2, 3)), [(1, 2, 3)], {}),
    "dropout1d_4d": (_f("dropout1d", 0.5, training=False), [(2, 3, 4, 5)], {}),
    "group_norm_one_value": (_f("group_norm", 1), [(1, 1, 1)], {}),
    "group_norm_bad_groups": (_f("group_norm", 4), [(2, 6, 3)], {}),
    "group_norm_1d": (_f("group_norm", 1), [(4,)], {}),
    "group_norm_weight_shape": (lambda lib: lambda x: lib.nn.functional.group_norm(
        x, 3, lib.ones(5, dtype=x.dtype)), [(2, 6, 3)], {}),
    "layer_norm_shape": (_f("layer_norm", (4,)), [(2, 3)], {}),
    "batch_norm_1d_input": (_f("batch_norm", None, None, training=True), [(3,)], {}),
    "batch_norm_eval_no_stats": (_f("batch_norm", None, None, training=False), [(4, 3)], {}),
    "grid_sample_nearest_grid_grad": (
        lambda lib: lambda x, g: lib.nn.functional.grid_sample(x, g, mode="nearest",
                                                               align_corners=False),
        [(1, 2, 3, 4), (1, 2, 3, 2)], {}),
    "avg_pool3d_smaller_than_kernel": (_f("avg_pool3d", 3, padding=1), [(1, 1, 2, 3, 3)], {}),
    "max_unpool_to_empty": (_unpool_to_empty, [(2, 2, 1, 3)], {"grad": False}),
    "interpolate_area_to_empty": (_f("interpolate", scale_factor=(0.86, 2.9), mode="area"),
                                  [(2, 2, 1, 3)], {"grad": False}),
    "fractional_functional_scalar_ratio": (_fractional_scalar_ratio, [(1, 2, 6, 6)], {}),
    "adaptive_max_pool_size_length": (_f("adaptive_max_pool2d", (2, 2, 2)), [(1, 2, 5, 5)], {}),
    "adaptive_avg_pool_size_length": (_f("adaptive_avg_pool3d", (2, 2)), [(1, 2, 3, 3, 3)], {}),
    "local_response_norm_size_0": (_f("local_response_norm", 0), [(1, 2, 5, 5)], {}),
    "adaptive_pool_rank": (_f("adaptive_avg_pool2d", 2), [(2, 2)], {}),
    "avg_pool2d_rank": (_f("avg_pool2d", 2), [(2, 2)], {}),
    "lp_pool2d_rank": (_f("lp_pool2d", 2, 2), [(2, 2)], {}),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_case(name, dtype):
    build, shapes, opts = FOUND[name]
    rng = np.random.default_rng(SEED)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    run(build, arrays, grad=opts.get("grad", True))
