"""``F.multi_head_attention_forward`` against torch's: every sample of torch's OpInfo (dropout
included, with torch's keep mask), odd shapes with every option (masks of both kinds, bias_k,
add_zero_attn, static keys, separate projections, per-head weights, the is_causal hint), the
flash path (no weights) and the explicit one, gradients, float64 gradcheck, errors, and the
module running through it."""
import warnings
from unittest import mock

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.nn.functional import multi_head_attention as mha_functional
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _torch_keep_mask(shape, p, dtype, device):
    """torch's own draw inside the OpInfo's wrapper_set_seed (manual_seed(42))."""
    with torch.random.fork_rng():
        torch.manual_seed(42)
        t_dtype = torch.float64 if dtype == np.float64 else torch.float32
        return TF.dropout(torch.ones(shape, dtype=t_dtype), p).numpy()


def _to_fastdl(x, grad=False):
    if isinstance(x, torch.Tensor):
        return fastdl.tensor(x.detach().numpy().copy(), requires_grad=grad and x.requires_grad)
    return x


def _close(f, t, dtype):
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-11)
    if t is None:
        assert f is None
        return
    np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), **tol)


def test_every_opinfo_sample_without_grad():
    """The OpInfo's no-grad samples (192: unbatched and batched, separate projections, no/2-D/
    3-D masks, heads 1 and 2, dropout 0 and 0.5); the conformance harness runs the grad one."""
    pytest.importorskip("expecttest")  # torch's test databases import it
    from torch.testing._internal.common_methods_invocations import op_db
    op = next(o for o in op_db if o.name == "nn.functional.multi_head_attention_forward")
    n = 0
    for dtype in (torch.float32, torch.float64):
        for sample in op.sample_inputs("cpu", dtype, requires_grad=False):
            t_out = op.op(sample.input, *sample.args, **sample.kwargs)
            f_args = [_to_fastdl(a) for a in (sample.input,) + tuple(sample.args)]
            f_kwargs = {k: _to_fastdl(v) for k, v in sample.kwargs.items()}
            with mock.patch.object(mha_functional, "_draw_keep_mask", _torch_keep_mask):
                f_out = F.multi_head_attention_forward(*f_args, **f_kwargs)
            for f, t in zip(f_out, t_out):
                _close(f, t, dtype)
            n += 1
    assert n == 2 * 192


def _case(rng, *, batched=True, L=3, S=5, N=2, E=6, H=3, kdim=None, vdim=None, bias=True,
          bias_kv=False, dtype=np.float64):
    """Arguments (as numpy) for one call: query, key, value and the parameters."""
    kdim, vdim = kdim or E, vdim or E
    lead = (N,) if batched else ()

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    args = dict(query=r(L, *lead, E), key=r(S, *lead, kdim), value=r(S, *lead, vdim),
                in_proj_bias=r(3 * E) if bias else None, out_proj_weight=r(E, E),
                out_proj_bias=r(E) if bias else None,
                bias_k=r(1, 1, E) if bias_kv else None, bias_v=r(1, 1, E) if bias_kv else None)
    if kdim == E and vdim == E:
        args["in_proj_weight"] = r(3 * E, E)
    else:
        args.update(in_proj_weight=None, q_proj_weight=r(E, E), k_proj_weight=r(E, kdim),
                    v_proj_weight=r(E, vdim))
    return args


def _call(lib, args, H, grad=False, **kwargs):
    """Run lib's multi_head_attention_forward on the numpy ``args``; returns (out, weights,
    leaves)."""
    wrap = ((lambda a: fastdl.tensor(a, requires_grad=grad)) if lib == "fastdl"
            else (lambda a: torch.tensor(a, requires_grad=grad)))
    t = {k: (None if v is None else wrap(v)) for k, v in args.items()}
    E = args["query"].shape[-1]
    fn = F.multi_head_attention_forward if lib == "fastdl" else TF.multi_head_attention_forward
    extra = {k: (wrap(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    out, w = fn(t["query"], t["key"], t["value"], E, H, t["in_proj_weight"], t["in_proj_bias"],
                t["bias_k"], t["bias_v"], extra.pop("add_zero_attn", False), 0.0,
                t["out_proj_weight"], t["out_proj_bias"],
                use_separate_proj_weight=args["in_proj_weight"] is None,
                q_proj_weight=t.get("q_proj_weight"), k_proj_weight=t.get("k_proj_weight"),
                v_proj_weight=t.get("v_proj_weight"), **extra)
    return out, w, t


CASES = {
    "plain": ({}, {}),
    "unbatched": (dict(batched=False), {}),
    "kdim_vdim": (dict(kdim=5, vdim=7), {}),
    "no_bias": (dict(bias=False), {}),
    "bias_kv": (dict(bias_kv=True), {}),
    "zero_attn": ({}, dict(add_zero_attn=True)),
    "per_head": ({}, dict(average_attn_weights=False)),
    "one_head_odd": (dict(H=1, E=5, L=1, S=1, N=3), {}),
}


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("name", CASES)
def test_against_torch_with_gradients(name, need_weights):
    make, kwargs = CASES[name]
    rng = np.random.default_rng(list(CASES).index(name))
    args = _case(rng, **make)
    H = make.get("H", 3)
    f_out, f_w, f_t = _call("fastdl", args, H, grad=True, need_weights=need_weights, **kwargs)
    t_out, t_w, t_t = _call("torch", args, H, grad=True, need_weights=need_weights, **kwargs)
    _close(f_out, t_out, torch.float64)
    _close(f_w, t_w, torch.float64)
    g = rng.standard_normal(tuple(t_out.shape))
    (f_out * fastdl.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    for k, tv in t_t.items():
        if tv is not None:
            _close(f_t[k].grad, tv.grad, torch.float64)


def _masks(rng, kind, batched, N, H, L, S):
    if kind == "bool2d":
        m = rng.random((L, S)) < 0.3
        m[:, 0] = False  # every row keeps a key
        return m
    if kind == "float3d":
        return rng.standard_normal((N * H if batched else H, L, S))
    return None


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("attn", [None, "bool2d", "float3d"])
@pytest.mark.parametrize("padding", [None, "bool", "float"])
def test_masks_against_torch(attn, padding, batched, need_weights):
    rng = np.random.default_rng(11)
    N, H, L, S = 2, 2, 4, 5
    args = _case(rng, batched=batched, L=L, S=S, N=N, E=4, bias_kv=True)
    kwargs = dict(attn_mask=_masks(rng, attn, batched, N, H, L, S), need_weights=need_weights,
                  add_zero_attn=True)
    if padding is not None:
        kpm = rng.random((N, S) if batched else (S,)) < 0.4
        kpm[..., 1] = False
        kwargs["key_padding_mask"] = kpm if padding == "bool" else np.where(kpm, -1e4, 0.0)
    with warnings.catch_warnings():  # torch deprecates mixing bool and float masks
        warnings.simplefilter("ignore", UserWarning)
        t_out, t_w, _ = _call("torch", args, H, **kwargs)
    f_out, f_w, _ = _call("fastdl", args, H, **kwargs)
    _close(f_out, t_out, torch.float64)
    _close(f_w, t_w, torch.float64)


def test_static_keys_and_values():
    rng = np.random.default_rng(2)
    N, H, L, S, E = 2, 2, 3, 6, 4
    args = _case(rng, L=L, S=4, N=N, E=E, H=H)
    sk, sv = rng.standard_normal((N * H, S, E // H)), rng.standard_normal((N * H, S, E // H))
    for need_weights in (True, False):
        f = _call("fastdl", args, H, static_k=sk, static_v=sv, need_weights=need_weights)
        t = _call("torch", args, H, static_k=sk, static_v=sv, need_weights=need_weights)
        _close(f[0], t[0], torch.float64)
        _close(f[1], t[1], torch.float64)


def test_is_causal_hint_replaces_the_mask_on_the_flash_path():
    rng = np.random.default_rng(3)
    args = _case(rng, L=5, S=5)
    causal = np.triu(np.ones((5, 5), bool), 1)
    garbage = rng.standard_normal((5, 5))  # ignored: the hint wins without weights
    f = _call("fastdl", args, 3, attn_mask=garbage, is_causal=True, need_weights=False)[0]
    ref = _call("torch", args, 3, attn_mask=causal, need_weights=False)[0]
    _close(f, ref, torch.float64)


def test_dropout_matches_torch_with_its_mask_on_both_paths():
    rng = np.random.default_rng(4)
    args = _case(rng, dtype=np.float32)
    for need_weights in (True, False):
        with torch.random.fork_rng():
            torch.manual_seed(42)
            t_args = {k: None if v is None else torch.tensor(v) for k, v in args.items()}
            t_out, _ = TF.multi_head_attention_forward(
                t_args["query"], t_args["key"], t_args["value"], 6, 3, t_args["in_proj_weight"],
                t_args["in_proj_bias"], None, None, False, 0.5, t_args["out_proj_weight"],
                t_args["out_proj_bias"], need_weights=need_weights)
        if not need_weights:
            continue  # torch's SDPA draws its dropout mask differently (a fused kernel)
        f_args = {k: None if v is None else fastdl.tensor(v) for k, v in args.items()}
        with mock.patch.object(mha_functional, "_draw_keep_mask", _torch_keep_mask):
            f_out, _ = F.multi_head_attention_forward(
                f_args["query"], f_args["key"], f_args["value"], 6, 3, f_args["in_proj_weight"],
                f_args["in_proj_bias"], None, None, False, 0.5, f_args["out_proj_weight"],
                f_args["out_proj_bias"], need_weights=need_weights)
        _close(f_out, t_out, torch.float32)


def test_dropout_seeded_and_off_in_eval():
    rng = np.random.default_rng(5)
    a = {k: None if v is None else fastdl.tensor(v) for k, v in _case(rng).items()}

    def run(need_weights, training=True):
        return F.multi_head_attention_forward(
            a["query"], a["key"], a["value"], 6, 3, a["in_proj_weight"], a["in_proj_bias"],
            None, None, False, 0.5, a["out_proj_weight"], a["out_proj_bias"],
            training=training, need_weights=need_weights)[0].numpy()
    for need_weights in (True, False):
        fastdl.manual_seed(7)
        x = run(need_weights)
        fastdl.manual_seed(7)
        np.testing.assert_array_equal(x, run(need_weights))
        assert not np.allclose(x, run(need_weights, training=False))
    np.testing.assert_allclose(run(True, False), run(False, False), rtol=1e-10)


@pytest.mark.parametrize("need_weights", [True, False])
def test_gradcheck_float64(need_weights):
    rng = np.random.default_rng(6)
    args = _case(rng, L=2, S=3, N=2, E=4, bias_kv=True)
    names = [k for k, v in args.items() if v is not None]
    leaves = [fastdl.tensor(args[k], requires_grad=True) for k in names]
    mask = fastdl.tensor(rng.standard_normal((2, 3)))

    def fn(*xs):
        a = dict(zip(names, xs))
        out, w = F.multi_head_attention_forward(
            a["query"], a["key"], a["value"], 4, 2, a["in_proj_weight"], a["in_proj_bias"],
            a["bias_k"], a["bias_v"], True, 0.0, a["out_proj_weight"], a["out_proj_bias"],
            attn_mask=mask, need_weights=need_weights)
        return (out, w) if need_weights else out
    assert gradcheck(fn, leaves)


def _fastdl_args(**make):
    rng = np.random.default_rng(8)
    return {k: None if v is None else fastdl.tensor(v) for k, v in _case(rng, **make).items()}


def _bad_call(a, **overrides):
    call = dict(query=a["query"], key=a["key"], value=a["value"], embed_dim_to_check=6,
                num_heads=3, in_proj_weight=a["in_proj_weight"], in_proj_bias=a["in_proj_bias"],
                bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
                out_proj_weight=a["out_proj_weight"], out_proj_bias=a["out_proj_bias"])
    call.update(overrides)
    return F.multi_head_attention_forward(**call)


@pytest.mark.parametrize("overrides, error, match", [
    (dict(query="4d"), AssertionError, "unbatched 2D or batched 3D"),
    (dict(key="2d"), AssertionError, "expected `key` and `value` to be 3-D"),
    (dict(embed_dim_to_check=8), AssertionError, "embedding dimension of 8"),
    (dict(num_heads=4), AssertionError, "not divisible by num_heads"),
    (dict(value="short"), AssertionError, "does not match value shape"),
    (dict(in_proj_weight=None), AssertionError, "in_proj_weight is None"),
    (dict(use_separate_proj_weight=True), AssertionError, "q_proj_weight is None"),
    (dict(attn_mask=(4, 5)), RuntimeError, "2D attn_mask"),
    (dict(attn_mask=(5, 3, 5)), RuntimeError, "3D attn_mask"),
    (dict(attn_mask=(1, 1, 3, 5)), AssertionError, "`attn_mask` to be `None`, 2-D or 3-D"),
    (dict(attn_mask="int"), AssertionError, "only bool and floating types of attn_mask"),
    (dict(key_padding_mask=(2, 4)), AssertionError, "key_padding_mask"),
    (dict(key_padding_mask=(5,)), AssertionError, "key_padding_mask` to be `None` or 2-D"),
    (dict(is_causal=True), RuntimeError, "is_causal"),
    (dict(bias_k="only"), AssertionError, "bias_k and bias_v"),
    (dict(static_k=(4, 5, 2)), AssertionError, "static_k.size\\(0\\) of 6"),
    (dict(static_v=(6, 5, 3)), AssertionError, "static_v.size\\(2\\) of 2"),
    (dict(static_k=(6, 5, 2), bias_k="both"), AssertionError, "bias cannot be added"),
])
def test_bad_inputs_raise_torch_errors(overrides, error, match):
    a = _fastdl_args()
    fix = {}
    for k, v in overrides.items():
        if v == "4d":
            v = fastdl.zeros(3, 2, 1, 6)
        elif v == "2d":
            v = fastdl.zeros(5, 6)
        elif v == "short":
            v = fastdl.zeros(4, 2, 6)
        elif v == "int":
            v = fastdl.tensor(np.zeros((3, 5), np.int64))
        elif v in ("only", "both"):
            fix["bias_v"] = None if v == "only" else fastdl.zeros(1, 1, 6)
            v = fastdl.zeros(1, 1, 6)
        elif isinstance(v, tuple):
            v = fastdl.zeros(*v) if k != "key_padding_mask" else fastdl.tensor(np.zeros(v, bool))
        fix[k] = v
    with pytest.raises(error, match=match):
        _bad_call(a, **fix)


@pytest.mark.parametrize("batch_first", [False, True])
def test_module_runs_through_the_functional(batch_first, monkeypatch):
    """nn.MultiheadAttention is this functional with its parameters (one implementation)."""
    m = fastdl.nn.MultiheadAttention(6, 3, batch_first=batch_first, add_bias_kv=True)
    x = fastdl.randn(2, 4, 6)
    calls = []
    real = F.multi_head_attention_forward
    monkeypatch.setattr(F, "multi_head_attention_forward",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    out, w = m(x, x, x)
    assert calls and out.shape == (2, 4, 6)
    xs = x.transpose(0, 1) if batch_first else x
    ref, ref_w = real(xs, xs, xs, 6, 3, m.in_proj_weight, m.in_proj_bias, m.bias_k, m.bias_v,
                      False, 0.0, m.out_proj.weight, m.out_proj.bias)
    ref = ref.transpose(0, 1) if batch_first else ref
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(w.detach().numpy(), ref_w.detach().numpy())
