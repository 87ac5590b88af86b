"""scaled_dot_product_attention against PyTorch: outputs and gradients over masks x causal x GQA x
odd lengths x float32/float64; the kernels directly (determinism, thread counts, SIMD paths);
memory O(L); errors for bad shapes and dtypes; dropout with a shared mask."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.nn import functional as F
from fastdl.nn.functional.attention import _scaled_dot_product_attention_with_dropout_mask

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}


def _mask(rng, kind, shape):
    if kind == "bool":
        m = rng.random(shape) > 0.35
        m[..., 0, :] = False  # a row with no key at all
        return m
    if kind == "additive":
        m = rng.standard_normal(shape)
        m[..., 1, ::2] = -np.inf
        return m
    return None


def _run_both(q, k, v, mask, g, mask_grad=False, **kw):
    """Outputs and gradients (q, k, v[, mask]) of fastdl and torch for the same arrays."""
    def grads(lib, T):
        ts = [T(a) for a in (q, k, v)]
        for t in ts:
            t.requires_grad_()
        m = None if mask is None else T(mask)
        if m is not None and mask_grad:
            m.requires_grad_()
        fn = F.scaled_dot_product_attention if lib == "fastdl" else \
            torch.nn.functional.scaled_dot_product_attention
        out = fn(*ts, attn_mask=m, **kw)
        wrt = ts + ([m] if mask_grad else [])
        gs = (fastdl.autograd.grad if lib == "fastdl" else torch.autograd.grad)(
            [out], wrt, [T(g)])
        return [np.asarray(x.detach().numpy()) for x in [out, *gs]]
    return grads("fastdl", fastdl.tensor), grads("torch", torch.tensor)


CASES = list(itertools.product(
    [np.float32, np.float64],
    [(1, 1), (17, 17), (130, 130), (17, 130), (130, 17)],  # (L, S)
    [None, "bool", "additive", "causal"],
    [(2, 2), (4, 2)],  # (query heads, key/value heads): plain and grouped-query
))


@pytest.mark.parametrize("dtype,ls,mask,heads", CASES,
                         ids=[f"{d.__name__}-L{l}S{s}-{m}-h{h}:{hk}"
                              for d, (l, s), m, (h, hk) in CASES])
def test_parity_with_torch(dtype, ls, mask, heads):
    L, S = ls
    hq, hk = heads
    rng = np.random.default_rng(L * 1000 + S)
    E, Ev = 24, 20
    q = rng.standard_normal((2, hq, L, E)).astype(dtype)
    k = rng.standard_normal((2, hk, S, E)).astype(dtype)
    v = rng.standard_normal((2, hk, S, Ev)).astype(dtype)
    g = rng.standard_normal((2, hq, L, Ev)).astype(dtype)
    causal = mask == "causal"
    m = None if causal else _mask(rng, mask, (hq, L, S) if L > 1 else (hq, 2, S))
    if m is not None and L == 1:
        m = m[:, 1:]
    if m is not None and m.dtype != np.bool_:
        m = m.astype(dtype)
    mask_grad = m is not None and m.dtype != np.bool_
    ours, ref = _run_both(q, k, v, m, g, mask_grad=mask_grad, is_causal=causal,
                          enable_gqa=hq != hk)
    for a, b, what in zip(ours, ref, ["out", "dq", "dk", "dv", "dmask"]):
        assert not np.isnan(a).any(), what
        np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


def test_custom_scale_broadcast_batch_and_3d():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((3, 9, 16))
    k = rng.standard_normal((2, 1, 11, 16))
    v = rng.standard_normal((2, 1, 11, 8))
    g = rng.standard_normal((2, 3, 9, 8))
    ours, ref = _run_both(q, k, v, None, g, scale=0.3)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


def test_fully_masked_rows_give_zero_and_zero_gradient():
    rng = np.random.default_rng(4)
    q, k, v = (fastdl.tensor(rng.standard_normal((1, 2, 4, 8)), requires_grad=True)
               for _ in range(3))
    mask = np.ones((4, 4), bool)
    mask[2] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=fastdl.tensor(mask))
    assert np.all(out.detach().numpy()[:, :, 2] == 0)
    out.sum().backward()
    assert np.all(q.grad.numpy()[:, :, 2] == 0)
    assert np.isfinite(k.grad.numpy()).all() and np.isfinite(v.grad.numpy()).all()


def test_dropout_with_shared_mask_matches_torch():
    rng = np.random.default_rng(5)
    p = 0.3
    q, k, v = (rng.standard_normal((2, 2, 7, 8)) for _ in range(3))
    keep = (rng.random((2, 2, 7, 7)) >= p) / (1 - p)
    fq, fk, fv = (fastdl.tensor(a, requires_grad=True) for a in (q, k, v))
    out = _scaled_dot_product_attention_with_dropout_mask(fq, fk, fv, fastdl.tensor(keep),
                                                          is_causal=True)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    s = (tq @ tk.transpose(-2, -1)) / np.sqrt(8)
    s = s.masked_fill(~torch.ones(7, 7, dtype=torch.bool).tril(), -float("inf"))
    ref = (torch.softmax(s, -1) * torch.tensor(keep)) @ tv
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_dropout_drops_and_is_seeded():
    q = fastdl.tensor(np.random.default_rng(6).standard_normal((1, 1, 64, 8)))
    fastdl.manual_seed(7)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    fastdl.manual_seed(7)
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    c = F.scaled_dot_product_attention(q, q, q).numpy()
    assert not np.allclose(a, c)
    assert np.all(F.scaled_dot_product_attention(q, q, q, dropout_p=1.0).numpy() == 0)


def _kernel_inputs(dtype=np.float32, B=2, H=3, L=150, S=150, D=32, seed=8):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, H, L, D)).astype(dtype)
    k = rng.standard_normal((B, H, S, D)).astype(dtype)
    v = rng.standard_normal((B, H, S, D)).astype(dtype)
    g = rng.standard_normal((B, H, L, D)).astype(dtype)
    return q, k, v, g


def _kernel_run(q, k, v, g, causal):
    out = np.empty_like(q)
    lse = np.empty(q.shape[:-1], q.dtype)
    _C.attention_forward(q, k, v, out, lse, None, causal, 0.2)
    grads = [np.empty_like(x) for x in (q, k, v)]
    _C.attention_backward(q, k, v, out, lse, g, *grads, None, causal, 0.2)
    return [out, lse, *grads]


@pytest.mark.parametrize("causal", [False, True])
def test_kernel_deterministic_across_runs_threads_and_matches_every_simd_path(causal):
    q, k, v, g = _kernel_inputs()
    before = _C.get_num_threads()
    path = _C.simd_path()
    try:
        first = _kernel_run(q, k, v, g, causal)
        for threads in (1, 2, 3):
            _C.set_num_threads(threads)
            for x, y in zip(first, _kernel_run(q, k, v, g, causal)):
                np.testing.assert_array_equal(x, y)
        for isa in _C.available_simd_paths():
            _C.set_simd_path(isa)
            for x, y in zip(first, _kernel_run(q, k, v, g, causal)):
                np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    finally:
        _C.set_num_threads(before)
        _C.set_simd_path(path)


def test_kernel_binding_errors():
    q, k, v, g = _kernel_inputs(L=5, S=5)
    out, lse = np.empty_like(q), np.empty(q.shape[:-1], q.dtype)
    with pytest.raises(TypeError, match="dtype"):
        _C.attention_forward(q, k.astype(np.float64), v, out, lse, None, False, 1.0)
    with pytest.raises(ValueError, match="shape"):
        _C.attention_forward(q, k[:, :, :4], v, out, lse, None, False, 1.0)
    with pytest.raises(ValueError, match="out must have shape"):
        _C.attention_forward(q, k, v, out[:, :, :4], lse, None, False, 1.0)
    with pytest.raises(ValueError, match="contiguous"):
        _C.attention_forward(np.repeat(q, 2, axis=3)[..., ::2], k, v, out, lse, None, False, 1.0)
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        _C.attention_forward(q, k, v, out, lse, np.ones((2, 3, 5, 4), bool), False, 1.0)
    with pytest.raises(TypeError, match="attn_mask"):
        _C.attention_forward(q, k, v, out, lse, np.ones((2, 3, 5, 5), np.int32), False, 1.0)


def test_functional_errors():
    t = lambda *s, dtype=np.float32: fastdl.tensor(np.zeros(s, dtype))  # noqa: E731
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(TypeError, match="same dtype"):
        sdpa(t(2, 3, 4), t(2, 3, 4, dtype=np.float64), t(2, 3, 4))
    with pytest.raises(TypeError, match="floating point"):
        sdpa(t(2, 3, 4, dtype=np.int64), t(2, 3, 4), t(2, 3, 4))
    with pytest.raises(RuntimeError, match="embedding size"):
        sdpa(t(2, 3, 4), t(2, 3, 5), t(2, 3, 4))
    with pytest.raises(RuntimeError, match="sequence length"):
        sdpa(t(2, 3, 4), t(2, 3, 4), t(2, 5, 4))
    with pytest.raises(RuntimeError, match="multiple"):
        sdpa(t(1, 3, 2, 4), t(1, 2, 2, 4), t(1, 2, 2, 4), enable_gqa=True)
    with pytest.raises(RuntimeError, match="broadcast"):
        sdpa(t(1, 3, 2, 4), t(1, 2, 2, 4), t(1, 2, 2, 4))
    with pytest.raises(RuntimeError, match="is_causal"):
        sdpa(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), attn_mask=t(3, 3), is_causal=True)
    with pytest.raises(RuntimeError, match="attn_mask"):
        sdpa(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), attn_mask=t(4, 3))
    with pytest.raises(TypeError, match="attn_mask"):  # a float mask of another dtype is cast
        sdpa(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), attn_mask=t(3, 3, dtype=np.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        sdpa(t(2, 3, 4), t(2, 3, 4), t(2, 3, 4), dropout_p=1.5)


def test_memory_is_linear_in_length():
    """L = S = 16384, D = 64, one head, forward and backward: an (L, S) float32 matrix alone
    would be 1 GiB; the peak RSS may grow by far less than that."""
    code = textwrap.dedent("""
        import resource, numpy as np, fastdl
        from fastdl.nn import functional as F
        L, D = 16384, 64
        rng = np.random.default_rng(0)
        q, k, v = (fastdl.tensor(rng.standard_normal((1, 1, L, D), dtype=np.float32),
                                 requires_grad=True) for _ in range(3))
        g = fastdl.tensor(rng.standard_normal((1, 1, L, D), dtype=np.float32))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.backward(g)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert np.isfinite(q.grad.numpy()).all() and np.abs(k.grad.numpy()).max() > 0
        print((after - before) / 1024)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    growth_mib = float(res.stdout.strip().splitlines()[-1])
    assert growth_mib < 128, f"peak RSS grew by {growth_mib:.0f} MiB"


@pytest.mark.parametrize("causal", [False, True])
def test_backward_split_over_key_blocks_for_few_heads(causal):
    """One (batch, head) pair and several threads: the key blocks are split across tasks, each
    with its own dQ buffer added in order -- same gradients (to rounding) as one thread, and
    bit-identical from run to run at a given thread count."""
    q, k, v, g = _kernel_inputs(B=1, H=1, L=300, S=410)
    before = _C.get_num_threads()
    try:
        _C.set_num_threads(1)
        ref = _kernel_run(q, k, v, g, causal)
        for threads in (2, 3):
            _C.set_num_threads(threads)
            a, b = _kernel_run(q, k, v, g, causal), _kernel_run(q, k, v, g, causal)
            for x, y, r in zip(a, b, ref):
                np.testing.assert_array_equal(x, y)
                np.testing.assert_allclose(x, r, rtol=1e-4, atol=1e-5)
    finally:
        _C.set_num_threads(before)


@pytest.mark.parametrize("gqa", [False, True])
def test_heads_split_from_a_projection_reach_the_kernels_without_copies(gqa):
    """q, k, v as (B, H, L, D) views of (B, L, H, D) projections (a GPT's or MultiheadAttention's
    heads): the CPU kernels read them in place, the gradients come back in the same layout (the
    transposes' backward then copies nothing), and every value matches torch."""
    from fastdl.nn.functional.attention import _kernel_view, _result_like
    rng = np.random.default_rng(5)
    B, L, H, Hk, D = 2, 37, 4, 2 if gqa else 4, 16
    q, k, v = (rng.standard_normal((B, L, h, D)) for h in (H, Hk, Hk))
    g = rng.standard_normal((B, H, L, D))

    def run(lib, T):
        leaves = [T(a) for a in (q, k, v)]
        for t in leaves:
            t.requires_grad_()
        heads = [t.transpose(1, 2) for t in leaves]
        fn = F.scaled_dot_product_attention if lib == "fastdl" else \
            torch.nn.functional.scaled_dot_product_attention
        out = fn(*heads, is_causal=True, enable_gqa=gqa)
        grads = (fastdl.autograd.grad if lib == "fastdl" else torch.autograd.grad)(
            [out], leaves, [T(g)])
        return [np.asarray(x.detach().numpy()) for x in [out, *grads]]
    for a, b in zip(run("fastdl", fastdl.tensor), run("torch", torch.tensor)):
        np.testing.assert_allclose(a, b, **TOL[np.float64])
    view = q.transpose(0, 2, 1, 3)
    kernel_q = _kernel_view(view, view.shape, B, H, strided=True)
    assert np.shares_memory(kernel_q, q)  # no copy
    assert np.argsort(_result_like(kernel_q).strides).tolist() == \
        np.argsort(kernel_q.strides).tolist()  # the gradient in the same layout
    assert _kernel_view(view, view.shape, B, H, strided=False).flags.c_contiguous  # CUDA: C order


@pytest.mark.parametrize("shape", [(0, 4, 5, 8), (2, 0, 5, 8), (0, 5, 8), (3, 0, 8),
                                   (2, 3, 0, 8), (2, 3, 5, 0)])
@pytest.mark.parametrize("gqa", [False, True])
def test_empty_inputs_give_empty_results_like_torch(shape, gqa):
    q = fastdl.tensor(np.ones(shape, np.float32), requires_grad=True)
    tq = torch.ones(shape, requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, enable_gqa=gqa)
    expect = torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, enable_gqa=gqa)
    assert out.shape == tuple(expect.shape)
    out.sum().backward()
    expect.sum().backward()
    assert q.grad.shape == tuple(tq.grad.shape)
    np.testing.assert_array_equal(q.grad.numpy(), tq.grad.numpy())


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_keys_gives_zero_rows_and_gradients_like_torch(causal, dtype):
    """S = 0 with queries present: every row 0 (no key to attend to), gradients 0."""
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, 5, 8)).astype(dtype)
    kv = np.zeros((2, 3, 0, 8), dtype)
    leaves = [fastdl.tensor(a, requires_grad=True) for a in (q, kv, kv)]
    tleaves = [torch.tensor(a, requires_grad=True) for a in (q, kv, kv)]
    out = F.scaled_dot_product_attention(*leaves, is_causal=causal)
    expect = torch.nn.functional.scaled_dot_product_attention(*tleaves, is_causal=causal)
    np.testing.assert_array_equal(out.detach().numpy(), expect.detach().numpy())
    out.sum().backward()
    expect.sum().backward()
    np.testing.assert_array_equal(leaves[0].grad.numpy(), tleaves[0].grad.numpy())


@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 7, 8)])
def test_leaf_gradients_are_the_arrays_the_kernel_wrote(shape, monkeypatch):
    """C-ordered leaves get as .grad the very arrays the backward kernel wrote (allocated in the
    leaves' shapes, the kernel writing through 4-D views), not copies made by the engine."""
    written = []
    backward = _C.attention_backward

    def recording(q, k, v, out, lse, g, gq, gk, gv, *rest):
        written.extend([gq, gk, gv])
        return backward(q, k, v, out, lse, g, gq, gk, gv, *rest)
    monkeypatch.setattr(_C, "attention_backward", recording)
    rng = np.random.default_rng(11)
    leaves = [fastdl.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
              for _ in range(3)]
    F.scaled_dot_product_attention(*leaves, is_causal=True).sum().backward()
    assert len(written) == 3
    for leaf, kernel_grad in zip(leaves, written):
        grad = leaf.grad.numpy()
        assert grad.flags.owndata and grad.shape == shape
        assert np.shares_memory(grad, kernel_grad)
