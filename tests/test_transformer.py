"""MultiheadAttention and the Transformer layers against torch beyond the ModuleInfo samples
(larger shapes, kdim/vdim, per-head weights, causal masks, TransformerEncoder stacks), positional
encodings (RoPE's relative-position property) and the KV cache (incremental = full recompute)."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F

torch = pytest.importorskip("torch")


def _load(f_module, t_module):
    f_module.load_state_dict({k: v.detach().numpy().copy()
                              for k, v in t_module.state_dict().items()})


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def _f(a, grad=False):
    return fastdl.tensor(a, requires_grad=grad)


def _close(f, t, **kw):
    np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), **kw)


@pytest.mark.parametrize("need_weights,average", [(False, True), (True, True), (True, False)])
def test_mha_kdim_vdim_masks_against_torch(need_weights, average):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    t_mha = torch.nn.MultiheadAttention(16, 4, kdim=12, vdim=10, batch_first=True,
                                        dtype=torch.float64)
    f_mha = nn.MultiheadAttention(16, 4, kdim=12, vdim=10, batch_first=True, dtype=np.float64)
    _load(f_mha, t_mha)
    q, k, v = rng.standard_normal((3, 7, 16)), rng.standard_normal((3, 9, 12)), \
        rng.standard_normal((3, 9, 10))
    kpm = np.zeros((3, 9), bool)
    kpm[1, 6:] = True
    am = rng.standard_normal((7, 9))
    tq, tk, tv = _t(q, True), _t(k, True), _t(v, True)
    fq, fk, fv = _f(q, True), _f(k, True), _f(v, True)
    t_out, t_w = t_mha(tq, tk, tv, key_padding_mask=_t(kpm), attn_mask=_t(am),
                       need_weights=need_weights, average_attn_weights=average)
    f_out, f_w = f_mha(fq, fk, fv, key_padding_mask=_f(kpm), attn_mask=_f(am),
                       need_weights=need_weights, average_attn_weights=average)
    _close(f_out, t_out, rtol=1e-10, atol=1e-12)
    if need_weights:
        _close(f_w, t_w, rtol=1e-10, atol=1e-12)
    else:
        assert f_w is None and t_w is None
    g = rng.standard_normal(t_out.shape)
    t_out.backward(_t(g))
    f_out.backward(_f(g))
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        _close(a.grad, b.grad, rtol=1e-9, atol=1e-11)
    f_params = dict(f_mha.named_parameters())
    for name, p in t_mha.named_parameters():
        _close(f_params[name].grad, p.grad, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_encoder_decoder_stack_with_causal_mask(norm_first, activation):
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    kw = dict(d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, activation=activation,
              batch_first=True, norm_first=norm_first)
    t_model = torch.nn.Transformer(num_encoder_layers=2, num_decoder_layers=2,
                                   dtype=torch.float64, **kw)
    f_model = nn.Transformer(num_encoder_layers=2, num_decoder_layers=2, dtype=np.float64, **kw)
    _load(f_model, t_model)
    src, tgt = rng.standard_normal((2, 11, 16)), rng.standard_normal((2, 6, 16))
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)
    f_mask = nn.Transformer.generate_square_subsequent_mask(6, dtype=np.float64)
    np.testing.assert_array_equal(f_mask.numpy(), t_mask.numpy())
    kpm = np.zeros((2, 11), bool)
    kpm[0, 8:] = True
    ts, tt = _t(src, True), _t(tgt, True)
    fs, ft = _f(src, True), _f(tgt, True)
    t_out = t_model(ts, tt, tgt_mask=t_mask, src_key_padding_mask=_t(kpm),
                    memory_key_padding_mask=_t(kpm), tgt_is_causal=True)
    f_out = f_model(fs, ft, tgt_mask=f_mask, src_key_padding_mask=_f(kpm),
                    memory_key_padding_mask=_f(kpm), tgt_is_causal=True)
    _close(f_out, t_out, rtol=1e-9, atol=1e-11)
    g = rng.standard_normal(t_out.shape)
    t_out.backward(_t(g))
    f_out.backward(_f(g))
    _close(fs.grad, ts.grad, rtol=1e-8, atol=1e-10)
    _close(ft.grad, tt.grad, rtol=1e-8, atol=1e-10)


def test_transformer_encoder_float32():
    rng = np.random.default_rng(2)
    torch.manual_seed(2)
    t_layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    t_enc = torch.nn.TransformerEncoder(t_layer, 3, norm=torch.nn.LayerNorm(32),
                                        enable_nested_tensor=False)
    f_layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    f_enc = nn.TransformerEncoder(f_layer, 3, norm=nn.LayerNorm(32))
    _load(f_enc, t_enc)
    x = rng.standard_normal((4, 50, 32)).astype(np.float32)
    _close(f_enc(_f(x)), t_enc(_t(x)), rtol=1e-4, atol=1e-5)


def test_rotary_embedding_is_relative():
    rope = nn.RotaryEmbedding(8, max_len=64, dtype=np.float64)
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((1, 8)), rng.standard_normal((1, 8))
    dots = [float((rope(_f(q), start=m) * rope(_f(k), start=m - 3)).sum().numpy())
            for m in (3, 10, 40)]
    np.testing.assert_allclose(dots, dots[0], rtol=1e-12)
    assert not np.isclose(dots[0], float((_f(q) * _f(k)).sum().numpy()))


def test_sinusoidal_and_learned_positions():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=20, dtype=np.float64)
    x = fastdl.zeros(2, 5, 6, dtype=np.float64)
    out = pe(x, start=3).numpy()
    p = np.arange(3, 8)[:, None]
    div = np.exp(np.arange(0, 6, 2) * (-np.log(10000.0) / 6))
    np.testing.assert_allclose(out[1, :, 0::2], np.sin(p * div))
    np.testing.assert_allclose(out[0, :, 1::2], np.cos(p * div))
    learned = nn.LearnedPositionalEmbedding(20, 6)
    y = learned(fastdl.zeros(2, 5, 6), start=2)
    np.testing.assert_array_equal(y.detach().numpy()[1], learned.embedding.weight.detach().numpy()[2:7])
    with pytest.raises(ValueError, match="max_len"):
        pe(fastdl.zeros(1, 30, 6, dtype=np.float64))


def test_kv_cache_incremental_equals_full_causal():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal((2, 3, 9, 8)) for _ in range(3))
    full = F.scaled_dot_product_attention(_f(q), _f(k), _f(v), is_causal=True).numpy()
    cache = nn.KVCache()
    # a prefill chunk of 4 positions, then one position at a time
    cache.update(_f(k[:, :, :4]), _f(v[:, :, :4]))
    out = [F.scaled_dot_product_attention(_f(q[:, :, :4]), cache.k, cache.v,
                                          attn_mask=cache.chunk_mask(4)).numpy()]
    for t in range(4, 9):
        kk, vv = cache.update(_f(k[:, :, t:t + 1]), _f(v[:, :, t:t + 1]))
        out.append(F.scaled_dot_product_attention(_f(q[:, :, t:t + 1]), kk, vv).numpy())
    assert len(cache) == 9
    np.testing.assert_allclose(np.concatenate(out, axis=2), full, rtol=1e-12, atol=1e-14)


def test_kv_cache_buffer_outside_autograd_matches_concatenation():
    """Outside autograd the cache appends into a growing buffer (views of its first S
    positions); the keys/values must equal concatenation across reallocations (capacity 64,
    then doubling), earlier returned views must keep their values, and a chunk of several
    positions must land in order."""
    rng = np.random.default_rng(3)
    chunks = [1, 3, 1] + [1] * 70 + [5, 60]  # crosses the first capacity and a regrowth
    ks = [rng.standard_normal((2, 3, n, 4)) for n in chunks]
    vs = [rng.standard_normal((2, 3, n, 5)) for n in chunks]
    cache = nn.KVCache()
    seen = []
    with fastdl.no_grad():
        for t, (kk, vv) in enumerate(zip(ks, vs)):
            k_all, v_all = cache.update(_f(kk), _f(vv))
            seen.append((k_all, v_all, t))
            np.testing.assert_array_equal(k_all.numpy(), np.concatenate(ks[:t + 1], axis=2))
            np.testing.assert_array_equal(v_all.numpy(), np.concatenate(vs[:t + 1], axis=2))
    assert len(cache) == sum(chunks)
    for k_all, v_all, t in seen:  # views handed out earlier still hold their positions
        np.testing.assert_array_equal(k_all.numpy(), np.concatenate(ks[:t + 1], axis=2))
        np.testing.assert_array_equal(v_all.numpy(), np.concatenate(vs[:t + 1], axis=2))
    cache.reset()
    assert len(cache) == 0 and cache.k is None


def test_kv_cache_inside_autograd_concatenates_and_differentiates():
    rng = np.random.default_rng(4)
    k0, k1 = (fastdl.tensor(rng.standard_normal((1, 2, n, 3)), requires_grad=True)
              for n in (2, 1))
    v0, v1 = (fastdl.tensor(rng.standard_normal((1, 2, n, 3))) for n in (2, 1))
    cache = nn.KVCache()
    cache.update(k0, v0)
    k_all, _ = cache.update(k1, v1)
    (k_all * 2).sum().backward()
    np.testing.assert_array_equal(k0.grad.numpy(), np.full((1, 2, 2, 3), 2.0))
    np.testing.assert_array_equal(k1.grad.numpy(), np.full((1, 2, 1, 3), 2.0))


def test_kv_cache_shape_errors_without_grad():
    cache = nn.KVCache()
    with fastdl.no_grad():
        cache.update(fastdl.zeros(1, 2, 3, 4), fastdl.zeros(1, 2, 3, 4))
        with pytest.raises((ValueError, RuntimeError)):
            cache.update(fastdl.zeros(1, 3, 1, 4), fastdl.zeros(1, 3, 1, 4))  # heads differ
        with pytest.raises((ValueError, RuntimeError)):
            cache.update(fastdl.zeros(1, 2, 1, 5), fastdl.zeros(1, 2, 1, 4))  # head size differs


def test_mha_errors():
    mha = nn.MultiheadAttention(8, 2)
    x = fastdl.zeros(3, 2, 8)
    with pytest.raises(AssertionError, match="embedding dimension"):
        mha(fastdl.zeros(3, 2, 6), x, x)
    with pytest.raises(RuntimeError, match="attn_mask"):
        mha(x, x, x, attn_mask=fastdl.zeros(4, 3))
    with pytest.raises(RuntimeError, match="key_padding_mask"):
        mha(x, x, x, key_padding_mask=fastdl.tensor(np.zeros((2, 5), bool)))
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(10, 3)
