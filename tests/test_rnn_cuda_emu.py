"""The CUDA recurrent kernels (csrc/cuda/rnn: gate kernels and sequence drivers on our CUDA GEMM)
run by the emulator, against the CPU kernels: outputs, final states, every workspace array the
backward reads, and every gradient, for each mode, both directions, with and without lengths,
under two schedules. Sizes are small (emulation is slow) and odd."""
import numpy as np
import pytest

import fastdl
from fastdl import _C

emu = fastdl.cuda.emulator()
SCHEDULES = ("forward", "warp_at_a_time")
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _arrays(mode, T, B, I, H, dtype, seed):
    r = np.random.default_rng(seed)
    G = GATES[mode]
    f = lambda *s, scale=0.5: (r.standard_normal(s) * scale).astype(dtype)  # noqa: E731
    return dict(x=f(T, B, I, scale=1.0), w_ih=f(G * H, I), w_hh=f(G * H, H), b_ih=f(G * H),
                b_hh=f(G * H), h0=f(B, H, scale=1.0), c0=f(B, H, scale=1.0),
                dy=f(T, B, H, scale=1.0), dhT=f(B, H, scale=1.0), dcT=f(B, H, scale=1.0))


def _cpu(mode, a, lengths, reverse):
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


def _emulated(mode, a, lengths, reverse, schedule):
    T, B, _ = a["x"].shape
    H = a["h0"].shape[1]
    G = GATES[mode]
    dt = a["x"].dtype
    lstm, has_ws1 = mode == "lstm", mode in ("lstm", "gru")
    e = lambda *s: np.full(s, np.nan, dt)  # noqa: E731  (every element must be written)
    out = dict(y=e(T, B, H), hT=e(B, H), ws0=e(T, B, G * H), hprev=e(T, B, H))
    if lstm:
        out["cT"] = e(B, H)
    if has_ws1:
        out["ws1"] = e(T, B, H)
    emu.rnn_forward(mode, a["x"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"], a["h0"],
                    a["c0"] if lstm else None, lengths, reverse, out["y"], out["hT"],
                    out.get("cT"), out["ws0"], out.get("ws1"), out["hprev"], schedule=schedule,
                    seed=3)
    grads = dict(dx=e(*a["x"].shape), dw_ih=e(*a["w_ih"].shape), dw_hh=e(*a["w_hh"].shape),
                 db_ih=e(G * H), db_hh=e(G * H), dh0=e(B, H))
    if lstm:
        grads["dc0"] = e(B, H)
    emu.rnn_backward(mode, a["x"], a["w_ih"], a["w_hh"], lengths, reverse, out["ws0"],
                     out.get("ws1"), out["hprev"], a["dy"], a["dhT"], a["dcT"] if lstm else None,
                     grads["dx"], grads["dw_ih"], grads["dw_hh"], grads["db_ih"], grads["db_hh"],
                     grads["dh0"], grads.get("dc0"), schedule=schedule, seed=3)
    return out, grads


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("reverse,lengths", [(False, None), (True, [5, 3, 3]),
                                             (False, [5, 4, 1])])
def test_emulated_matches_cpu_float64(mode, reverse, lengths, schedule):
    a = _arrays(mode, 5, 3, 4, 7, np.float64, 1)
    L = None if lengths is None else np.array(lengths, np.int64)
    cpu_out, cpu_grads = _cpu(mode, a, L, reverse)
    emu_out, emu_grads = _emulated(mode, a, L, reverse, schedule)
    for k, v in cpu_out.items():
        if k == "ws0" and lengths is not None:  # padded rows of the gate buffer are never read
            active = np.array([[t < n for n in lengths] for t in range(5)])
            v, w = v[active], emu_out[k][active]
        else:
            w = emu_out[k]
        np.testing.assert_allclose(w, v, rtol=1e-12, atol=1e-12, err_msg=k)
    for k, v in cpu_grads.items():
        np.testing.assert_allclose(emu_grads[k], v, rtol=1e-10, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_emulated_matches_cpu_float32(mode):
    a = _arrays(mode, 4, 5, 3, 9, np.float32, 2)
    cpu_out, cpu_grads = _cpu(mode, a, None, False)
    emu_out, emu_grads = _emulated(mode, a, None, False, "random")
    for k in ("y", "hT"):
        np.testing.assert_allclose(emu_out[k], cpu_out[k], rtol=1e-4, atol=1e-5, err_msg=k)
    for k, v in cpu_grads.items():
        np.testing.assert_allclose(emu_grads[k], v, rtol=1e-3, atol=1e-4, err_msg=k)


def test_emulated_rnn_bad_input():
    a = _arrays("gru", 3, 2, 2, 3, np.float64, 0)
    y, hT = np.empty((3, 2, 3)), np.empty((2, 3))
    ws0, ws1, hp = np.empty((3, 2, 9)), np.empty((3, 2, 3)), np.empty((3, 2, 3))
    with pytest.raises(ValueError, match="mode"):
        emu.rnn_forward("lstmx", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None, None,
                        False, y, hT, None, ws0, ws1, hp)
    with pytest.raises(ValueError, match="ws1"):
        emu.rnn_forward("gru", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None, None,
                        False, y, hT, None, ws0, None, hp)
    with pytest.raises(ValueError, match="decreasing"):
        emu.rnn_forward("gru", a["x"], a["w_ih"], a["w_hh"], None, None, a["h0"], None,
                        np.array([1, 3]), False, y, hT, None, ws0, ws1, hp)
    with pytest.raises(TypeError, match="dtype"):
        emu.rnn_forward("gru", a["x"].astype(np.float32), a["w_ih"], a["w_hh"], None, None,
                        a["h0"], None, None, False, y, hT, None, ws0, ws1, hp)
