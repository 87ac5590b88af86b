"""The CUDA kernels run on the CPU by the CUDA emulator (fastdl._C_cudaemu), checked against float64
numpy and fastdl's CPU kernels, plus the emulator's own features: warp shuffles, atomics, barriers,
dynamic shared memory poisoning, schedules, and error reports instead of hangs.

The emulator module is built by default, so nothing here skips. Emulation is slow: sizes are small.
"""
import platform

import numpy as np
import pytest

import fastdl
from fastdl import ops
from gemm_cases import assert_close, operand_layouts, output_layouts, rand, reference_gemm

emu = fastdl.cuda.emulator()

# At least two schedules for every kernel check: index order, and one warp at a time between
# barriers (no lockstep warps to hide a missing barrier).
SCHEDULES = ("forward", "warp_at_a_time")


# ---------------------------------------------------------------------------------------------
# SGEMM

@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 7, 7), (1, 33, 7), (33, 1, 65), (65, 97, 31),
                                   (129, 130, 9), (5, 3, 0)])
def test_gemm_matches_float64_and_cpu_kernel(m, n, k, schedule):
    rng = np.random.default_rng([m, n, k])
    a, b = rand(rng, m, k), rand(rng, k, n)
    out = np.full((m, n), np.nan, np.float32)  # beta == 0 must never read it
    emu.gemm(a, b, out, schedule=schedule)
    assert_close(out, reference_gemm(a, b, None, 1.0, 0.0), k)
    if k > 0:
        assert_close(out, ops.gemm(a, b), k)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("m,n,k", [(65, 97, 33), (20, 36, 32)])
def test_gemm_operand_layouts_and_transposes(m, n, k, schedule):
    rng = np.random.default_rng([m, n, k, 1])
    for name, a, b in operand_layouts(rng, m, n, k):
        out = np.empty((m, n), np.float32)
        emu.gemm(a, b, out, schedule=schedule)
        assert_close(out, reference_gemm(a, b, None, 1.0, 0.0), k, msg=name)
    # trans_a / trans_b through fastdl.ops.gemm semantics: strided views, no copies.
    at, bt = rand(rng, k, m), rand(rng, n, k)
    out = np.empty((m, n), np.float32)
    emu.gemm(at.T, bt.T, out, schedule=schedule)
    assert_close(out, ops.gemm(at, bt, trans_a=True, trans_b=True), k)


def test_gemm_output_layouts():
    rng = np.random.default_rng(7)
    m, n, k = 33, 45, 19
    a, b = rand(rng, m, k), rand(rng, k, n)
    want = reference_gemm(a, b, None, 1.0, 0.0)
    for out in output_layouts(m, n):
        emu.gemm(a, b, out, schedule="random", seed=11)
        assert_close(out, want, k)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_gemm_alpha_beta(schedule):
    rng = np.random.default_rng(3)
    m, n, k = 37, 41, 23
    a, b, c = rand(rng, m, k), rand(rng, k, n), rand(rng, m, n)
    out = c.copy()
    emu.gemm(a, b, out, alpha=-2.0, beta=0.5, schedule=schedule)
    assert_close(out, reference_gemm(a, b, c, -2.0, 0.5), k)
    expected_cpu = c.copy()
    ops.gemm(a, b, expected_cpu, alpha=-2.0, beta=0.5)
    assert_close(out, expected_cpu, k)
    # alpha = 0, beta = 1 leaves C exactly as it was.
    out = c.copy()
    emu.gemm(a, b, out, alpha=0.0, beta=1.0, schedule=schedule)
    np.testing.assert_array_equal(out, c)
    # beta = 0 overwrites NaN and inf.
    out = np.full((m, n), np.nan, np.float32)
    out[0, 0] = np.inf
    emu.gemm(a, b, out, alpha=0.25, beta=0.0, schedule=schedule)
    assert np.isfinite(out).all()
    assert_close(out, reference_gemm(a, b, None, 0.25, 0.0), k)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_gemm_batched_with_broadcast_and_strided_batches(schedule):
    rng = np.random.default_rng(5)
    m, n, k = 9, 70, 13
    a = rand(rng, 3, 2, m, k)
    b = np.broadcast_to(rand(rng, 1, 2, k, n), (3, 2, k, n))  # stride 0 along the first dim
    out = np.full((2, 3, m, n), np.nan, np.float32).transpose(1, 0, 2, 3)  # non-contiguous batch
    emu.gemm(a, b, out, schedule=schedule)
    assert_close(out, reference_gemm(a, b, None, 1.0, 0.0), k)
    assert_close(out, ops.gemm(a, np.ascontiguousarray(b)), k)


def test_gemm_more_batch_dims_than_one_launch_addresses():
    # Six batch dimensions that cannot be merged: the launcher loops over the outer ones.
    rng = np.random.default_rng(6)
    m, n, k = 5, 6, 7
    shape = (2, 3, 2, 2, 3, 2)
    a = np.moveaxis(rand(rng, *shape[::-1], m, k), range(6), range(5, -1, -1))
    b = rand(rng, *shape, k, n)
    out = np.empty(shape + (m, n), np.float32)
    emu.gemm(a, b, out, schedule="random", seed=2)
    assert_close(out, reference_gemm(a, b, None, 1.0, 0.0), k)


def test_gemm_random_schedules_agree():
    rng = np.random.default_rng(8)
    a, b = rand(rng, 40, 30), rand(rng, 30, 50)
    results = []
    for seed in (1, 2):
        out = np.empty((40, 50), np.float32)
        emu.gemm(a, b, out, schedule="random", seed=seed)
        results.append(out)
    out = np.empty((40, 50), np.float32)
    emu.gemm(a, b, out, schedule="reverse", workers=1)
    results.append(out)
    for r in results:  # same per-thread arithmetic whatever the order: bitwise equal
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("schedule", ["warp_at_a_time", "random"])
def test_missing_barrier_race_is_caught(schedule):
    """Without the barrier between a k-tile's reads and the next tile's writes, some warp reads
    the next tile's values: a schedule without lockstep warps must produce a wrong product."""
    rng = np.random.default_rng(9)
    m, n, k = 65, 97, 33  # several k-tiles of 8
    a, b = rand(rng, m, k), rand(rng, k, n)
    want = reference_gemm(a, b, None, 1.0, 0.0)
    broken = np.empty((m, n), np.float32)
    emu.gemm_missing_barrier_for_test(a, b, broken, schedule=schedule, seed=4)
    assert np.abs(broken - want).max() > 1e-2
    fixed = np.empty((m, n), np.float32)
    emu.gemm(a, b, fixed, schedule=schedule, seed=4)
    assert_close(fixed, want, k)


def test_gemm_bad_input():
    a, b = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    out = np.empty((4, 5), np.float32)
    with pytest.raises(TypeError, match=r"same dtype.*a float64 \(4, 3\), b float32"):
        emu.gemm(a.astype(np.float64), b, out)
    with pytest.raises(TypeError, match="must be float32 or float64, got int32"):
        emu.gemm(a, b, np.zeros((4, 5), np.int32))
    with pytest.raises(TypeError):
        emu.gemm(a.tolist(), b, out)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 5\).*\(4, 5\)"):
        emu.gemm(a, np.ones((4, 5), np.float32), out)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        emu.gemm(np.ones(3, np.float32), b, out)
    with pytest.raises(ValueError, match="same number of dimensions"):
        emu.gemm(a[None], b, out)
    with pytest.raises(ValueError, match="share memory"):
        emu.gemm(out[:, :3], b, out[:, :5])
    with pytest.raises(ValueError, match="broadcast"):
        out_broadcast = np.lib.stride_tricks.as_strided(out, (2, 4, 5), (0,) + out.strides)
        emu.gemm(a[None].repeat(2, 0), b[None].repeat(2, 0), out_broadcast)
    with pytest.raises(ValueError, match="unknown schedule 'sideways'"):
        emu.gemm(a, b, out, schedule="sideways")
    emu.gemm(np.ones((0, 3), np.float32), b, np.empty((0, 5), np.float32))  # empty: no-op


# ---------------------------------------------------------------------------------------------
# DGEMM: the same kernel source instantiated for double (two double2 per four-element load, 16 KiB
# of shared tiles), checked against long double and fastdl's CPU float64 kernels.

EPS64 = np.finfo(np.float64).eps


def assert_close64(got, a, b, alpha=1.0, beta=0.0, c0=None, msg=""):
    """|got - exact| <= 4 sqrt(k) eps64 (|alpha| |A| |B| + |beta C0|), exact in long double."""
    assert got.dtype == np.float64
    wide = np.longdouble
    exact = alpha * np.matmul(np.asarray(a, wide), np.asarray(b, wide))
    scale = abs(alpha) * np.matmul(np.abs(a), np.abs(b))
    if beta != 0:
        exact = exact + beta * np.asarray(c0, wide)
        scale = scale + abs(beta) * np.abs(c0)
    k = np.shape(a)[-1]
    bound = 4.0 * np.sqrt(max(k, 1)) * EPS64 * scale + np.finfo(np.float64).tiny
    err = np.abs(np.asarray(got, wide) - exact).astype(np.float64)
    assert np.all(err <= bound), f"{msg}: max err {err.max():.3g}, bound there {bound.flat[err.argmax()]:.3g}"


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 13, 37), (33, 1, 65), (65, 97, 31),
                                   (129, 130, 9)])
def test_dgemm_matches_long_double_and_cpu_kernel(m, n, k, schedule):
    rng = np.random.default_rng([m, n, k, 64])
    a, b = rand(rng, m, k, dtype=np.float64), rand(rng, k, n, dtype=np.float64)
    out = np.full((m, n), np.nan)  # beta == 0 must never read it
    emu.gemm(a, b, out, schedule=schedule)
    assert_close64(out, a, b)
    cpu = ops.gemm(a, b)
    assert cpu.dtype == np.float64
    # Two roundings of the same exact sum, each within 4 sqrt(k) eps64 of the terms' scale.
    assert np.all(np.abs(out - cpu) <= 8 * np.sqrt(k) * EPS64 * (np.abs(a) @ np.abs(b)))


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_dgemm_operand_layouts_alpha_beta_and_batches(schedule):
    rng = np.random.default_rng(64)
    m, n, k = 65, 97, 33
    for name, a, b in operand_layouts(rng, m, n, k, dtype=np.float64):
        out = np.empty((m, n))
        emu.gemm(a, b, out, schedule=schedule)
        assert_close64(out, a, b, msg=name)
    # alpha and beta that a float would round (1/3, 0.1), onto a column-major and a vector C.
    a, b = rand(rng, m, k, dtype=np.float64), rand(rng, k, n, dtype=np.float64)
    c0 = rand(rng, m, n, dtype=np.float64)
    for out in (c0.copy(), np.asfortranarray(c0)):
        emu.gemm(a, b, out, alpha=1 / 3, beta=0.1, schedule=schedule)
        assert_close64(out, a, b, 1 / 3, 0.1, c0)
    # Batches: a broadcast (stride 0) operand and a non-contiguous batch of outputs.
    a4 = rand(rng, 3, 2, 9, 13, dtype=np.float64)
    b4 = np.broadcast_to(rand(rng, 1, 2, 13, 70, dtype=np.float64), (3, 2, 13, 70))
    out = np.full((2, 3, 9, 70), np.nan).transpose(1, 0, 2, 3)
    emu.gemm(a4, b4, out, schedule=schedule)
    assert_close64(out, a4, b4)


def test_dgemm_missing_barrier_race_is_caught():
    # The double tiles are synchronised like the float ones: without the barrier, a schedule
    # without lockstep warps reads the next k-tile's values.
    rng = np.random.default_rng(9)
    a, b = rand(rng, 65, 33, dtype=np.float64), rand(rng, 33, 97, dtype=np.float64)
    broken = np.empty((65, 97))
    emu.gemm_missing_barrier_for_test(a, b, broken, schedule="warp_at_a_time", seed=4)
    assert np.abs(broken - a @ b).max() > 1e-2


# ---------------------------------------------------------------------------------------------
# Emulator features

@pytest.mark.parametrize("schedule", ["forward", "reverse", "random", "warp_at_a_time"])
def test_warp_shuffles(schedule):
    x = np.random.default_rng(10).standard_normal(150).astype(np.float32)
    got = emu.shuffle_patterns(x, schedule=schedule, seed=1)
    xp = np.zeros(192, np.float32)  # blocks of 64: lanes past the end contribute 0
    xp[:150] = x
    i = np.arange(150)
    lane, base = i % 32, i - i % 32
    want = np.stack([
        xp[base + 5],
        np.where(lane + 3 < 32, xp[np.minimum(i + 3, 191)], xp[i]),
        np.where(lane >= 2, xp[i - 2], xp[i]),
        xp[base + (lane ^ 9)],
        np.where((lane % 8) + 1 < 8, xp[np.minimum(i + 1, 191)], xp[i]),
    ], axis=1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_block_reduction_with_shuffles_and_shared_memory(schedule):
    x = np.random.default_rng(11).standard_normal(300).astype(np.float32)
    got = emu.block_sums(x, schedule=schedule)
    want = [x[i:i + 128].astype(np.float64).sum() for i in range(0, 300, 128)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("schedule", ["forward", "random"])
def test_atomics(schedule):
    rng = np.random.default_rng(12)
    values = rng.integers(0, 37, size=1000).astype(np.int32)
    np.testing.assert_array_equal(emu.histogram(values, 37, schedule=schedule, seed=5, workers=2),
                                  np.bincount(values, minlength=37))
    x = rng.standard_normal(777).astype(np.float32)
    assert emu.atomic_sum(x, schedule=schedule, workers=2) == pytest.approx(x.astype(np.float64).sum(), abs=1e-3)
    with pytest.raises(ValueError, match="outside"):
        emu.histogram(np.array([0, 40], np.int32), 37)


def test_dynamic_shared_memory_is_poisoned_for_every_block():
    # One worker runs the blocks in turn; each block scribbles over the memory before it exits.
    snap = emu.dynamic_shared_snapshot(5, 70, workers=1)
    assert snap.shape == (5, 70) and np.isnan(snap).all()
    assert np.isnan(emu.dynamic_shared_snapshot(2, 3)).all()  # and at every launch


@pytest.mark.parametrize("schedule", ["forward", "random", "warp_at_a_time"])
def test_static_shared_memory_is_poisoned_for_every_block(schedule):
    # Each block snapshots its static __shared__ arrays before writing them, then fills them with
    # numbers: a block that found its predecessor's numbers (or a fresh worker's zeros) was not
    # re-poisoned.
    for workers in (1, 2):
        floats, ints, doubles = emu.static_shared_snapshot(5, 256, schedule=schedule, seed=3,
                                                            workers=workers)
        assert floats.shape == ints.shape == doubles.shape == (5, 256)
        assert (floats.view(np.uint32) == 0x7FC0DEAD).all()
        assert (ints.view(np.uint32) == 0xDEADBEEF).all()
        assert np.isnan(doubles).all()
    # And at the next launch on the same (calling) thread.
    floats, ints, doubles = emu.static_shared_snapshot(2, 7, schedule=schedule, workers=1)
    assert np.isnan(floats).all() and (ints.view(np.uint32) == 0xDEADBEEF).all() and np.isnan(doubles).all()
    with pytest.raises(ValueError, match="words <= 256"):
        emu.static_shared_snapshot(1, 257)


def test_reports_the_fiber_switch_it_uses():
    # fiber.cpp switches with assembly on x86-64 and with swapcontext elsewhere.
    expected = "x86-64 assembly" if platform.machine().lower() in ("x86_64", "amd64") else "ucontext"
    assert emu.fibers == expected


def test_schedules_order_threads_and_barrier_holds():
    n = 70
    forward = emu.execution_order(n, schedule="forward")
    np.testing.assert_array_equal(forward[:, 0], np.arange(n))
    np.testing.assert_array_equal(emu.execution_order(n, schedule="reverse")[:, 0], np.arange(n)[::-1])
    r1 = emu.execution_order(n, schedule="random", seed=1)
    assert sorted(r1[:, 0]) == list(range(n)) and not (r1[:, 0] == np.arange(n)).all()
    np.testing.assert_array_equal(r1, emu.execution_order(n, schedule="random", seed=1))
    assert not (r1 == emu.execution_order(n, schedule="random", seed=2)).all()
    for schedule in ("forward", "reverse", "random", "warp_at_a_time"):
        order = emu.execution_order(n, schedule=schedule, seed=3)
        assert order[:, 0].max() < order[:, 1].min()  # nobody passes __syncthreads early


@pytest.mark.parametrize("schedule", ["forward", "reverse", "random", "warp_at_a_time"])
def test_static_shared_memory_through_a_barrier(schedule):
    x = np.random.default_rng(13).standard_normal(100).astype(np.float32)
    np.testing.assert_array_equal(emu.rotate_through_shared(x, schedule=schedule, seed=9), np.roll(x, -1))


@pytest.mark.parametrize("schedule", ["forward", "random"])
def test_barrier_not_reached_by_all_threads_raises(schedule):
    with pytest.raises(RuntimeError, match="deadlock.*not reached by every thread"):
        emu.divergent_barrier_for_test(64, schedule=schedule)


def test_warp_collective_deadlock_raises():
    with pytest.raises(RuntimeError, match=r"deadlock.*Warp 0: lanes 0x1 wait for lanes 0xfffffffe"):
        emu.warp_collective_deadlock_for_test()


def test_warp_collective_excluding_the_caller_raises():
    # The error is thrown inside a fiber and must unwind there, then surface as RuntimeError.
    with pytest.raises(RuntimeError, match="lane 0 of warp 0.*mask 0x2 that excludes it"):
        emu.warp_mask_excludes_caller_for_test()


def test_invalid_launch_configuration_raises():
    with pytest.raises(RuntimeError, match="invalid launch configuration.*1025 threads"):
        emu.rotate_through_shared(np.zeros(1025, np.float32))
    with pytest.raises(ValueError, match="workers"):
        emu.block_sums(np.zeros(4, np.float32), workers=-1)
