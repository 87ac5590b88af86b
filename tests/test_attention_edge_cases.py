"""Attention corner cases found by fuzzing against torch: gradients of gradients whose cotangent
depends on the inputs, broadcast incoming gradients, rows a float mask removes entirely (dropout
and second derivatives), MultiheadAttention's is_causal hint and mask checks, and loading a torch
module's state_dict as it is."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(*arrays):
    ours = [fastdl.tensor(a).requires_grad_() for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _qkv(rng, lead=(2,), L=3, S=5, E=4, Ev=3):
    return (rng.standard_normal(lead + (L, E)), rng.standard_normal(lead + (S, E)),
            rng.standard_normal(lead + (S, Ev)))


@pytest.mark.parametrize("mask_kind", ["none", "float", "bool"])
def test_second_derivative_with_input_dependent_cotangent(mask_kind):
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng)
    mask = {"none": None, "float": rng.standard_normal((3, 5)),
            "bool": rng.random((3, 5)) < 0.7}[mask_kind]
    if mask is not None and mask.dtype == bool:
        mask[:, 0] = True
    results = []
    for lib, F_, grad, mk in ((fastdl, F, fastdl.autograd.grad, fastdl.tensor),
                              (torch, TF, torch.autograd.grad, torch.tensor)):
        Q, K, V = (mk(a).requires_grad_() for a in (q, k, v))
        o = F_.scaled_dot_product_attention(Q, K, V, attn_mask=None if mask is None else mk(mask))
        (gq,) = grad([(o * o).sum()], [Q], create_graph=True)  # the cotangent 2 o depends on q
        (gq * gq).sum().backward()
        results.append([np.asarray(x.grad.detach().numpy()) for x in (Q, K, V)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("reduce", ["mean_rows", "expand"])
def test_broadcast_incoming_gradient(reduce):
    rng = np.random.default_rng(2)
    q, k, v = (a.astype(np.float32) for a in _qkv(rng, lead=(2, 2)))
    (fq, fk, fv), (tq, tk, tv) = _pair(q, k, v)
    fo, to = F.scaled_dot_product_attention(fq, fk, fv), TF.scaled_dot_product_attention(tq, tk, tv)
    if reduce == "mean_rows":  # the gradient of mean over the rows is a stride-0 view
        fo.mean(2).pow(2).sum().backward()
        to.mean(2).pow(2).sum().backward()
    else:
        fo.backward(fastdl.ones(1, 1, 1, 3).expand(2, 2, 3, 3))
        to.backward(torch.ones(1, 1, 1, 3).expand(2, 2, 3, 3))
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_row_removed_by_float_mask_gives_zero():
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng, lead=())
    mask = np.zeros((3, 5))
    mask[0] = -np.inf
    (fq, fk, fv), _ = _pair(q, k, v)
    fastdl.manual_seed(0)
    out = F.scaled_dot_product_attention(fq, fk, fv, attn_mask=fastdl.tensor(mask), dropout_p=0.5)
    assert np.all(out.detach().numpy()[0] == 0.0)
    out.sum().backward()
    for x in (fq, fk, fv):
        assert np.isfinite(x.grad.numpy()).all()


def test_second_derivative_with_a_row_removed_by_float_mask():
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng, lead=())
    mask = rng.standard_normal((3, 5))
    mask[0] = -np.inf
    c = rng.standard_normal((3, 3))
    results = []
    for F_, grad, mk in ((F, fastdl.autograd.grad, fastdl.tensor),
                         (TF, torch.autograd.grad, torch.tensor)):
        Q, K, V = (mk(a).requires_grad_() for a in (q, k, v))
        o = F_.scaled_dot_product_attention(Q, K, V, attn_mask=mk(mask))
        (gq,) = grad([(o * mk(c)).sum()], [Q], create_graph=True)
        (gq * gq).sum().backward()
        results.append(K.grad.detach().numpy())
    assert np.isfinite(results[0]).all()
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)


def test_gqa_needs_a_heads_dimension():
    x = fastdl.randn(4, 8)
    with pytest.raises(IndexError, match="enable_gqa"):
        F.scaled_dot_product_attention(x, x, x, enable_gqa=True)


def _mha_pair(**kwargs):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, **kwargs)
    fm = fastdl.nn.MultiheadAttention(8, 2, **kwargs)
    fm.load_state_dict(tm.state_dict())  # torch tensors as they are
    return fm, tm


def test_load_state_dict_takes_torch_tensors():
    fm, tm = _mha_pair(bias=True)
    for name, value in tm.state_dict().items():
        np.testing.assert_array_equal(fm.state_dict()[name].numpy(), value.numpy())


@pytest.mark.parametrize("extra", [{}, {"add_bias_kv": True}, {"add_zero_attn": True}])
def test_mha_is_causal_hint_as_torch(extra):
    """With no padding mask and no weights, torch runs causal attention instead of the mask
    (over the keys after add_bias_kv / add_zero_attn); with weights it uses the mask."""
    fm, tm = _mha_pair(**extra)
    x = np.random.default_rng(5).standard_normal((4, 2, 8)).astype(np.float32)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4)
    for need_weights in (False, True):
        fo, _ = fm(*[fastdl.tensor(x)] * 3, attn_mask=fastdl.tensor(causal.numpy()),
                   need_weights=need_weights, is_causal=True)
        to, _ = tm(*[torch.tensor(x)] * 3, attn_mask=causal, need_weights=need_weights,
                   is_causal=True)
        np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_mha_input_checks():
    fm, _ = _mha_pair()
    x = fastdl.randn(3, 2, 8)
    for name in ("attn_mask", "key_padding_mask"):
        mask = fastdl.tensor(np.zeros((3, 3) if name == "attn_mask" else (2, 3), np.int64))
        with pytest.raises(TypeError, match=f"only bool and floating types of {name}"):
            fm(x, x, x, **{name: mask})
    with pytest.raises(RuntimeError, match="key and value must have the same length"):
        fm(x, fastdl.randn(4, 2, 8), fastdl.randn(3, 2, 8))
    u = fastdl.randn(3, 8)
    with pytest.raises(RuntimeError, match="1-D"):
        fm(u, u, u, key_padding_mask=fastdl.tensor(np.zeros((1, 3), bool)))
    with pytest.raises(RuntimeError, match="is_causal"):
        fm(x, x, x, is_causal=True)


@pytest.mark.parametrize("layer", ["encoder", "decoder"])
def test_transformer_layers_refuse_is_causal_without_mask(layer):
    x = fastdl.randn(2, 4, 8)
    if layer == "encoder":
        m = fastdl.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        with pytest.raises(RuntimeError, match="is_causal"):
            m(x, is_causal=True)
    else:
        m = fastdl.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        with pytest.raises(RuntimeError, match="is_causal"):
            m(x, x, tgt_is_causal=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fill", ["finfo_min", "minus_1e9"])
def test_row_removed_by_a_finite_mask_attends_evenly(dtype, fill):
    """torch adds the mask in the scores' dtype: finfo.min (HF's padding value) swallows every
    score, so the row attends to all keys equally -- the forward and the gradients (these need
    the row's maximum and sum apart: lse alone rounds log n away next to finfo.min or -1e9)."""
    rng = np.random.default_rng(6)
    q, k, v = (a.astype(dtype) for a in _qkv(rng, lead=(1, 1), L=3, S=4, E=8, Ev=5))
    mask = rng.standard_normal((3, 4)).astype(dtype)
    mask[1] = np.finfo(dtype).min if fill == "finfo_min" else -1e9
    g = rng.standard_normal((1, 1, 3, 5)).astype(dtype)
    (fq, fk, fv), (tq, tk, tv) = _pair(q, k, v)
    fo = F.scaled_dot_product_attention(fq, fk, fv, attn_mask=fastdl.tensor(mask))
    # torch's math path (3-D inputs) as the reference: its fused CPU kernel rounds lse too
    to = TF.scaled_dot_product_attention(tq[0], tk[0], tv[0], attn_mask=torch.tensor(mask))
    fo.backward(fastdl.tensor(g))
    to.backward(torch.tensor(g[0]))
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fo.detach().numpy()[0], to.detach().numpy(), **tol)
    if fill == "finfo_min":
        np.testing.assert_allclose(fo.detach().numpy()[0, 0, 1], v[0, 0].mean(0), **tol)
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


def test_large_scores_probabilities_stay_exact():
    """Scores of ~1e3 (inputs times 30): the backward's P from the forward's (max, log sum)
    pair, not from a rounded lse (which put P above 1 by ~7e-4)."""
    rng = np.random.default_rng(7)
    q, k, v = (30 * a for a in _qkv(rng, lead=(2, 2), L=9, S=7, E=16, Ev=4))
    g = rng.standard_normal((2, 2, 9, 4))
    grads = []
    for dtype in (np.float32, np.float64):
        (fq, fk, fv), _ = _pair(*(a.astype(dtype) for a in (q, k, v)))
        F.scaled_dot_product_attention(fq, fk, fv).backward(fastdl.tensor(g.astype(dtype)))
        grads.append(fv.grad.numpy())
    # dV = P^T dO: its error is P's error times |dO| ~ 1
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=2e-5)


def test_float_mask_of_another_dtype_is_cast_to_the_query_dtype():
    rng = np.random.default_rng(8)
    q, k, v = _qkv(rng, lead=(2,))
    mask = rng.standard_normal((3, 5)).astype(np.float32)
    (fq, fk, fv), (tq, tk, tv) = _pair(q, k, v)
    fm, tm = fastdl.tensor(mask).requires_grad_(), torch.tensor(mask, requires_grad=True)
    fo = F.scaled_dot_product_attention(fq, fk, fv, attn_mask=fm)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    assert fo.dtype == fastdl.float64
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-7)
    fo.sum().backward()
    to.sum().backward()
    assert fm.grad.numpy().dtype == np.float32
    np.testing.assert_allclose(fm.grad.numpy(), tm.grad.numpy(), rtol=1e-5, atol=1e-6)
