"""fp32 GEMM (fastdl.ops.gemm / fastdl.ops.matmul on numpy arrays) against a float64 reference.

Every SIMD path this CPU supports runs, on 1 and 2 threads, with sizes that leave partial
micro-tiles and cross the cache-block edges (k > KC, m > MC, n > NC), through transposed,
strided, negative-stride and broadcast (zero-stride) views.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdl
from fastdl import _C, ops
from gemm_fixtures import simd_path, threads  # noqa: F401 (pytest fixtures)

EPS32 = np.finfo(np.float32).eps


def rand(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


def assert_gemm_close(got, a, b, alpha=1.0, beta=0.0, c0=None):
    """|got - ref| <= bound elementwise, with the standard fp32 dot-product error bound
    ~ sqrt(k) * eps * (|alpha| |A| |B| + |beta C0|) (sqrt(k): rounding errors add like a random
    walk); a factor 4 of slack covers the alpha/beta rounding and the largest of many entries."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ref = alpha * np.matmul(a64, b64)
    scale = abs(alpha) * np.matmul(np.abs(a64), np.abs(b64))
    if c0 is not None and beta != 0:
        ref = ref + beta * np.asarray(c0, np.float64)
        scale = scale + abs(beta) * np.abs(np.asarray(c0, np.float64))
    k = a64.shape[-1]
    bound = 4.0 * np.sqrt(max(k, 1)) * EPS32 * scale + np.finfo(np.float32).tiny
    err = np.abs(np.asarray(got, np.float64) - ref)
    assert got.shape == ref.shape
    assert np.all(np.isfinite(got))
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), (
        f"max excess at {worst}: err {err[worst]:.3g} > bound {bound[worst]:.3g}")


# (m, n, k): 1 and 7 (below one tile), 33 and 129 (partial tiles), k = 300 and 513 (one or two
# KC slices depending on the SIMD path's KC), 1100 columns (three NC blocks).
SIZES = [(1, 1, 1), (7, 1, 33), (1, 129, 7), (33, 7, 129), (129, 33, 300), (33, 129, 513),
         (400, 40, 70), (9, 1100, 20)]


@pytest.mark.parametrize("m,n,k", SIZES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_sizes_and_transposes(simd_path, threads, m, n, k, trans_a, trans_b):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a = rand(rng, k, m) if trans_a else rand(rng, m, k)
    b = rand(rng, n, k) if trans_b else rand(rng, k, n)
    got = ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_gemm_close(got, a.T if trans_a else a, b.T if trans_b else b)


@pytest.mark.parametrize("n", [16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 81, 95, 96, 97, 113])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_every_edge_sliver_width(simd_path, n, trans_b):
    # The last column sliver may be 1..NR wide (NR = 48 / 16 / 8 by SIMD path): the AVX-512
    # kernel runs it with one, two or three vectors and masked C accesses, and packing zero-fills
    # past n. beta != 0 so every masked load of C is checked too.
    rng = np.random.default_rng(n)
    a, c0 = rand(rng, 13, 37), rand(rng, 13, n)
    b = rand(rng, n, 37) if trans_b else rand(rng, 37, n)
    c = c0.copy()
    ops.gemm(a, b, c, alpha=1.5, beta=-0.5, trans_b=trans_b)
    assert_gemm_close(c, a, b.T if trans_b else b, 1.5, -0.5, c0)


@pytest.mark.parametrize("m,n,k", [(9, 9, 1), (13, 9, 7), (9, 48, 64), (37, 113, 100),
                                   (64, 64, 192), (64, 65, 192), (300, 20, 512), (9, 20, 513)])
def test_small_products_read_in_place_match_packed(simd_path, m, n, k):
    # Small products with row-major A and B skip packing on the AVX-512 path; the same product
    # through a column-major B (always packed) must give the same bits, and both the reference.
    # (m and n stay above 8, where thin products take their own path.)
    # Views with row strides wider than the rows, reversed rows, alpha/beta, and NaN left in C
    # under beta == 0 go through both paths.
    rng = np.random.default_rng(m * 1000 + n + k)
    a = rand(rng, m, k + 3)[::-1, 2:2 + k]
    b = rand(rng, k, n + 5)[:, 1:1 + n]
    c0 = rand(rng, m, n)
    in_place = c0.copy()
    ops.gemm(a, b, in_place, alpha=0.75, beta=1.25)
    packed = c0.copy()
    ops.gemm(a, np.asfortranarray(b), packed, alpha=0.75, beta=1.25)
    np.testing.assert_array_equal(in_place, packed)
    assert_gemm_close(in_place, a, b, 0.75, 1.25, c0)
    nan_c = np.full((m, n), np.nan, np.float32)
    ops.gemm(a, b, nan_c, beta=0.0)
    assert_gemm_close(nan_c, a, b)


@pytest.mark.parametrize("m,n,k", [(1000, 64, 700), (517, 96, 33), (3001, 17, 1100), (70, 1, 600),
                                   (260, 97, 300), (300, 384, 500), (4700, 384, 100),
                                   (150, 385, 64), (90, 200, 2000)])
@pytest.mark.parametrize("trans_b", [False, True])
def test_narrow_products(simd_path, m, n, k, trans_b):
    # n <= 384 with a row-major A and B <= 1 MiB: A read in place, B packed over the whole k
    # (k > KC included), row blocks shared out at run time; every thread count gives the same
    # bits. (150, 385, 64) and (90, 200, 2000) fall just outside and take the packed path (same
    # bits too: its k slices do not depend on the thread count).
    rng = np.random.default_rng(m + n + k)
    a, c0 = rand(rng, m, k), rand(rng, m, n)
    b = rand(rng, n, k).T if trans_b else rand(rng, k, n)
    before = fastdl.get_num_threads()
    results = {}
    try:
        for threads_n in (1, 2, 3):
            fastdl.set_num_threads(threads_n)
            c = c0.copy()
            ops.gemm(a, b, c, alpha=-0.5, beta=2.0)
            assert_gemm_close(c, a, b, -0.5, 2.0, c0)
            results[threads_n] = c
    finally:
        fastdl.set_num_threads(before)
    for threads_n in (2, 3):
        np.testing.assert_array_equal(results[threads_n], results[1])


@pytest.mark.parametrize("m,n,k", [(20, 500, 600), (64, 1000, 512), (7, 390, 1030), (65, 500, 600),
                                   (20, 500, 511)])
def test_small_batch_through_transposed_weight(simd_path, m, n, k):
    # x @ W.T with few rows and a long k runs transposed (C^T = W x^T) through the narrow path,
    # writing C by columns; (65, ...) and k = 511 stay on the packed path. Same bits for every
    # thread count either way.
    rng = np.random.default_rng(m * 7 + n + k)
    x, w, c0 = rand(rng, m, k), rand(rng, n, k), rand(rng, m, n)
    before = fastdl.get_num_threads()
    results = []
    try:
        for threads_n in (1, 2, 3):
            fastdl.set_num_threads(threads_n)
            c = c0.copy()
            ops.gemm(x, w, c, alpha=0.5, beta=-1.0, trans_b=True)
            assert_gemm_close(c, x, w.T, 0.5, -1.0, c0)
            results.append(c)
    finally:
        fastdl.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_gemm_large(simd_path, threads):
    # Crosses every block edge at once (MC <= 2048, NC = 480, KC <= 512 on every SIMD path), with
    # no dimension a multiple of a tile.
    rng = np.random.default_rng(7)
    a, b = rand(rng, 2101, 533), rand(rng, 533, 501)
    assert_gemm_close(ops.gemm(a, b), a, b)


def test_gemm_skinny_transposed_weight(simd_path, threads):
    # The linear-layer shape: x (32, k) @ W.T with W (n, k) row-major (column-major B).
    rng = np.random.default_rng(8)
    x, w = rand(rng, 32, 300), rand(rng, 520, 300)
    assert_gemm_close(ops.gemm(x, w, trans_b=True), x, w.T)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, -2.0), (-1.5, 0.0), (2.0, 0.25)])
def test_gemm_alpha_beta(simd_path, threads, alpha, beta):
    rng = np.random.default_rng(3)
    a, b, c0 = rand(rng, 37, 300), rand(rng, 300, 45), rand(rng, 37, 45)
    c = c0.copy()
    out = ops.gemm(a, b, c, alpha=alpha, beta=beta)
    assert out is c
    assert_gemm_close(c, a, b, alpha, beta, c0)


def test_gemm_beta_zero_never_reads_c(simd_path, threads):
    rng = np.random.default_rng(4)
    a, b = rand(rng, 29, 270), rand(rng, 270, 70)
    c = np.full((29, 70), np.nan, np.float32)
    ops.gemm(a, b, c, alpha=1.0, beta=0.0)
    assert_gemm_close(c, a, b)
    c = np.full((29, 70), np.inf, np.float32)
    ops.gemm(a[:, :0], b[:0], c, beta=0.0)  # k == 0: C = beta * C = 0, still without reading
    assert np.all(c == 0)


def test_gemm_alpha_zero_scales_c(simd_path):
    rng = np.random.default_rng(5)
    a, b, c0 = rand(rng, 5, 6), rand(rng, 6, 7), rand(rng, 5, 7)
    c = c0.copy()
    ops.gemm(a, b, c, alpha=0.0, beta=3.0)
    np.testing.assert_allclose(c, 3.0 * c0, rtol=EPS32)


def test_gemm_k_zero_and_empty(simd_path, threads):
    rng = np.random.default_rng(6)
    c0 = rand(rng, 4, 5)
    c = c0.copy()
    ops.gemm(np.empty((4, 0), np.float32), np.empty((0, 5), np.float32), c, beta=0.5)
    np.testing.assert_allclose(c, 0.5 * c0, rtol=EPS32)
    assert ops.gemm(np.empty((0, 3), np.float32), rand(rng, 3, 5)).shape == (0, 5)
    assert ops.gemm(rand(rng, 4, 3), np.empty((3, 0), np.float32)).shape == (4, 0)
    z = ops.gemm(np.empty((4, 0), np.float32), np.empty((0, 5), np.float32))
    assert z.shape == (4, 5) and np.all(z == 0)


def test_gemm_row_stride_multiple_of_4kib(simd_path, threads):
    # Row-major A whose rows are 8 KiB (2048 floats) apart, so the MR rows of a sliver share L1
    # sets; m = 13 and 37 leave partial row slivers (mr < MR on every SIMD path), k = 700 cuts the
    # row, and the view must not be read past its last row or column.
    rng = np.random.default_rng(10)
    for m in (13, 37):
        base = rand(rng, m, 2048)
        a = base[:, 3:703]
        b = rand(rng, 700, 45)
        assert_gemm_close(ops.gemm(a, b), a, b)


def test_gemm_strided_views(simd_path, threads):
    rng = np.random.default_rng(9)
    base_a, base_b = rand(rng, 90, 130), rand(rng, 100, 90)
    views_a = [base_a[::2, 1::3][:, :40],   # row and column strides > 1
               base_a[::-1, 5:45],          # negative row stride
               base_a[:40, ::-3].T]         # transposed, negative row stride
    views_b = [base_b[1::2, ::3][:40],      # strided
               base_b[::-1, ::-1][:40],     # both strides negative
               base_b[:33, :40].T]          # column-major (unit row stride)
    for a in views_a:
        for b in views_b:
            assert_gemm_close(ops.gemm(a, b), a, b)


def test_gemm_zero_strides(simd_path, threads):
    # A broadcast row (row stride 0) and a broadcast column (column stride 0) as operands.
    rng = np.random.default_rng(10)
    row, col = rand(rng, 1, 40), rand(rng, 40, 1)
    a = np.broadcast_to(row, (35, 40))
    b = np.broadcast_to(col, (40, 50))
    assert_gemm_close(ops.gemm(a, b), a, b)


def test_gemm_strided_output(simd_path, threads):
    rng = np.random.default_rng(11)
    a, b = rand(rng, 33, 70), rand(rng, 70, 45)
    big = np.full((66, 135), 7.0, np.float32)
    c = big[::2, ::3]  # non-unit column stride: the micro-kernel's general store path
    ops.gemm(a, b, c)
    assert_gemm_close(c, a, b)
    untouched = big.copy()
    untouched[::2, ::3] = 7.0
    assert np.all(untouched == 7.0)
    ct = np.full((45, 33), 2.0, np.float32).T  # column-major output
    ops.gemm(a, b, ct, beta=0.5)
    assert_gemm_close(ct, a, b, 1.0, 0.5, np.full((33, 45), 2.0))


def test_gemm_batched(simd_path, threads):
    rng = np.random.default_rng(12)
    a, b = rand(rng, 3, 2, 17, 40), rand(rng, 3, 2, 40, 9)
    assert_gemm_close(ops.gemm(a, b), a, b)
    at, bt = rand(rng, 4, 40, 17), rand(rng, 4, 9, 40)
    got = ops.gemm(at, bt, trans_a=True, trans_b=True)
    assert_gemm_close(got, np.swapaxes(at, -1, -2), np.swapaxes(bt, -1, -2))
    # One batch dimension runs as a strided batch: reversed, stepped and broadcast (stride 0)
    # batch strides, and an output with a padded batch stride.
    a3, b3 = rand(rng, 10, 17, 40)[::-2], rand(rng, 40, 9)
    out = np.zeros((5, 20, 9), np.float32)[:, 2:19]
    ops.gemm(a3, np.broadcast_to(b3, (5, 40, 9)), out)
    assert_gemm_close(out, a3, np.broadcast_to(b3, (5, 40, 9)))


@pytest.mark.parametrize("batch,m,n,k", [(64, 8, 8, 8), (3, 130, 70, 300), (2, 33, 33, 1)])
def test_matmul_batched_split_strategies(simd_path, threads, batch, m, n, k):
    # Many small products (threads take whole products), few large ones (threads share each).
    rng = np.random.default_rng(batch + m)
    a, b = rand(rng, batch, m, k), rand(rng, batch, k, n)
    assert_gemm_close(ops.matmul(a, b), a, b)


def test_matmul_numpy_semantics(simd_path, threads):
    rng = np.random.default_rng(13)
    cases = [
        (rand(rng, 7), rand(rng, 7)),                 # 1-D @ 1-D -> scalar
        (rand(rng, 7), rand(rng, 7, 5)),              # 1-D @ 2-D
        (rand(rng, 4, 7), rand(rng, 7)),              # 2-D @ 1-D
        (rand(rng, 3, 4, 7), rand(rng, 7)),           # batched @ 1-D
        (rand(rng, 7), rand(rng, 2, 7, 5)),           # 1-D @ batched
        (rand(rng, 2, 1, 4, 7), rand(rng, 3, 7, 5)),  # broadcast batch dimensions
        (rand(rng, 4, 7), rand(rng, 6, 7, 5)),        # 2-D operand broadcast over a batch
        (rand(rng, 30, 40)[::2, 1::3], rand(rng, 20, 14)[:13, ::-1]),  # strided, reversed
    ]
    a_t = rand(rng, 5, 9).T  # transposed view
    cases.append((a_t, rand(rng, 5, 6)))
    cases.append((rand(rng, 6, 9)[::-1], rand(rng, 9, 4)[::-1]))  # negative strides
    for a, b in cases:
        got = ops.matmul(a, b)
        ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert np.shape(got) == ref.shape, (a.shape, b.shape)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        full = ops.matmul(a2, b2)
        assert_gemm_close(full, np.broadcast_to(a2, full.shape[:-2] + a2.shape[-2:]),
                          np.broadcast_to(b2, full.shape[:-2] + b2.shape[-2:]))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.sqrt(a.shape[-1]))


def test_matmul_matches_torch(simd_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    a, b = rand(rng, 3, 65, 130), rand(rng, 130, 47)
    got = ops.matmul(a, b)
    ours = np.abs(got - np.matmul(a.astype(np.float64), b.astype(np.float64))).max()
    theirs = np.abs(torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()
                    - np.matmul(a.astype(np.float64), b.astype(np.float64))).max()
    assert ours <= 2.0 * theirs + 1e-6


def test_thread_counts_agree_bitwise():
    # The k loop runs in the same order whatever the thread split, so results are identical.
    rng = np.random.default_rng(15)
    a, b = rand(rng, 200, 300), rand(rng, 300, 150)
    before = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(1)
        one = ops.gemm(a, b)
        fastdl.set_num_threads(2)
        two = ops.gemm(a, b)
    finally:
        fastdl.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("threads_n", [2, 3, 4])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.75, -1.5)])
def test_columns_handed_out_at_run_time(simd_path, threads_n, alpha, beta):
    # Wide products share their columns out while running (more threads than cores here, so
    # threads really do finish out of step): two row blocks (m > MC) times three k slices, each
    # chunk waiting for the previous slice of its columns; bitwise what one thread computes.
    rng = np.random.default_rng(16)
    a, b, c0 = rand(rng, 2085, 1100), rand(rng, 1100, 613), rand(rng, 2085, 613)
    before = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(1)
        one = ops.gemm(a, b, c0.copy(), alpha=alpha, beta=beta)
        fastdl.set_num_threads(threads_n)
        many = ops.gemm(a, b, c0.copy(), alpha=alpha, beta=beta)
    finally:
        fastdl.set_num_threads(before)
    np.testing.assert_array_equal(many, one)
    assert_gemm_close(many, a, b, alpha, beta, c0)


@pytest.mark.parametrize("threads_n", [2, 3])
@pytest.mark.parametrize("m,n,k", [(800, 820, 600), (777, 1300, 129), (1000, 1000, 1030)])
def test_wide_square_products_take_columns_at_run_time(simd_path, threads_n, m, n, k):
    # m <= n with many column slivers per thread: columns handed out at run time even where the
    # static grid would have split m (v33); bitwise what one thread computes.
    rng = np.random.default_rng(m + n)
    a, b, c0 = rand(rng, m, k), rand(rng, k, n), rand(rng, m, n)
    before = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(1)
        one = ops.gemm(a, b, c0.copy(), alpha=1.25, beta=-0.5)
        fastdl.set_num_threads(threads_n)
        many = ops.gemm(a, b, c0.copy(), alpha=1.25, beta=-0.5)
    finally:
        fastdl.set_num_threads(before)
    np.testing.assert_array_equal(many, one)
    assert_gemm_close(many, a, b, 1.25, -0.5, c0)


@pytest.mark.parametrize("m,n,a_layout", [(3000, 40, "F"), (1500, 900, "F"), (3000, 40, "C"),
                                          (900, 1500, "C"), (1, 5000, "C")])
def test_fewer_openmp_threads_than_asked(m, n, a_layout):
    # OMP_THREAD_LIMIT=1 makes OpenMP grant one thread where two are asked: every part of C must
    # still be computed -- by the packed path's static grid (tall, column-major A) and its
    # run-time columns (wide), the narrow path's row blocks and the thin path's output ranges.
    script = textwrap.dedent(f"""
        import numpy as np, fastdl
        fastdl.set_num_threads(2)
        rng = np.random.default_rng(17)
        a = np.asarray(rng.standard_normal(({m}, 300), dtype=np.float32), order="{a_layout}")
        b = rng.standard_normal((300, {n}), dtype=np.float32)
        got = fastdl.ops.gemm(a, b)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        assert np.abs(got - ref).max() < 1e-3, np.abs(got - ref).max()
    """)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)


# ---- bad input -------------------------------------------------------------------------------


def test_gemm_rejects_mixed_and_non_float_dtypes():
    # float64 runs (tests/test_gemm_float64.py); a float32/float64 mix is refused, not cast.
    a = np.ones((3, 4))
    with pytest.raises(TypeError, match=r"same dtype.*a float64 \(3, 4\), b float32 \(4, 2\)"):
        ops.gemm(a, np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match=r"same dtype.*a float32.*b float64"):
        ops.matmul(np.ones((3, 4), np.float32), np.ones((4, 2), np.float64))
    with pytest.raises(TypeError, match=r"same dtype.*out float64 \(3, 2\)"):
        _C.gemm(np.ones((3, 4), np.float32), np.ones((4, 2), np.float32),
                np.ones((3, 2), np.float64))
    with pytest.raises(TypeError, match=r"a must be float32 or float64, got int64"):
        ops.gemm(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))
    with pytest.raises(TypeError, match=r"b must be float32 or float64, got float16"):
        _C.gemm(np.ones((3, 4), np.float32), np.ones((4, 2), np.float16),
                np.ones((3, 2), np.float32))


def test_gemm_rejects_mismatched_shapes():
    f = np.float32
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        ops.gemm(np.ones((3, 4), f), np.ones((5, 2), f))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        ops.matmul(np.ones((3, 4), f), np.ones(5, f))
    with pytest.raises(ValueError, match="broadcast"):
        ops.matmul(np.ones((2, 3, 4), f), np.ones((3, 4, 2), f))
    with pytest.raises(ValueError, match=r"c has shape \(3, 3\)"):
        ops.gemm(np.ones((3, 4), f), np.ones((4, 2), f), np.ones((3, 3), f))
    with pytest.raises(ValueError, match="shapes do not agree"):
        _C.gemm(np.ones((3, 4), f), np.ones((5, 2), f), np.ones((3, 2), f))
    with pytest.raises(ValueError, match="beta != 0 needs an input c"):
        ops.gemm(np.ones((3, 4), f), np.ones((4, 2), f), beta=1.0)


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True),
                                              (True, True)])
def test_gemm_2d_numpy_complaints_keep_gemm_words_and_leave_c(trans_a, trans_b):
    # 2-D numpy operands go straight to the binding (no Python-side checks first); whatever it
    # rejects must still be reported by ops.gemm's own rules, with c unchanged.
    f = np.float32
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, 3) if trans_a else (3, 4)).astype(f)
    b = rng.standard_normal((2, 4) if trans_b else (4, 2)).astype(f)
    flags = dict(trans_a=trans_a, trans_b=trans_b)
    c = np.full((3, 2), 7.0, f)
    c.flags.writeable = False
    with pytest.raises(ValueError, match="c is read-only"):
        ops.gemm(a, b, c, **flags)
    assert (c == 7.0).all()
    with pytest.raises(ValueError, match=r"c has shape \(2, 3\)"):
        ops.gemm(a, b, np.zeros((2, 3), f), **flags)
    with pytest.raises(TypeError, match=r"gemm: a, b, c must have the same dtype.*c float64"):
        ops.gemm(a, b, np.zeros((3, 2)), **flags)
    with pytest.raises(TypeError, match=r"gemm: a, b must have the same dtype.*b float64"):
        ops.gemm(a, b.astype(np.float64), **flags)
    with pytest.raises(ValueError, match="do not agree"):
        ops.gemm(a, b[:, :3] if trans_b else b[:3], **flags)
    # alpha and beta as Python ints and numpy scalars, c given and not
    c = rng.standard_normal((3, 2)).astype(f)
    want = 2 * (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b) + 0.5 * c
    got = ops.gemm(a, b, c.copy(), alpha=2, beta=np.float64(0.5), **flags)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    got = ops.gemm(a, b, alpha=np.float32(2), **flags)
    np.testing.assert_allclose(got, want - 0.5 * c, rtol=1e-5, atol=1e-5)


def test_gemm_rejects_wrong_ndim():
    f = np.float32
    with pytest.raises(ValueError, match=r"at least 2-D.*\(4,\)"):
        ops.gemm(np.ones(4, f), np.ones((4, 2), f))
    with pytest.raises(ValueError, match="scalar"):
        ops.matmul(np.array(2.0, f), np.ones((4, 2), f))
    with pytest.raises(ValueError, match="same number of dimensions"):
        _C.gemm(np.ones((2, 3, 4), f), np.ones((4, 2), f), np.ones((2, 3, 2), f))


def test_gemm_rejects_output_overlapping_inputs():
    f = np.float32
    buf = np.ones((8, 8), f)
    with pytest.raises(ValueError, match="share memory"):
        # Disjoint elements, but interleaved rows: the byte ranges overlap, which is refused.
        ops.gemm(buf[:4, :4], np.ones((4, 4), f), buf[:4, 4:])
    with pytest.raises(ValueError, match="share memory"):
        _C.gemm(buf, np.ones((8, 8), f), buf)
    # A writable output whose rows alias each other (row stride 0).
    row = np.ones((1, 2), f)
    aliased = np.lib.stride_tricks.as_strided(row, (3, 2), (0, 4), writeable=True)
    with pytest.raises(ValueError, match="zero"):
        _C.gemm(np.ones((3, 4), f), np.ones((4, 2), f), aliased)
