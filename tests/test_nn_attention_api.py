"""fastdl.nn.attention (SDPBackend, sdpa_kernel) and fastdl.nn.attention.bias (causal biases)
against torch 2.13: members, flags and their errors, and scaled_dot_product_attention's values
and gradients with causal_upper_left / causal_lower_right masks, square and not."""
import warnings

import numpy as np
import pytest

import fastdl
from fastdl.nn.attention import SDPBackend, sdpa_kernel
from fastdl.nn.attention.bias import (CausalBias, CausalVariant, causal_lower_right,
                                      causal_upper_left)

torch = pytest.importorskip("torch")
import torch.nn.attention as tattn  # noqa: E402
import torch.nn.attention.bias as tbias  # noqa: E402

F = fastdl.nn.functional
rng = np.random.default_rng(0)


def test_backend_members_match_torch():
    ours = {name: int(m) for name, m in SDPBackend.__members__.items()}
    theirs = {name: int(m) for name, m in tattn.SDPBackend.__members__.items()}
    assert ours == theirs
    for name in theirs:
        a, b = getattr(SDPBackend, name), getattr(tattn.SDPBackend, name)
        assert (str(a), repr(a), a.name, a.value, hash(a)) == (str(b), repr(b), b.name, b.value,
                                                                hash(b))
        assert (a == int(a)) == (b == int(b))
    assert SDPBackend(0) is SDPBackend.MATH
    assert [int(v) for v in CausalVariant] == [int(v) for v in tbias.CausalVariant]
    assert [v.name for v in CausalVariant] == [v.name for v in tbias.CausalVariant]


def _qkv(L=4, S=4, E=8, dtype=np.float64, lib=fastdl, arrays=None):
    arrays = arrays or [rng.standard_normal(s).astype(dtype)
                        for s in ((2, 3, L, E), (2, 3, S, E), (2, 3, S, E))]
    return arrays, [lib.tensor(a, requires_grad=True) for a in arrays]


T = tattn.SDPBackend


@pytest.mark.parametrize("names", [["MATH"], ["FLASH_ATTENTION"], ["FLASH_ATTENTION", "MATH"],
                                   ["EFFICIENT_ATTENTION"], ["CUDNN_ATTENTION"],
                                   ["OVERRIDEABLE"], ["ERROR"], [],
                                   ["EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "OVERRIDEABLE"],
                                   ["ERROR", "MATH"]])
def test_sdpa_kernel_runs_or_refuses_as_torch_on_the_cpu(names):
    arrays, qkv = _qkv()
    outcome = []
    for lib, ctx, enum_, t_in in (
            (F, sdpa_kernel, SDPBackend, qkv),
            (torch.nn.functional, tattn.sdpa_kernel, T, [torch.tensor(a) for a in arrays])):
        try:
            with ctx([getattr(enum_, n) for n in names]):
                out = lib.scaled_dot_product_attention(*t_in)
            outcome.append(("ok", out.detach().numpy()))
        except RuntimeError as e:
            outcome.append(("error", str(e)))
    assert outcome[0][0] == outcome[1][0]
    if outcome[0][0] == "ok":
        np.testing.assert_allclose(outcome[0][1], outcome[1][1], rtol=1e-10, atol=1e-12)
    else:
        assert outcome[0][1] == outcome[1][1]
    # the flags come back: a plain call runs again
    assert F.scaled_dot_product_attention(*qkv).shape == (2, 3, 4, 8)


def test_sdpa_kernel_flags_restore_after_an_error_and_nest():
    q = fastdl.ones(1, 1, 2, 4)
    with pytest.raises(ZeroDivisionError):
        with sdpa_kernel(SDPBackend.ERROR):
            1 / 0
    F.scaled_dot_product_attention(q, q, q)
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.MATH]) as got:
        assert got == {}
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            with pytest.raises(RuntimeError, match="No viable backend"):
                F.scaled_dot_product_attention(q, q, q)
        F.scaled_dot_product_attention(q, q, q)
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION], set_priority=True):
        F.scaled_dot_product_attention(q, q, q)


@pytest.mark.parametrize("bad", ["math", (SDPBackend.MATH,), None, 0])
def test_sdpa_kernel_argument_type_error_as_torch(bad):
    tbad = tuple(getattr(T, b.name) for b in bad) if isinstance(bad, tuple) else bad
    with pytest.raises(AssertionError) as ours:
        with sdpa_kernel(bad):
            pass
    with pytest.raises(AssertionError) as theirs:
        with tattn.sdpa_kernel(tbad):
            pass
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("maker", ["causal_upper_left", "causal_lower_right"])
@pytest.mark.parametrize("L,S", [(5, 5), (3, 7), (7, 3), (1, 6), (6, 1)])
def test_materialize_and_repr_match_torch(maker, L, S):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lower right with L > S warns (checked below)
        ours = getattr(fastdl.nn.attention.bias, maker)(L, S)
        theirs = getattr(tbias, maker)(L, S)
    m = ours._materialize()
    assert m.dtype == fastdl.bool and m.shape == (L, S)
    np.testing.assert_array_equal(m.numpy(), theirs._materialize().numpy())
    np.testing.assert_array_equal(ours.numpy(), m.numpy())  # its own data is the mask
    assert isinstance(ours, fastdl.Tensor) and isinstance(ours, CausalBias)
    assert (ours.variant, ours.seq_len_q, ours.seq_len_kv) == \
        (theirs.variant, theirs.seq_len_q, theirs.seq_len_kv)
    assert repr(ours).replace(" ", "") == repr(theirs).replace(" ", "")


def test_bias_construction_errors_and_warning_as_torch():
    for ours, theirs in ((lambda: causal_upper_left(3), lambda: tbias.causal_upper_left(3)),
                         (lambda: causal_lower_right(1, 2, 3),
                          lambda: tbias.causal_lower_right(1, 2, 3)),
                         (lambda: CausalBias(1, 2, 3), lambda: tbias.CausalBias(1, 2, 3))):
        with pytest.raises(AssertionError) as a:
            ours()
        with pytest.raises(AssertionError) as b:
            theirs()
        assert str(a.value) == str(b.value)
    texts = []
    for make in (causal_lower_right, tbias.causal_lower_right):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            make(4, 2)
            make(2, 4)
        texts.append([(x.category, str(x.message)) for x in w])
    assert texts[0] == texts[1] and len(texts[0]) == 1


def _sdpa_both(make, L, S, **kw):
    arrays, (q, k, v) = _qkv(L, S)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bias, tbias_ = make[0](L, S), make[1](L, S)
    g = rng.standard_normal((2, 3, L, 8))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, **kw)
    out.backward(fastdl.tensor(g))
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tbias_, **kw)
    tout.backward(torch.tensor(g))
    return [out] + [t.grad for t in (q, k, v)], [tout] + [t.grad for t in (tq, tk, tv)]


@pytest.mark.parametrize("variant", ["upper_left", "lower_right"])
@pytest.mark.parametrize("L,S", [(6, 6), (3, 7), (7, 3), (1, 5), (5, 1)])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_with_causal_bias_values_and_gradients_match_torch(variant, L, S, scale):
    make = (getattr(fastdl.nn.attention.bias, "causal_" + variant),
            getattr(tbias, "causal_" + variant))
    ours, theirs = _sdpa_both(make, L, S, scale=scale)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)


def test_upper_left_bias_is_is_causal_and_lower_right_is_its_mask():
    _, (q, k, v) = _qkv(3, 7)
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal_upper_left(3, 7)).detach()
        .numpy(), F.scaled_dot_product_attention(q, k, v, is_causal=True).detach().numpy())
    bias = causal_lower_right(3, 7)
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=bias).detach().numpy(),
        F.scaled_dot_product_attention(q, k, v, attn_mask=bias._materialize()).detach().numpy())
    # the mask is only made for the lower-right call
    lazy = causal_upper_left(3, 7)
    F.scaled_dot_product_attention(q, k, v, attn_mask=lazy)
    assert lazy._mask is None


def test_causal_bias_with_enable_gqa_matches_torch():
    q = rng.standard_normal((1, 4, 3, 8))
    k = rng.standard_normal((1, 2, 5, 8))
    v = rng.standard_normal((1, 2, 5, 8))
    out = F.scaled_dot_product_attention(*(fastdl.tensor(a) for a in (q, k, v)),
                                         attn_mask=causal_lower_right(3, 5), enable_gqa=True)
    tout = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), attn_mask=tbias.causal_lower_right(3, 5),
        enable_gqa=True)
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-10)


def test_causal_bias_with_is_causal_raises_as_torch():
    _, (q, k, v) = _qkv()
    tq = torch.ones(2, 3, 4, 8)
    with pytest.raises(ValueError) as ours:
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal_upper_left(4, 4),
                                       is_causal=True)
    with pytest.raises(ValueError) as theirs:
        torch.nn.functional.scaled_dot_product_attention(
            tq, tq, tq, attn_mask=tbias.causal_upper_left(4, 4), is_causal=True)
    assert str(ours.value) == str(theirs.value)


def test_causal_bias_under_sdpa_kernel_follows_the_flags():
    _, (q, k, v) = _qkv(3, 5)
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        with pytest.raises(RuntimeError, match="No viable backend"):
            F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(3, 5))
    with sdpa_kernel(SDPBackend.MATH):
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(3, 5))


def test_causal_bias_with_dropout_keeps_the_causal_structure():
    """Dropout draws from fastdl's generator (no match with torch's): check that a masked key's
    value never reaches an output row."""
    L, S = 3, 6
    q = fastdl.ones(1, 1, L, 4)
    k = fastdl.ones(1, 1, S, 4)
    v = fastdl.zeros(1, 1, S, 4)
    v[0, 0, -1] = 1000.0  # only the last key, hidden from all rows but the last (lower right)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(L, S),
                                         dropout_p=0.3)
    assert float(out[0, 0, :-1].abs().max()) == 0.0
