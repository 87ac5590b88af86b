"""The CUDA flash-attention kernels (csrc/cuda/attention) run by the emulator against the CPU
kernels: odd lengths (L = 1, 17, 130) and head dims (32, 64, 80, 128), masks, causal, GQA,
float32 and float64; several query and key tiles (64 rows in float, 32 in double) with
value dims unlike the key dims; under two schedules (reverse thread order; one warp at a time between
barriers, which exposes a missing barrier around the shared key/value tiles)."""
import itertools

import numpy as np
import pytest

from fastdl import _C

emu = pytest.importorskip("fastdl._C_cudaemu")

SCHEDULES = ["reverse", "warp_at_a_time"]


def _run(mod, q, k, v, g, mask, causal, grad_mask, **kw):
    out = np.empty(q.shape[:-1] + (v.shape[-1],), q.dtype)
    lse = np.empty(q.shape[:-1], q.dtype)
    mod.attention_forward(q, k, v, out, lse, mask, causal, 0.37, **kw)
    grads = [np.empty_like(x) for x in (q, k, v)]
    gm = np.empty(q.shape[:-1] + (k.shape[-2],), q.dtype) if grad_mask else None
    mod.attention_backward(q, k, v, out, lse, g, *grads, mask, causal, 0.37, gm, **kw)
    return [out, lse, *grads] + ([gm] if grad_mask else [])


CASES = [(L, D, kind) for (L, D), kind in zip(itertools.product([1, 17, 130], [32, 64, 80, 128]),
                                               itertools.cycle(["causal", "bool", "additive",
                                                                None, "gqa"]))]


def attention_inputs(rng, batch, L, S, D, Dv, kind, dtype, mask_scale=1.0):
    """(q, k, v, grad_out, mask), causal, grad_mask for one case; `kind` is None, "causal",
    "bool" (one row with no key), "additive" (with its gradient) or "gqa" (4 query heads on 2)."""
    hq, hk = (4, 2) if kind == "gqa" else (2, 2)
    q = rng.standard_normal((batch, hq, L, D)).astype(dtype)
    k = rng.standard_normal((batch, hk, S, D)).astype(dtype)
    v = rng.standard_normal((batch, hk, S, Dv)).astype(dtype)
    g = rng.standard_normal((batch, hq, L, Dv)).astype(dtype)
    mask = None
    if kind == "bool":
        m = rng.random((L, S)) > 0.3
        m[L // 2] = False  # a row with no key: zero output and gradients
        mask = np.broadcast_to(m, (batch, hq, L, S))
    elif kind == "additive":
        m = mask_scale * rng.standard_normal((hq, L, S))
        mask = np.broadcast_to(m.astype(dtype), (batch, hq, L, S))
    return (q, k, v, g, mask), kind == "causal", kind == "additive"


def assert_results_close(got, want, **tol):
    for name, a, b in zip(["out", "lse", "dq", "dk", "dv", "dmask"], got, want):
        np.testing.assert_allclose(a, b, err_msg=name, **tol)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("L,D,kind", CASES, ids=[f"L{l}-D{d}-{k}" for l, d, k in CASES])
def test_emulated_cuda_kernels_match_cpu(L, D, kind, schedule):
    dtype = np.float64 if D == 80 else np.float32
    S = 17 if L == 130 else L + 3
    args, causal, grad_mask = attention_inputs(np.random.default_rng(L * 7 + D), 1, L, S, D, D,
                                               kind, dtype)
    ref = _run(_C, *args, causal, grad_mask)
    got = _run(emu, *args, causal, grad_mask, schedule=schedule, seed=3)
    # float32: two implementations with different summation orders and exponentials (the CPU
    # forward's exp2 polynomial); the key gradient sums up to 130 rows' terms of size ~5.
    tol = dict(rtol=5e-5, atol=5e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert_results_close(got, ref, **tol)


# Several key tiles (the online softmax rescales across tiles), tails on both axes, causal with a
# diagonal crossing tiles, value dims unlike key dims, and both padded head dims (64, 128).
TILED = [  # L, S, D, Dv, kind, dtype
    (130, 150, 64, 64, None, np.float32),
    (130, 130, 48, 48, "causal", np.float32),
    (70, 200, 64, 32, "bool", np.float32),
    (40, 140, 32, 80, "additive", np.float32),
    (65, 129, 96, 96, "gqa", np.float64),
    (100, 100, 64, 64, "causal", np.float64),
    (66, 97, 128, 128, "causal", np.float32),
]
TILED_IDS = [f"L{c[0]}-S{c[1]}-D{c[2]}-Dv{c[3]}-{c[4]}-{np.dtype(c[5]).name}" for c in TILED]
# float32: the additive mask (scale 3) puts scores ~15 apart within a row
TILED_TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-11, atol=1e-11)}


def tiled_inputs(L, S, D, Dv, kind, dtype):
    return attention_inputs(np.random.default_rng([L, S, D, Dv]), 2, L, S, D, Dv, kind, dtype,
                            mask_scale=3.0)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("L,S,D,Dv,kind,dtype", TILED, ids=TILED_IDS)
def test_emulated_cuda_kernels_match_cpu_across_tiles(L, S, D, Dv, kind, dtype, schedule):
    args, causal, grad_mask = tiled_inputs(L, S, D, Dv, kind, dtype)
    ref = _run(_C, *args, causal, grad_mask)
    got = _run(emu, *args, causal, grad_mask, schedule=schedule, seed=5)
    assert_results_close(got, ref, **TILED_TOL[dtype])


def finite_mask_extremes_case(dtype):
    """Inputs whose rows 5 and 6 have keys a finfo.min mask removes (all / every other one), and
    row 7 keys a -inf mask removes (all)."""
    rng = np.random.default_rng(8)
    L, S, D = 70, 90, 64
    q, k, v, g = (rng.standard_normal((1, 2, n, D)).astype(dtype) for n in (L, S, S, L))
    mask = rng.standard_normal((1, 2, L, S)).astype(dtype)
    mask[:, :, 5] = np.finfo(dtype).min
    mask[:, :, 6, ::2] = np.finfo(dtype).min
    mask[:, :, 7] = -np.inf
    return q, k, v, g, mask


def run_with_row_stats(mod, xp, q, k, v, g, mask, **kw):
    """out, dq, dk, dv, dmask from a forward that leaves row statistics and a backward that uses
    them."""
    q, k, v, g, mask = (xp.asarray(a) for a in (q, k, v, g, mask))
    out, lse = xp.empty_like(q), xp.empty(q.shape[:-1], q.dtype)
    stats = xp.empty(q.shape[:-1] + (2,), q.dtype)
    kind = mod.attention_forward(q, k, v, out, lse, mask, False, 0.125, stats, **kw)
    grads = [xp.empty_like(x) for x in (q, k, v)]
    gm = xp.empty(q.shape[:-1] + (k.shape[-2],), q.dtype)
    mod.attention_backward(q, k, v, out, lse, g, *grads, mask, False, 0.125, gm, stats, kind, **kw)
    return [out, *grads, gm]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_emulated_cuda_backward_from_row_stats_is_exact_at_finite_mask_extremes(dtype):
    # With the forward's row statistics the backward's P is exp2((s - m) - log2 l): a row every
    # key of which finfo.min removes gets 1/n per key (lse alone, rounded next to finfo.min,
    # gives 1 per key), as the CPU kernels with theirs.
    q, k, v, g, mask = finite_mask_extremes_case(dtype)
    want = run_with_row_stats(_C, np, q, k, v, g, mask)
    got = run_with_row_stats(emu, np, q, k, v, g, mask, schedule="reverse", seed=1)
    for name, a, b in zip(["out", "dq", "dk", "dv", "dmask"], got, want):
        np.testing.assert_allclose(a, b, err_msg=name, **TILED_TOL[dtype])
    np.testing.assert_allclose(got[0][0, :, 5], v[0].mean(axis=1), rtol=1e-5, atol=1e-5)
