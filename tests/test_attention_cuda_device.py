"""The CUDA flash-attention kernels on a real GPU (fastdl._C_cuda on cupy arrays) against the CPU
kernels, on the emulator tests' odd lengths (L = 1, 17, 130), head dims (32, 64, 80, 128), masks
(bool, additive with its gradient), causal and GQA, float32 and float64, and their cases across
several query and key tiles; and the op layer
(scaled_dot_product_attention on cupy tensors, forward and backward) against the same op on numpy
tensors.

These need a GPU: they skip elsewhere. bench/gpu_check.sh runs them on a lent GPU machine and
counts a skip there as a failure.
"""
import numpy as np
import pytest

import fastdl
from fastdl import _C

if not fastdl.cuda.is_available():
    pytest.skip("needs a CUDA GPU (bench/gpu_check.sh runs these on one)", allow_module_level=True)
cp = pytest.importorskip("cupy")
from fastdl import _C_cuda as cuda_mod  # noqa: E402  (exists whenever a GPU is available)
from test_attention_cuda_emu import (  # noqa: E402  (the emulator's cases and inputs)
    CASES, TILED, TILED_IDS, TILED_TOL, assert_results_close, attention_inputs,
    finite_mask_extremes_case, run_with_row_stats, tiled_inputs)


def _run(mod, xp, q, k, v, g, mask, causal, grad_mask):
    q, k, v, g = (xp.asarray(a) for a in (q, k, v, g))
    mask = None if mask is None else xp.asarray(np.ascontiguousarray(mask))
    out = xp.empty(q.shape[:-1] + (v.shape[-1],), q.dtype)
    lse = xp.empty(q.shape[:-1], q.dtype)
    mod.attention_forward(q, k, v, out, lse, mask, causal, 0.37)
    grads = [xp.empty_like(x) for x in (q, k, v)]
    gm = xp.empty(q.shape[:-1] + (k.shape[-2],), q.dtype) if grad_mask else None
    mod.attention_backward(q, k, v, out, lse, g, *grads, mask, causal, 0.37, gm)
    res = [out, lse, *grads] + ([gm] if grad_mask else [])
    return [cp.asnumpy(a) if xp is cp else a for a in res]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("L,D,kind", CASES, ids=[f"L{l}-D{d}-{k}" for l, d, k in CASES])
def test_cuda_kernels_match_cpu(L, D, kind, dtype):
    S = 17 if L == 130 else L + 3
    args, causal, grad_mask = attention_inputs(np.random.default_rng(L * 7 + D), 2, L, S, D, D,
                                               kind, dtype)
    want = _run(_C, np, *args, causal, grad_mask)
    got = _run(cuda_mod, cp, *args, causal, grad_mask)
    for name, a in zip(["out", "lse", "dq", "dk", "dv", "dmask"], got):
        assert name == "lse" or np.isfinite(a).all(), name  # lse: +inf for a row with no key
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    assert_results_close(got, want, **tol)


@pytest.mark.parametrize("L,S,D,Dv,kind,dtype", TILED, ids=TILED_IDS)
def test_cuda_kernels_match_cpu_across_tiles(L, S, D, Dv, kind, dtype):
    args, causal, grad_mask = tiled_inputs(L, S, D, Dv, kind, dtype)
    want = _run(_C, np, *args, causal, grad_mask)
    got = _run(cuda_mod, cp, *args, causal, grad_mask)
    assert_results_close(got, want, **TILED_TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_backward_from_row_stats_is_exact_at_finite_mask_extremes(dtype):
    args = finite_mask_extremes_case(dtype)
    want = run_with_row_stats(_C, np, *args)
    got = [cp.asnumpy(a) for a in run_with_row_stats(cuda_mod, cp, *args)]
    for name, a, b in zip(["out", "dq", "dk", "dv", "dmask"], got, want):
        np.testing.assert_allclose(a, b, err_msg=name, **TILED_TOL[dtype])


def test_sdpa_op_on_cupy_tensors_runs_the_cuda_kernels():
    F = fastdl.nn.functional
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 37, 48)) for _ in range(3))
    mask = rng.standard_normal((3, 37, 37))
    g = rng.standard_normal((2, 3, 37, 48))
    results = []
    for wrap in (np.asarray, cp.asarray):
        ts = [fastdl.tensor(wrap(a), requires_grad=True) for a in (q, k, v, mask)]
        y = F.scaled_dot_product_attention(*ts[:3], attn_mask=ts[3])
        y.backward(fastdl.tensor(wrap(g)))
        results.append([y.detach()] + [t.grad for t in ts])
    assert fastdl.backend.is_cupy_array(results[1][0]._data)
    for a, b in zip(*results):
        np.testing.assert_allclose(cp.asnumpy(b._data), a._data, rtol=1e-10, atol=1e-10)
    causal = [F.scaled_dot_product_attention(*(fastdl.tensor(w(a)) for a in (q, k, v)),
                                             is_causal=True) for w in (np.asarray, cp.asarray)]
    np.testing.assert_allclose(cp.asnumpy(causal[1]._data), causal[0]._data, atol=1e-10)
