"""The CUDA flash-attention kernels (csrc/cuda/attention) run by the emulator against the CPU
kernels: odd lengths (L = 1, 17, 130) and head dims (32, 64, 80, 128), masks, causal, GQA,
float32 and float64, under two schedules (reverse thread order; one warp at a time between
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


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("L,D,kind", CASES, ids=[f"L{l}-D{d}-{k}" for l, d, k in CASES])
def test_emulated_cuda_kernels_match_cpu(L, D, kind, schedule):
    rng = np.random.default_rng(L * 7 + D)
    dtype = np.float64 if D == 80 else np.float32
    S = 17 if L == 130 else L + 3
    hq, hk = (4, 2) if kind == "gqa" else (2, 2)
    q = rng.standard_normal((1, hq, L, D)).astype(dtype)
    k = rng.standard_normal((1, hk, S, D)).astype(dtype)
    v = rng.standard_normal((1, hk, S, D)).astype(dtype)
    g = rng.standard_normal((1, hq, L, D)).astype(dtype)
    mask = None
    if kind == "bool":
        m = rng.random((L, S)) > 0.3
        m[0] = False  # a row with no key
        mask = np.broadcast_to(m, (1, hq, L, S))
    elif kind == "additive":
        mask = np.broadcast_to(rng.standard_normal((hq, 1, S)).astype(dtype), (1, hq, L, S))
    causal = kind == "causal"
    ref = _run(_C, q, k, v, g, mask, causal, kind == "additive")
    got = _run(emu, q, k, v, g, mask, causal, kind == "additive", schedule=schedule, seed=3)
    # float32: two implementations with different summation orders and exponentials (the CPU
    # forward's exp2 polynomial); the key gradient sums up to 130 rows' terms of size ~5.
    tol = dict(rtol=5e-5, atol=5e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for name, a, b in zip(["out", "lse", "dq", "dk", "dv", "dmask"], got, ref):
        np.testing.assert_allclose(a, b, err_msg=name, **tol)
