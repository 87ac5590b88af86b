"""float64 GEMM (fastdl.ops.gemm / fastdl.ops.matmul / _C.gemm on float64 numpy arrays).

The float64 products run the same templated C++ kernels as float32 (packing, blocking, the
in-place, narrow, thin and threaded paths), with double micro-kernels (AVX-512 8 x 24, AVX2 6 x 8,
portable 6 x 4) and KC 256 / 192 / 128. Sizes here are chosen against those double blockings:
partial micro-tiles in both directions, k across one and two KC slices, n across NC = 480, m
across MC. References are computed in long double where that is affordable.
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
from gemm_fixtures import simd_path, threads, with_threads  # noqa: F401 (pytest fixtures)

EPS64 = np.finfo(np.float64).eps


def rand(rng, *shape):
    return rng.standard_normal(shape)  # float64


def assert_gemm_close(got, a, b, alpha=1.0, beta=0.0, c0=None):
    """|got - ref| <= 4 sqrt(k) eps64 (|alpha| |A| |B| + |beta C0|) elementwise (rounding errors
    add like a random walk; 4 covers alpha/beta rounding and the largest of many entries). The
    reference is long double (64-bit mantissa on x86) when the product is small enough for
    numpy's non-BLAS loop; otherwise float64 BLAS, whose own error doubles the allowance."""
    assert got.dtype == np.float64
    a, b = np.asarray(a), np.asarray(b)
    work = a.shape[-2] * a.shape[-1] * b.shape[-1] * max(1, int(np.prod(a.shape[:-2])))
    exact = work <= 20_000_000
    wide = np.longdouble if exact else np.float64
    ref = alpha * np.matmul(a.astype(wide), b.astype(wide))
    scale = abs(alpha) * np.matmul(np.abs(a), np.abs(b))
    if c0 is not None and beta != 0:
        ref = ref + beta * np.asarray(c0, wide)
        scale = scale + abs(beta) * np.abs(c0)
    k = a.shape[-1]
    bound = (4.0 if exact else 8.0) * np.sqrt(max(k, 1)) * EPS64 * scale + np.finfo(np.float64).tiny
    err = np.abs(got.astype(wide) - ref).astype(np.float64)
    assert got.shape == ref.shape
    assert np.all(np.isfinite(got))
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), (
        f"max excess at {worst}: err {err[worst]:.3g} > bound {bound[worst]:.3g}")


# (m, n, k): below one tile (1, 7), partial tiles of every double MR/NR (13, 37, 97, 130), k across
# one KC slice (300 > 256) and two (513), n across NC (1100: three 480-column blocks).
SIZES = [(1, 1, 1), (7, 13, 37), (13, 7, 97), (37, 97, 13), (97, 130, 300), (130, 37, 513),
         (513, 97, 130), (9, 1100, 20), (400, 40, 70)]


@pytest.mark.parametrize("m,n,k", SIZES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_sizes_and_transposes(simd_path, threads, m, n, k, trans_a, trans_b):
    rng = np.random.default_rng([m, n, k, trans_a, trans_b])
    a = rand(rng, k, m) if trans_a else rand(rng, m, k)
    b = rand(rng, n, k) if trans_b else rand(rng, k, n)
    got = ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_gemm_close(got, a.T if trans_a else a, b.T if trans_b else b)


@pytest.mark.parametrize("n", [1, 4, 5, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 57])
@pytest.mark.parametrize("trans_b", [False, True])
def test_every_edge_sliver_width(simd_path, n, trans_b):
    # The last column sliver is 1..NR wide (NR = 24 / 8 / 4 doubles by SIMD path): AVX-512 runs it
    # with one, two or three 8-lane vectors and masked C accesses; packing zero-fills past n.
    # beta != 0, so every masked load of C is checked.
    rng = np.random.default_rng([n, trans_b])
    a, c0 = rand(rng, 13, 37), rand(rng, 13, n)
    b = rand(rng, n, 37) if trans_b else rand(rng, 37, n)
    c = c0.copy()
    ops.gemm(a, b, c, alpha=1.5, beta=-0.5, trans_b=trans_b)
    assert_gemm_close(c, a, b.T if trans_b else b, 1.5, -0.5, c0)


@pytest.mark.parametrize("m,n,k", [(9, 9, 1), (13, 9, 7), (9, 24, 64), (37, 113, 100),
                                   (64, 64, 96), (64, 65, 96), (300, 20, 256), (9, 20, 257)])
def test_small_products_read_in_place_match_packed(simd_path, m, n, k):
    # Small products (k <= KC, B <= 48 KiB) with row-major A and B skip packing on the AVX-512
    # and AVX2 paths; through a column-major B (always packed) the same bits must come out, since
    # the order of operations is the same. Reversed rows, padded strides, alpha/beta, and NaN in
    # C under beta == 0 go through both paths.
    rng = np.random.default_rng([m, n, k])
    a = rand(rng, m, k + 3)[::-1, 2:2 + k]
    b = rand(rng, k, n + 5)[:, 1:1 + n]
    c0 = rand(rng, m, n)
    in_place = c0.copy()
    ops.gemm(a, b, in_place, alpha=0.75, beta=1.25)
    packed = c0.copy()
    ops.gemm(a, np.asfortranarray(b), packed, alpha=0.75, beta=1.25)
    np.testing.assert_array_equal(in_place, packed)
    assert_gemm_close(in_place, a, b, 0.75, 1.25, c0)
    nan_c = np.full((m, n), np.nan)
    ops.gemm(a, b, nan_c, beta=0.0)
    assert_gemm_close(nan_c, a, b)


@pytest.mark.parametrize("m,n,k", [(1000, 64, 700), (517, 96, 33), (3001, 17, 600), (70, 1, 600),
                                   (260, 97, 300), (300, 384, 340), (150, 385, 64),
                                   (90, 200, 1000)])
@pytest.mark.parametrize("trans_b", [False, True])
def test_narrow_products_same_bits_on_1_2_3_threads(simd_path, m, n, k, trans_b):
    # n <= 384 with a row-major A and a packed B of at most 1 MiB (131072 doubles): A read in
    # place, B packed over the whole k, row blocks shared out at run time; (300, 384, 340) is
    # just inside, (150, 385, 64) and (90, 200, 1000) just outside (packed path, whose k slices do
    # not depend on the thread count either).
    rng = np.random.default_rng([m, n, k, trans_b])
    a, c0 = rand(rng, m, k), rand(rng, m, n)
    b = rand(rng, n, k).T if trans_b else rand(rng, k, n)
    results = []
    for count in (1, 2, 3):
        c = c0.copy()
        with_threads(count, lambda: ops.gemm(a, b, c, alpha=-0.5, beta=2.0))
        assert_gemm_close(c, a, b, -0.5, 2.0, c0)
        results.append(c)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


@pytest.mark.parametrize("m,n,k", [(20, 500, 600), (64, 700, 512), (7, 390, 1030),
                                   (65, 500, 600)])
def test_small_batch_through_transposed_weight(simd_path, m, n, k):
    # x @ W.T with few rows and a long k runs transposed through the narrow path (C written by
    # columns) when its packed B fits; (65, ...) stays packed. Same bits on 1, 2, 3 threads.
    rng = np.random.default_rng([m, n, k])
    x, w, c0 = rand(rng, m, k), rand(rng, n, k), rand(rng, m, n)
    results = []
    for count in (1, 2, 3):
        c = c0.copy()
        with_threads(count, lambda: ops.gemm(x, w, c, alpha=0.5, beta=-1.0, trans_b=True))
        assert_gemm_close(c, x, w.T, 0.5, -1.0, c0)
        results.append(c)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


@pytest.mark.parametrize("threads_n", [2, 3])
@pytest.mark.parametrize("m,n,k,alpha,beta", [(2085, 613, 530, 0.75, -1.5),
                                              (700, 900, 300, 1.0, 0.0),
                                              (1000, 1000, 520, 1.25, -0.5)])
def test_threads_give_the_bits_of_one_thread(simd_path, threads_n, m, n, k, alpha, beta):
    # Wide products share their columns out at run time (m > MC = 2048 gives two row blocks;
    # k = 530 three KC slices, each chunk waiting for the previous slice of its columns);
    # others run a static grid. Either way bitwise what one thread computes.
    rng = np.random.default_rng([m, n, k])
    a, b, c0 = rand(rng, m, k), rand(rng, k, n), rand(rng, m, n)
    one = with_threads(1, lambda: ops.gemm(a, b, c0.copy(), alpha=alpha, beta=beta))
    many = with_threads(threads_n, lambda: ops.gemm(a, b, c0.copy(), alpha=alpha, beta=beta))
    np.testing.assert_array_equal(many, one)
    assert_gemm_close(many, a, b, alpha, beta, c0)


@pytest.mark.parametrize("m,n,k", [(1, 4096, 300), (3000, 1, 257), (4, 2048, 700),
                                   (2048, 6, 700), (8, 1500, 513), (1, 1, 20000)])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_thin_products_same_bits_on_1_2_3_threads(simd_path, m, n, k, layout):
    # m or n <= 8: the big operand is streamed once (dot or weighted-rows form by its layout),
    # threads splitting the outputs on fixed boundaries, so the bits do not depend on them.
    rng = np.random.default_rng([m, n, k])
    a = np.asarray(rand(rng, m, k), order=layout)
    b = np.asarray(rand(rng, k, n), order=layout)
    c0 = rand(rng, m, n)
    results = []
    for count in (1, 2, 3):
        c = c0.copy()
        with_threads(count, lambda: ops.gemm(a, b, c, alpha=2.0, beta=0.5))
        assert_gemm_close(c, a, b, 2.0, 0.5, c0)
        results.append(c)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_large_crosses_every_block_edge(simd_path, threads):
    # m > MC (2048), n > NC (480), k > 2 KC (256 on AVX-512), no dimension a multiple of a tile.
    rng = np.random.default_rng(7)
    a, b = rand(rng, 2101, 533), rand(rng, 533, 501)
    assert_gemm_close(ops.gemm(a, b), a, b)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, -2.0), (-1.5, 0.0), (1 / 3, 0.1)])
def test_alpha_beta_keep_double_precision(simd_path, threads, alpha, beta):
    # 1/3 and 0.1 are not floats: a float-rounded alpha or beta would miss by ~1e-8 relative.
    rng = np.random.default_rng(3)
    a, b, c0 = rand(rng, 37, 300), rand(rng, 300, 45), rand(rng, 37, 45)
    c = c0.copy()
    out = ops.gemm(a, b, c, alpha=alpha, beta=beta)
    assert out is c
    assert_gemm_close(c, a, b, alpha, beta, c0)


def test_beta_zero_never_reads_c(simd_path, threads):
    rng = np.random.default_rng(4)
    for m, n, k in [(29, 70, 270), (13, 1, 40), (1, 50, 9), (300, 40, 600), (130, 97, 513)]:
        a, b = rand(rng, m, k), rand(rng, k, n)
        c = np.full((m, n), np.nan)
        ops.gemm(a, b, c, alpha=1.0, beta=0.0)
        assert_gemm_close(c, a, b)
    c = np.full((29, 70), np.inf)
    ops.gemm(np.empty((29, 0)), np.empty((0, 70)), c, beta=0.0)  # k == 0: C = 0, still unread
    assert np.all(c == 0)


def test_alpha_zero_and_empty(simd_path):
    rng = np.random.default_rng(5)
    a, b, c0 = rand(rng, 5, 6), rand(rng, 6, 7), rand(rng, 5, 7)
    c = c0.copy()
    ops.gemm(a, b, c, alpha=0.0, beta=3.0)
    np.testing.assert_array_equal(c, 3.0 * c0)
    assert ops.gemm(np.empty((0, 3)), rand(rng, 3, 5)).shape == (0, 5)
    z = ops.gemm(np.empty((4, 0)), np.empty((0, 5)))
    assert z.dtype == np.float64 and z.shape == (4, 5) and np.all(z == 0)


def test_strided_negative_and_zero_stride_views(simd_path, threads):
    rng = np.random.default_rng(9)
    base_a, base_b = rand(rng, 90, 130), rand(rng, 100, 90)
    views_a = [base_a[::2, 1::3][:, :40], base_a[::-1, 5:45], base_a[:40, ::-3].T,
               np.broadcast_to(rand(rng, 1, 40), (35, 40))]
    views_b = [base_b[1::2, ::3][:40], base_b[::-1, ::-1][:40], base_b[:33, :40].T,
               np.broadcast_to(rand(rng, 40, 1), (40, 50))]
    for a in views_a:
        for b in views_b:
            assert_gemm_close(ops.gemm(a, b), a, b)


def test_strided_and_column_major_output(simd_path, threads):
    rng = np.random.default_rng(11)
    a, b = rand(rng, 33, 70), rand(rng, 70, 45)
    big = np.full((66, 135), 7.0)
    c = big[::2, ::3]  # non-unit column stride: the micro-kernel's general store
    ops.gemm(a, b, c)
    assert_gemm_close(c, a, b)
    untouched = big.copy()
    untouched[::2, ::3] = 7.0
    assert np.all(untouched == 7.0)
    ct = np.full((45, 33), 2.0).T  # column-major output
    ops.gemm(a, b, ct, beta=0.5)
    assert_gemm_close(ct, a, b, 1.0, 0.5, np.full((33, 45), 2.0))


@pytest.mark.parametrize("batch,m,n,k", [(64, 8, 8, 8), (3, 130, 70, 300), (2, 33, 33, 1),
                                         (6, 97, 13, 37)])
def test_batches_strided_and_broadcast(simd_path, threads, batch, m, n, k):
    rng = np.random.default_rng([batch, m, n, k])
    a, b = rand(rng, batch, m, k), rand(rng, batch, k, n)
    assert_gemm_close(ops.matmul(a, b), a, b)
    # Reversed, stepped and broadcast (stride 0) batch strides, and a padded output batch stride.
    a3 = rand(rng, 2 * batch, m, k)[::-2]
    b3 = np.broadcast_to(rand(rng, k, n), (batch, k, n))
    out = np.zeros((batch, m + 3, n))[:, 1:1 + m]
    ops.gemm(a3, b3, out)
    assert_gemm_close(out, a3, b3)
    # Two batch dimensions (the pointer-array batch) with transposes.
    at, bt = rand(rng, 2, batch, k, m), rand(rng, 2, batch, n, k)
    got = ops.gemm(at, bt, trans_a=True, trans_b=True)
    assert_gemm_close(got, np.swapaxes(at, -1, -2), np.swapaxes(bt, -1, -2))


def test_matmul_numpy_semantics(simd_path):
    rng = np.random.default_rng(13)
    cases = [(rand(rng, 7), rand(rng, 7)), (rand(rng, 7), rand(rng, 7, 5)),
             (rand(rng, 4, 7), rand(rng, 7)), (rand(rng, 3, 4, 7), rand(rng, 7)),
             (rand(rng, 2, 1, 4, 7), rand(rng, 3, 7, 5)), (rand(rng, 4, 7), rand(rng, 6, 7, 5)),
             (rand(rng, 5, 9).T, rand(rng, 5, 6))]
    for a, b in cases:
        got = ops.matmul(a, b)
        ref = np.matmul(a, b)
        assert np.shape(got) == ref.shape and np.asarray(got).dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13 * np.sqrt(a.shape[-1]))


def test_matches_torch_float64_accuracy(simd_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    a, b = rand(rng, 3, 65, 530), rand(rng, 530, 47)
    exact = np.matmul(a.astype(np.longdouble), b.astype(np.longdouble))
    ours = np.abs(ops.matmul(a, b) - exact).max()
    theirs = np.abs(torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy() - exact).max()
    assert ours <= 2.0 * theirs + 1e-15


FORCED_PATH_SCRIPT = textwrap.dedent("""
    import numpy as np, fastdl
    from fastdl import _C, ops
    assert _C.simd_path() == "{path}", _C.simd_path()
    rng = np.random.default_rng(21)
    for threads in (1, 2, 3):
        fastdl.set_num_threads(threads)
        for m, n, k in [(1, 1, 1), (13, 37, 7), (97, 130, 513), (600, 97, 300), (8, 700, 300),
                        (37, 513, 600), (1000, 64, 700)]:
            for ta in (False, True):
                for tb in (False, True):
                    a = rng.standard_normal((k, m) if ta else (m, k))
                    b = rng.standard_normal((n, k) if tb else (k, n))
                    c0 = rng.standard_normal((m, n))
                    c = np.full((m, n), np.nan)
                    ops.gemm(a, b, c, trans_a=ta, trans_b=tb)
                    ref = (a.T if ta else a) @ (b.T if tb else b)
                    scale = np.abs(a.T if ta else a) @ np.abs(b.T if tb else b)
                    assert np.all(np.abs(c - ref) <= 8 * np.sqrt(k) * 2.3e-16 * scale), (m, n, k)
                    c = c0.copy()
                    ops.gemm(a, b, c, alpha=-0.5, beta=1 / 3, trans_a=ta, trans_b=tb)
                    want = -0.5 * ref + c0 / 3
                    assert np.all(np.abs(c - want) <= 8 * np.sqrt(k) * 2.3e-16
                                  * (0.5 * scale + np.abs(c0))), (m, n, k, "alpha/beta")
    print("ok")
""")


@pytest.mark.parametrize("path", ["avx2", "scalar"])
def test_forced_simd_path_in_a_fresh_process(path):
    # FASTDL_SIMD picks the kernel set when the module loads: the double kernels of the forced
    # path (AVX2 6 x 8, portable 6 x 4) run every product kind on 1-3 threads.
    if path not in _C.available_simd_paths():
        pytest.skip(f"{path} not supported on this CPU")
    env = dict(os.environ, FASTDL_SIMD=path)
    out = subprocess.run([sys.executable, "-c", FORCED_PATH_SCRIPT.format(path=path)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_fewer_openmp_threads_than_asked():
    # OMP_THREAD_LIMIT=1: OpenMP grants one thread where two are asked; every part of C must
    # still be computed (static grid, run-time columns, narrow row blocks, thin outputs).
    script = textwrap.dedent("""
        import numpy as np, fastdl
        fastdl.set_num_threads(2)
        rng = np.random.default_rng(17)
        for m, n, order in [(3000, 40, "F"), (1500, 900, "F"), (900, 1500, "C"), (1, 5000, "C")]:
            a = np.asarray(rng.standard_normal((m, 300)), order=order)
            b = rng.standard_normal((300, n))
            assert np.abs(fastdl.ops.gemm(a, b) - a @ b).max() < 1e-11
    """)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)


def test_float64_peak_and_microkernel_are_measured():
    # A double vector holds half the lanes of a float one: the fp64 FMA peak is about half the
    # fp32 one (measured, never assumed), and the double micro-kernel is FMA-bound below it.
    path = _C.available_simd_paths()[0]
    for _ in range(4):
        p32 = max(_C.measure_peak_gflops(path, 1, 0.1) for _ in range(3))
        p64 = max(_C.measure_peak_gflops(path, 1, 0.1, "float64") for _ in range(3))
        kernel = min(_C.measure_microkernel_gflops(path, 1, 0.1, "float64") for _ in range(3))
        if 0.35 * p32 <= p64 <= 0.65 * p32 and 0.1 < kernel <= 1.1 * p64:
            return
    pytest.fail(f"fp32 peak {p32:.1f}, fp64 peak {p64:.1f}, fp64 micro-kernel {kernel:.1f}")


def test_peak_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="float32' or 'float64'.*float16"):
        _C.measure_peak_gflops("", 1, 0.01, "float16")


# ---- bad input -------------------------------------------------------------------------------


def test_mixed_dtypes_raise_type_error_naming_them():
    f32, f64 = np.float32, np.float64
    with pytest.raises(TypeError, match=r"same dtype.*a float64 \(3, 4\), b float32 \(4, 2\)"):
        ops.gemm(np.ones((3, 4), f64), np.ones((4, 2), f32))
    with pytest.raises(TypeError, match=r"same dtype.*c float32"):
        ops.gemm(np.ones((3, 4), f64), np.ones((4, 2), f64), np.ones((3, 2), f32))
    with pytest.raises(TypeError, match=r"same dtype.*a float32.*b float64"):
        ops.matmul(np.ones((2, 3, 4), f32), np.ones((4, 2), f64))
    with pytest.raises(TypeError, match=r"same dtype.*b float32 \(4, 2\), out float64"):
        _C.gemm(np.ones((3, 4), f64), np.ones((4, 2), f32), np.ones((3, 2), f64))
    with pytest.raises(TypeError, match=r"must be float32 or float64, got int32"):
        _C.gemm(np.ones((3, 4), f64), np.ones((4, 2), f64), np.ones((3, 2), np.int32))
    c = np.full((3, 2), 7.0)
    with pytest.raises(TypeError):
        ops.gemm(np.ones((3, 4), f32), np.ones((4, 2), f32), c)
    assert np.all(c == 7.0)  # nothing written before the complaint


def test_wrong_shapes_raise_value_error():
    f = np.float64
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        ops.gemm(np.ones((3, 4), f), np.ones((5, 2), f))
    with pytest.raises(ValueError, match=r"c has shape \(3, 3\)"):
        ops.gemm(np.ones((3, 4), f), np.ones((4, 2), f), np.ones((3, 3), f))
    with pytest.raises(ValueError, match="shapes do not agree"):
        _C.gemm(np.ones((3, 4), f), np.ones((5, 2), f), np.ones((3, 2), f))
    with pytest.raises(ValueError, match="broadcast"):
        ops.matmul(np.ones((2, 3, 4), f), np.ones((3, 4, 2), f))
    with pytest.raises(ValueError, match="share memory"):
        buf = np.ones((8, 8), f)
        _C.gemm(buf, np.ones((8, 8), f), buf)


def test_gradcheck_products_run_the_gemm_kernel(monkeypatch):
    # gradcheck works in float64: matmul and linear, forward and backward (transposes as
    # strides), must reach _C.gemm with float64 arrays, never numpy's matmul.
    from fastdl.nn import functional as F
    from fastdl.testing import gradcheck

    rng = np.random.default_rng(31)
    x = fastdl.tensor(rng.standard_normal((5, 7)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((3, 7)), requires_grad=True)
    bias = fastdl.tensor(rng.standard_normal(3), requires_grad=True)
    y = fastdl.tensor(rng.standard_normal((7, 4)), requires_grad=True)
    real_gemm, dtypes = _C.gemm, []

    def recording_gemm(a, b, out, alpha=1.0, beta=0.0):
        dtypes.append(out.dtype)
        return real_gemm(a, b, out, alpha, beta)

    def no_numpy_matmul(*args, **kwargs):
        raise AssertionError("a float64 product fell back to numpy's matmul")

    monkeypatch.setattr(_C, "gemm", recording_gemm)
    monkeypatch.setattr(np, "matmul", no_numpy_matmul)
    assert gradcheck(lambda a, b: fastdl.matmul(a, b), (x, y))
    assert gradcheck(lambda a, b, c: F.linear(a, b, c), (x, w, bias))
    assert dtypes and all(dt == np.float64 for dt in dtypes)
    for product in (lambda: F.linear(x, w, bias), lambda: F.linear(x, w), lambda: x @ y,
                    lambda: fastdl.nn.Linear(7, 3).double()(x)):
        dtypes.clear()  # the forward itself (not only the gradients) is one kernel call
        product()
        assert dtypes == [np.float64]
