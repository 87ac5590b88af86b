"""torch.lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell and the stacked torch.lstm /
gru / rnn_tanh / rnn_relu (padded and packed overloads) against torch 2.13 on random inputs
and weights: outputs, states and every gradient in float32 and float64, float64 gradcheck
through the cells, and torch's errors."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")

DTYPES = [(np.float32, 2e-5), (np.float64, 1e-10)]
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def both(a):
    return (fastdl.tensor(a.copy(), requires_grad=True),
            torch.tensor(a.copy(), requires_grad=True))


def check_outputs_and_grads(got, want, pairs, tol, rng):
    got, want = list(got), list(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape) and str(g.dtype) == str(w.dtype)[6:]
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=tol, atol=tol)
    projs = [rng.standard_normal(tuple(w.shape)).astype(g.detach().numpy().dtype)
             for g, w in zip(got, want)]
    sum((g * fastdl.tensor(p)).sum() for g, p in zip(got, projs)).backward()
    sum((w * torch.tensor(p)).sum() for w, p in zip(want, projs)).backward()
    for f, t in pairs:
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=tol * 20, atol=tol * 20)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("biases", ["both", "none", "ih_only", "hh_only"])
def test_cells_match_torch(mode, biases, dtype, tol):
    rng = np.random.default_rng()
    n, i, h = 3, 5, 7
    g = GATES[mode] * h
    arrays = [rng.standard_normal(s).astype(dtype) * 0.5 for s in
              ((n, i), (n, h), (n, h), (g, i), (g, h), (g,), (g,))]
    pairs = [both(a) for a in arrays]
    f, t = [p[0] for p in pairs], [p[1] for p in pairs]
    b_f = [f[5] if biases in ("both", "ih_only") else None,
           f[6] if biases in ("both", "hh_only") else None]
    b_t = [t[5] if biases in ("both", "ih_only") else None,
           t[6] if biases in ("both", "hh_only") else None]
    used = [0, 1, 3, 4] + ([2] if mode == "lstm" else []) + \
        [k for k, b in zip((5, 6), b_f) if b is not None]
    if mode == "lstm":
        got = fastdl.lstm_cell(f[0], (f[1], f[2]), f[3], f[4], *b_f)
        want = torch.lstm_cell(t[0], (t[1], t[2]), t[3], t[4], *b_t)
        assert isinstance(got, tuple) and len(got) == 2
    else:
        got = (getattr(fastdl, f"{mode}_cell")(f[0], f[1], f[3], f[4], *b_f),)
        want = (getattr(torch, f"{mode}_cell")(t[0], t[1], t[3], t[4], *b_t),)
    check_outputs_and_grads(got, want, [pairs[k] for k in used], tol, rng)


@pytest.mark.parametrize("mode", list(GATES))
def test_cells_gradcheck(mode):
    rng = np.random.default_rng()
    n, i, h = 2, 3, 4
    g = GATES[mode] * h
    ts = [fastdl.tensor(rng.standard_normal(s) * 0.5, requires_grad=True) for s in
          ((n, i), (n, h), (n, h), (g, i), (g, h), (g,), (g,))]
    if mode == "lstm":
        def fn(x, h, c, wi, wh, bi, bh):
            return fastdl.lstm_cell(x, (h, c), wi, wh, bi, bh)
        assert gradcheck(fn, ts)
    else:
        cell = getattr(fastdl, f"{mode}_cell")
        assert gradcheck(lambda x, h, wi, wh, bi: cell(x, h, wi, wh, bi),
                         [ts[0], ts[1], ts[3], ts[4], ts[5]])


def test_cell_errors():
    rng = np.random.default_rng()
    n, i, h = 3, 4, 5
    a = {k: rng.standard_normal(s).astype(np.float32) for k, s in
         (("x", (n, i)), ("h", (n, h)), ("c", (n, h)), ("wi", (4 * h, i)), ("wh", (4 * h, h)),
          ("bi", (4 * h,)), ("bh", (4 * h,)))}
    F = {k: fastdl.tensor(v) for k, v in a.items()}
    T = {k: torch.tensor(v) for k, v in a.items()}

    def lstm_args(L, **change):
        d = dict(L)
        for k, fn in change.items():
            d[k] = fn(d[k])
        return d["x"], (d["h"], d["c"]), d["wi"], d["wh"], d["bi"], d["bh"]

    changes = [dict(wi=lambda w: w[:, :3]), dict(h=lambda s: s[:2]), dict(x=lambda x: x[0]),
               dict(wi=lambda w: w[:19]), dict(c=lambda s: s[:, :3]),
               dict(x=lambda x: x.double() if hasattr(x, "double") else x)]
    for ch in changes:
        with pytest.raises(Exception) as want:
            torch.lstm_cell(*lstm_args(T, **ch))
        with pytest.raises(type(want.value)):
            fastdl.lstm_cell(*lstm_args(F, **ch))
    for hx_f, hx_t in (((F["h"],), (T["h"],)), ((F["h"], F["c"], F["c"]), (T["h"], T["c"], T["c"])),
                       (F["h"], T["h"])):
        with pytest.raises(Exception) as want:
            torch.lstm_cell(T["x"], hx_t, T["wi"], T["wh"])
        with pytest.raises(type(want.value)):
            fastdl.lstm_cell(F["x"], hx_f, F["wi"], F["wh"])
    for fn, hx_f, hx_t, rows in (("gru_cell", (F["h"],), (T["h"],), 3 * h),
                                 ("gru_cell", F["h"], T["h"], 4 * h),
                                 ("rnn_tanh_cell", F["h"][0], T["h"][0], h),
                                 ("rnn_relu_cell", F["h"].double(), T["h"].double(), h)):
        with pytest.raises(Exception) as want:
            getattr(torch, fn)(T["x"], hx_t, T["wi"][:rows], T["wh"][:rows])
        with pytest.raises(type(want.value)):
            getattr(fastdl, fn)(F["x"], hx_f, F["wi"][:rows], F["wh"][:rows])


def _module(mode, i, h, layers, bidirectional, bias, proj, dtype):
    kw = dict(num_layers=layers, bidirectional=bidirectional, bias=bias)
    if mode == "lstm":
        m = torch.nn.LSTM(i, h, proj_size=proj, **kw)
    elif mode == "gru":
        m = torch.nn.GRU(i, h, **kw)
    else:
        m = torch.nn.RNN(i, h, nonlinearity=mode[4:], **kw)
    return [w.detach().numpy().astype(dtype) for w in m._flat_weights]


LAYER_CASES = [  # mode, layers, bidirectional, bias, proj, batch_first
    ("lstm", 1, False, True, 0, False), ("lstm", 2, True, True, 0, True),
    ("lstm", 2, False, False, 3, False), ("gru", 2, True, True, 0, False),
    ("gru", 1, False, False, 0, True), ("rnn_tanh", 3, False, True, 0, False),
    ("rnn_relu", 2, True, True, 0, True),
]


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("case", LAYER_CASES)
def test_stacked_layers_match_torch(case, dtype, tol):
    mode, layers, bidir, bias, proj, batch_first = case
    rng = np.random.default_rng()
    steps, n, i, h = 6, 3, 5, 4
    dirs = 2 if bidir else 1
    out = proj or h
    x = rng.standard_normal((n, steps, i) if batch_first else (steps, n, i)).astype(dtype)
    states = [rng.standard_normal((layers * dirs, n, out)).astype(dtype)]
    if mode == "lstm":
        states.append(rng.standard_normal((layers * dirs, n, h)).astype(dtype))
    weights = _module(mode, i, h, layers, bidir, bias, proj, dtype)
    pairs = [both(a) for a in [x, *states, *weights]]
    f, t = [p[0] for p in pairs], [p[1] for p in pairs]
    k = len(states) + 1
    hx_f = (f[1], f[2]) if mode == "lstm" else f[1]
    hx_t = (t[1], t[2]) if mode == "lstm" else t[1]
    rest = (bias, layers, 0.0, True, bidir, batch_first)
    got = getattr(fastdl, mode)(f[0], hx_f, f[k:], *rest)
    want = getattr(torch, mode)(t[0], hx_t, t[k:], *rest)
    check_outputs_and_grads(got, want, pairs, tol * 10, rng)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("mode,bidir", [("lstm", True), ("gru", False), ("rnn_tanh", True),
                                        ("rnn_relu", False)])
def test_packed_overload_matches_torch(mode, bidir, dtype, tol):
    rng = np.random.default_rng()
    n, i, h, layers = 4, 3, 5, 2
    dirs = 2 if bidir else 1
    lengths = sorted(rng.integers(1, 7, n).tolist(), reverse=True)
    padded = torch.tensor(rng.standard_normal((max(lengths), n, i)).astype(dtype))
    packed = torch.nn.utils.rnn.pack_padded_sequence(padded, lengths)
    states = [rng.standard_normal((layers * dirs, n, h)).astype(dtype)
              for _ in range(2 if mode == "lstm" else 1)]
    weights = _module(mode, i, h, layers, bidir, True, 0, dtype)
    pairs = [both(a) for a in [packed.data.numpy(), *states, *weights]]
    f, t = [p[0] for p in pairs], [p[1] for p in pairs]
    k = len(states) + 1
    hx_f = tuple(f[1:k]) if mode == "lstm" else f[1]
    hx_t = tuple(t[1:k]) if mode == "lstm" else t[1]
    rest = (True, layers, 0.0, False, bidir)
    got = getattr(fastdl, mode)(f[0], fastdl.tensor(packed.batch_sizes.numpy()), hx_f, f[k:],
                                *rest)
    want = getattr(torch, mode)(t[0], packed.batch_sizes, hx_t, t[k:], *rest)
    check_outputs_and_grads(got, want, pairs, tol * 10, rng)


def test_stacked_dropout_and_gradcheck():
    rng = np.random.default_rng()
    weights = [fastdl.tensor(w, requires_grad=True)
               for w in _module("gru", 2, 3, 2, False, True, 0, np.float64)]
    x = fastdl.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = fastdl.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda x, h0, *w: fastdl.gru(x, h0, w, True, 2, 0.0, False, False,
                                                  False), [x, h0, *weights])
    # dropout between layers only in training; p=1 zeroes the second layer's input
    out_eval = fastdl.gru(x, h0, weights, True, 2, 1.0, False, False, False)[0]
    out_drop = fastdl.gru(x, h0, weights, True, 2, 1.0, True, False, False)[0]
    assert not np.allclose(out_eval.detach().numpy(), out_drop.detach().numpy())
    layer2 = fastdl.gru(fastdl.zeros(4, 2, 3, dtype=fastdl.float64), h0[1:], weights[4:], True,
                        1, 0.0, False, False, False)[0]
    np.testing.assert_allclose(out_drop.detach().numpy(), layer2.detach().numpy(), rtol=1e-12)


def test_stacked_errors():
    rng = np.random.default_rng()
    steps, n, i, h, layers = 5, 3, 4, 6, 2
    x = rng.standard_normal((steps, n, i)).astype(np.float32)
    hs = rng.standard_normal((2 * layers, n, h)).astype(np.float32)
    lw = _module("lstm", i, h, layers, True, True, 0, np.float32)
    gw = _module("gru", i, h, layers, False, True, 0, np.float32)
    cases = [
        ("lstm", lambda m: (m(x), (m(hs), m(hs)), [m(w) for w in lw[:-1]], True, layers, 0.0,
                            False, True, False)),
        ("lstm", lambda m: (m(x), (m(hs),), [m(w) for w in lw], True, layers, 0.0, False, True,
                            False)),
        ("gru", lambda m: (m(x), m(hs[:layers]), [m(w) for w in gw], True, 3, 0.0, False,
                           False, False)),
        ("gru", lambda m: (m(x[0]), m(hs[:layers, 0]), [m(w) for w in gw], True, layers, 0.0,
                           False, False, False)),
        ("gru", lambda m: (m(x), m(hs[:layers].astype(np.float64)), [m(w) for w in gw], True,
                           layers, 0.0, False, False, False)),
        ("gru", lambda m: (m(x), m(hs[:layers]), [m(w) for w in gw], True, layers, 1.5, True,
                           False, False)),
        ("gru", lambda m: (m(x[..., :3]), m(hs[:layers]), [m(w) for w in gw], True, layers,
                           0.0, False, False, False)),
        ("gru", lambda m: (m(x), m(hs[:layers, :2]), [m(w) for w in gw], True, layers, 0.0,
                           False, False, False)),
    ]
    for mode, make in cases:
        with pytest.raises(Exception) as want:
            getattr(torch, mode)(*make(torch.tensor))
        with pytest.raises(type(want.value)):
            getattr(fastdl, mode)(*make(fastdl.tensor))
