"""Shared by the CUDA recurrent kernels' tests (emulator and GPU): random problems and the CPU
kernels' results (outputs, workspace, gradients) in the CUDA drivers' argument layout."""
import numpy as np

from fastdl import _C

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def rnn_arrays(mode, T, B, I, H, dtype, seed):
    r = np.random.default_rng(seed)
    G = GATES[mode]
    f = lambda *s, scale=0.5: (r.standard_normal(s) * scale).astype(dtype)  # noqa: E731
    return dict(x=f(T, B, I, scale=1.0), w_ih=f(G * H, I), w_hh=f(G * H, H), b_ih=f(G * H),
                b_hh=f(G * H), h0=f(B, H, scale=1.0), c0=f(B, H, scale=1.0),
                dy=f(T, B, H, scale=1.0), dhT=f(B, H, scale=1.0), dcT=f(B, H, scale=1.0))


def cpu_kernels(mode, a, lengths, reverse):
    T, B, _ = a["x"].shape
    H = a["h0"].shape[1]
    G = GATES[mode]
    dt = a["x"].dtype
    e = lambda *s: np.empty(s, dt)  # noqa: E731
    y, hT, ws0, hp = e(T, B, H), e(B, H), e(T, B, G * H), e(T, B, H)
    ws1 = e(T, B, H)
    cT = e(B, H)
    grads = dict(dx=np.empty_like(a["x"]), dw_ih=np.empty_like(a["w_ih"]),
                 dw_hh=np.empty_like(a["w_hh"]), db_ih=e(G * H), db_hh=e(G * H), dh0=e(B, H),
                 dc0=e(B, H))
    if mode == "lstm":
        _C.lstm_forward(a["x"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"], None, a["h0"],
                        a["c0"], lengths, reverse, y, hT, cT, ws0, ws1, hp, None)
        _C.lstm_backward(a["x"], a["w_ih"], a["w_hh"], None, lengths, reverse, ws0, ws1, hp,
                         None, a["dy"], a["dhT"], a["dcT"], grads["dx"], grads["dw_ih"],
                         grads["dw_hh"], grads["db_ih"], None, grads["dh0"], grads["dc0"])
        grads["db_hh"] = grads["db_ih"]
        return dict(y=y, hT=hT, cT=cT, ws0=ws0, ws1=ws1, hprev=hp), grads
    if mode == "gru":
        _C.gru_forward(a["x"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"], a["h0"], lengths,
                       reverse, y, hT, ws0, ws1, hp)
        _C.gru_backward(a["x"], a["w_ih"], a["w_hh"], lengths, reverse, ws0, ws1, hp, a["dy"],
                        a["dhT"], grads["dx"], grads["dw_ih"], grads["dw_hh"], grads["db_ih"],
                        grads["db_hh"], grads["dh0"])
        del grads["dc0"]
        return dict(y=y, hT=hT, ws0=ws0, ws1=ws1, hprev=hp), grads
    nl = mode[4:]
    _C.rnn_forward(nl, a["x"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"], a["h0"], lengths,
                   reverse, y, hT, ws0, hp)
    _C.rnn_backward(nl, a["x"], a["w_ih"], a["w_hh"], lengths, reverse, ws0, hp, a["dy"],
                    a["dhT"], grads["dx"], grads["dw_ih"], grads["dw_hh"], grads["db_ih"],
                    grads["dh0"])
    grads["db_hh"] = grads["db_ih"]
    del grads["dc0"]
    return dict(y=y, hT=hT, ws0=ws0, hprev=hp), grads


def cuda_driver(mod, mode, a, lengths, reverse, dev=lambda v: v, host=lambda v: v, need_dx=True,
                **kw):
    """mod.rnn_forward then mod.rnn_backward (the CUDA drivers: _C_cuda with dev/host moving
    arrays to and from the GPU, or the emulator) on the problem ``a``; every output starts as NaN
    (each element must be written). Returns (outputs and workspace, gradients) on the host;
    need_dx=False passes dx=None (no "dx" among the gradients)."""
    T, B, _ = a["x"].shape
    H = a["h0"].shape[1]
    G = GATES[mode]
    dt = a["x"].dtype
    lstm, has_ws1 = mode == "lstm", mode in ("lstm", "gru")
    e = lambda *s: dev(np.full(s, np.nan, dt))  # noqa: E731
    d = {k: dev(v) for k, v in a.items()}
    out = dict(y=e(T, B, H), hT=e(B, H), ws0=e(T, B, G * H), hprev=e(T, B, H))
    if lstm:
        out["cT"] = e(B, H)
    if has_ws1:
        out["ws1"] = e(T, B, H)
    mod.rnn_forward(mode, d["x"], d["w_ih"], d["w_hh"], d["b_ih"], d["b_hh"], d["h0"],
                    d["c0"] if lstm else None, lengths, reverse, out["y"], out["hT"],
                    out.get("cT"), out["ws0"], out.get("ws1"), out["hprev"], **kw)
    grads = dict(dx=e(*a["x"].shape) if need_dx else None, dw_ih=e(*a["w_ih"].shape),
                 dw_hh=e(*a["w_hh"].shape), db_ih=e(G * H), db_hh=e(G * H), dh0=e(B, H))
    if lstm:
        grads["dc0"] = e(B, H)
    mod.rnn_backward(mode, d["x"], d["w_ih"], d["w_hh"], lengths, reverse, out["ws0"],
                     out.get("ws1"), out["hprev"], d["dy"], d["dhT"], d["dcT"] if lstm else None,
                     grads["dx"], grads["dw_ih"], grads["dw_hh"], grads["db_ih"], grads["db_hh"],
                     grads["dh0"], grads.get("dc0"), **kw)
    return ({k: host(v) for k, v in out.items()},
            {k: host(v) for k, v in grads.items() if v is not None})


def assert_matches(got, want, lengths, rtol, atol):
    """got vs want (dicts of outputs/workspace or gradients); padded rows of the gate buffer
    (ws0) are never read, so only active rows are compared there."""
    assert set(got) == set(want)
    for k, v in want.items():
        w = got[k]
        if k == "ws0" and lengths is not None:
            active = np.array([[t < n for n in lengths] for t in range(v.shape[0])])
            v, w = v[active], w[active]
        np.testing.assert_allclose(w, v, rtol=rtol, atol=atol, err_msg=k)
