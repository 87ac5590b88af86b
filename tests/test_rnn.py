"""Recurrent layers against PyTorch: outputs, final states and every gradient (input, initial
states, all parameters) across modes x layers x directions x batch_first x packed x proj_size,
the cells, the packing utilities, and clear errors for bad input."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastdl
from fastdl import nn as fnn
from fastdl.nn.utils import rnn as frnn

torch = pytest.importorskip("torch")

CLS = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach().numpy())


def _twins(mode, *args, dtype=torch.float64, **kw):
    if mode.startswith("rnn_"):
        kw["nonlinearity"] = mode[4:]
    t = getattr(torch.nn, CLS[mode])(*args, **kw).to(dtype)
    f = getattr(fnn, CLS[mode])(*args, **kw)
    f.to(np.float64 if dtype == torch.float64 else np.float32)
    assert list(f.state_dict()) == list(t.state_dict())
    for (n, p), (fn_, fp) in zip(t.named_parameters(), f.named_parameters()):
        assert n == fn_ and tuple(p.shape) == tuple(fp.shape)
    f.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    return t, f


def _flat(v):
    if isinstance(v, (tuple, list)):
        return [y for x in v for y in _flat(x)]
    if isinstance(v, (frnn.PackedSequence, torch.nn.utils.rnn.PackedSequence)):
        return [v.data]
    return [v]


def _compare(t_out, f_out, t_leaves, f_leaves, rtol, atol, seed=0):
    to, fo = _flat(t_out), _flat(f_out)
    assert len(to) == len(fo)
    for a, b in zip(to, fo):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(b), _np(a), rtol=rtol, atol=atol)
    if not t_leaves:
        return
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(tuple(a.shape)) for a in to]
    t_total = sum((a * torch.tensor(w, dtype=a.dtype)).sum() for a, w in zip(to, ws))
    f_total = sum((b * fastdl.tensor(w.astype(_np(b).dtype))).sum() for b, w in zip(fo, ws))
    t_grads = torch.autograd.grad(t_total, t_leaves, allow_unused=True)
    f_grads = fastdl.autograd.grad(f_total, f_leaves, allow_unused=True)
    for i, (a, b) in enumerate(zip(t_grads, f_grads)):
        if a is None:
            assert b is None or not np.any(_np(b))
            continue
        np.testing.assert_allclose(_np(b), _np(a), rtol=rtol, atol=atol, err_msg=f"grad {i}")


MODES = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
GRID = list(itertools.product(MODES, [1, 2], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("mode,layers,bidir,batch_first,packed", GRID)
def test_layer_matches_torch(mode, layers, bidir, batch_first, packed):
    torch.manual_seed(0)
    I, H, T, B = 3, 5, 6, 4
    t_m, f_m = _twins(mode, I, H, layers, batch_first=batch_first, bidirectional=bidir)
    dirs = 2 if bidir else 1
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    h0 = rng.standard_normal((layers * dirs, B, H))
    c0 = rng.standard_normal((layers * dirs, B, H))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    fx, fh, fc = (fastdl.tensor(a, requires_grad=True) for a in (x, h0, c0))
    hx_t = (th, tc) if mode == "lstm" else th
    hx_f = (fh, fc) if mode == "lstm" else fh
    lengths = [6, 2, 5, 1]  # unsorted: enforce_sorted=False
    if packed:
        t_in = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first,
                                                       enforce_sorted=False)
        f_in = frnn.pack_padded_sequence(fx, lengths, batch_first, enforce_sorted=False)
    else:
        t_in, f_in = tx, fx
    t_out, t_h = t_m(t_in, hx_t)
    f_out, f_h = f_m(f_in, hx_f)
    if packed:  # also through pad_packed_sequence, with its lengths
        t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first)
        f_pad, f_len = frnn.pad_packed_sequence(f_out, batch_first)
        np.testing.assert_array_equal(_np(f_len), t_len.numpy())
        t_out, f_out = (t_out, t_pad), (f_out, f_pad)
    t_leaves = [tx, th] + ([tc] if mode == "lstm" else []) + list(t_m.parameters())
    f_leaves = [fx, fh] + ([fc] if mode == "lstm" else []) + list(f_m.parameters())
    _compare((t_out, t_h), (f_out, f_h), t_leaves, f_leaves, 1e-9, 1e-10)


@pytest.mark.parametrize("layers,bidir,batch_first,packed",
                         list(itertools.product([1, 2], [False, True], [False, True],
                                                [False, True])))
def test_lstm_proj_matches_torch(layers, bidir, batch_first, packed):
    torch.manual_seed(0)
    t_m, f_m = _twins("lstm", 4, 6, layers, batch_first=batch_first, bidirectional=bidir,
                      proj_size=3)
    rng = np.random.default_rng(2)
    T, B = 5, 3
    x = rng.standard_normal((B, T, 4) if batch_first else (T, B, 4))
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    lengths = [5, 3, 4]
    if packed:
        t_in = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first, False)
        f_in = frnn.pack_padded_sequence(fx, lengths, batch_first, False)
    else:
        t_in, f_in = tx, fx
    t_out = t_m(t_in)  # default (zero) initial states
    f_out = f_m(f_in)
    _compare(t_out, f_out, [tx] + list(t_m.parameters()), [fx] + list(f_m.parameters()), 1e-9,
             1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_input_without_grad_skips_its_gradient(mode, monkeypatch):
    """An input that needs no gradient (data, not an earlier layer): the first layer's backward
    kernel gets dx=None (its GEMM is skipped), the second layer's (its input is the first
    layer's output) computes it; every other gradient still equals torch's."""
    from fastdl.nn.functional import rnn as R
    calls = []

    class Spy:
        def __getattr__(self, name):
            fn = getattr(fastdl._C, name)
            if not name.endswith("_backward"):
                return fn

            def spy(*args, **kw):
                dx = args[{"lstm_backward": 13, "gru_backward": 10, "rnn_backward": 10}[name]]
                calls.append(dx is None)
                return fn(*args, **kw)
            return spy

    monkeypatch.setattr(R, "_C", Spy())
    torch.manual_seed(0)
    t_m, f_m = _twins(mode, 3, 5, 2)
    x = np.random.default_rng(4).standard_normal((6, 4, 3))
    tx, fx = torch.tensor(x), fastdl.tensor(x)
    _compare(t_m(tx), f_m(fx), list(t_m.parameters()), list(f_m.parameters()), 1e-9, 1e-10)
    assert calls == [False, True]  # backward runs the last layer first


@pytest.mark.parametrize("mode", MODES)
def test_float32_matches_torch(mode):
    torch.manual_seed(0)
    t_m, f_m = _twins(mode, 8, 16, 2, dtype=torch.float32, bidirectional=True)
    f_m.to(np.float32)
    x = np.random.default_rng(3).standard_normal((7, 5, 8)).astype(np.float32)
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    _compare(t_m(tx), f_m(fx), [tx] + list(t_m.parameters()), [fx] + list(f_m.parameters()),
             2e-4, 2e-5)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_and_no_bias(mode):
    torch.manual_seed(0)
    t_m, f_m = _twins(mode, 3, 4, 2, bias=False, bidirectional=True)
    x = np.random.default_rng(4).standard_normal((5, 3))
    h = np.random.default_rng(5).standard_normal((4, 4))
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    th, fh = torch.tensor(h, requires_grad=True), fastdl.tensor(h, requires_grad=True)
    if mode == "lstm":
        t_out, f_out = t_m(tx, (th, th * 0.5)), f_m(fx, (fh, fh * 0.5))
    else:
        t_out, f_out = t_m(tx, th), f_m(fx, fh)
    _compare(t_out, f_out, [tx, th] + list(t_m.parameters()),
             [fx, fh] + list(f_m.parameters()), 1e-9, 1e-10)


def test_dropout_between_layers():
    torch.manual_seed(0)
    t_m, f_m = _twins("lstm", 3, 4, 3, dropout=0.5)
    x = np.random.default_rng(6).standard_normal((5, 2, 3))
    f_m.eval()  # eval: no dropout, equal to torch's eval
    t_m.eval()
    _compare(t_m(torch.tensor(x)), f_m(fastdl.tensor(x)), [], [], 1e-9, 1e-10)
    f_m.train()
    fastdl.manual_seed(0)
    a = _np(f_m(fastdl.tensor(x))[0])
    fastdl.manual_seed(1)
    b = _np(f_m(fastdl.tensor(x))[0])
    assert not np.allclose(a, b)  # training draws masks between layers
    f_m.dropout = 0.0
    np.testing.assert_allclose(_np(f_m(fastdl.tensor(x))[0]), _np(t_m(torch.tensor(x))[0]),
                               rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(cls, batched):
    torch.manual_seed(0)
    t_c = getattr(torch.nn, cls)(3, 5).double()
    f_c = getattr(fnn, cls)(3, 5)
    f_c.to(np.float64)
    f_c.load_state_dict({k: v.numpy().copy() for k, v in t_c.state_dict().items()})
    rng = np.random.default_rng(7)
    shape = (4, 3) if batched else (3,)
    hshape = (4, 5) if batched else (5,)
    x, h, c = rng.standard_normal(shape), rng.standard_normal(hshape), rng.standard_normal(hshape)
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    fx, fh, fc = (fastdl.tensor(a, requires_grad=True) for a in (x, h, c))
    if cls == "LSTMCell":
        t_out, f_out = t_c(tx, (th, tc)), f_c(fx, (fh, fc))
        leaves_t, leaves_f = [tx, th, tc], [fx, fh, fc]
    else:
        t_out, f_out = t_c(tx, th), f_c(fx, fh)
        leaves_t, leaves_f = [tx, th], [fx, fh]
    _compare(t_out, f_out, leaves_t + list(t_c.parameters()), leaves_f + list(f_c.parameters()),
             1e-9, 1e-10)
    # default zero state
    _compare(t_c(tx), f_c(fx), [tx], [fx], 1e-9, 1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["1", "0", "0-gemm", "0-threads"])
def test_stepwise_and_loop_paths_match_torch(mode, path, monkeypatch):
    """Both CPU time-loop implementations on every feature: the per-step GEMM path (cells use it
    for their single step; FASTDL_RNN_STEPWISE=1 forces it on sequences) on a packed,
    bidirectional two-layer input, and the fused per-ISA loop (=0) on a single-step cell call.
    The loop projects the inputs itself a chunk of steps ahead ("0": chunks of 2 steps, so 3 per
    sequence, reversed in the backward direction) or takes them from one GEMM beforehand
    ("0-gemm"); "0-threads": the loop on two and three threads however small the step (each owns
    a share of the hidden units, split at vector boundaries, and sums its own bias gradients),
    chunks of 4 + 2 steps and of 1 step."""
    monkeypatch.setenv("FASTDL_RNN_STEPWISE", path[0])
    monkeypatch.setenv("FASTDL_RNN_PROJECT_IN_LOOP", "0" if path == "0-gemm" else "1")
    monkeypatch.setenv("FASTDL_RNN_CHUNK_ROWS", "8")
    if path == "0-threads":
        monkeypatch.setenv("FASTDL_RNN_MIN_STEP_FLOPS", "0")
        old_threads = fastdl.get_num_threads()
        try:
            for threads, H, rows in ((2, 53, "16"), (3, 70, "4")):  # parts of 3-4 and 3 vectors
                fastdl.set_num_threads(threads)  # of 8 doubles: whole slivers of 24 and narrow
                monkeypatch.setenv("FASTDL_RNN_CHUNK_ROWS", rows)  # edge ones
                _stepwise_case(mode, H)
        finally:
            fastdl.set_num_threads(old_threads)
        return
    _stepwise_case(mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("packed", [False, True])
def test_loop_split_by_batch_rows_matches_torch(mode, packed, monkeypatch):
    """The time loops with each thread owning whole panels of batch rows for the whole sequence
    (no barrier; the bias gradients summed per thread, then in thread order), at 2 and 3 threads,
    unpacked (where it is chosen by itself) and forced onto packed lengths (threads whose rows
    end early), with the inputs projected a chunk of steps ahead."""
    monkeypatch.setenv("FASTDL_RNN_STEPWISE", "0")
    monkeypatch.setenv("FASTDL_RNN_MIN_STEP_FLOPS", "0")
    monkeypatch.setenv("FASTDL_RNN_PROJECT_IN_LOOP", "1")
    monkeypatch.setenv("FASTDL_RNN_CHUNK_ROWS", "96")  # 2 steps of 48 rows per chunk
    torch.manual_seed(1)
    T, B, I, H = 5, 48, 3, 37  # 48 rows: whole panels of 8 (AVX-512) or 6 (AVX2) per thread
    t_m, f_m = _twins(mode, I, H, 2, bidirectional=True)
    rng = np.random.default_rng(9)
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((4, B, H))
    lengths = rng.integers(1, T + 1, B) if packed else None
    old_threads = fastdl.get_num_threads()
    try:
        for split, threads in (("units", 2), ("rows", 2), ("rows", 3)):
            monkeypatch.setenv("FASTDL_RNN_SPLIT", split)
            fastdl.set_num_threads(threads)
            tx, th, fx, fh = (lib.tensor(a, requires_grad=True) for lib in (torch, fastdl)
                              for a in (x, h0))
            t_in, f_in = tx, fx
            if packed:
                t_in = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False)
                f_in = frnn.pack_padded_sequence(fx, lengths, enforce_sorted=False)
            hx_t = (th, th * 0.5) if mode == "lstm" else th
            hx_f = (fh, fh * 0.5) if mode == "lstm" else fh
            t_out, f_out = t_m(t_in, hx_t), f_m(f_in, hx_f)
            if packed:  # tied lengths: torch's and our sorted orders of the packed rows differ
                t_out = (torch.nn.utils.rnn.pad_packed_sequence(t_out[0])[0], t_out[1])
                f_out = (frnn.pad_packed_sequence(f_out[0])[0], f_out[1])
            _compare(t_out, f_out, [tx, th] + list(t_m.parameters()),
                     [fx, fh] + list(f_m.parameters()), 1e-9, 1e-10)
    finally:
        fastdl.set_num_threads(old_threads)


def _stepwise_case(mode, H=13):
    torch.manual_seed(0)
    t_m, f_m = _twins(mode, 3, H, 2, bidirectional=True)  # 13: an edge sliver (NR 24 in double)
    rng = np.random.default_rng(5)
    x, h0 = rng.standard_normal((6, 4, 3)), rng.standard_normal((4, 4, H))
    tx, th, fx, fh = (lib.tensor(a, requires_grad=True) for lib in (torch, fastdl)
                      for a in (x, h0))
    lengths = [6, 2, 5, 1]
    t_in = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    f_in = frnn.pack_padded_sequence(fx, lengths, enforce_sorted=False)
    hx_t = (th, th * 0.5) if mode == "lstm" else th
    hx_f = (fh, fh * 0.5) if mode == "lstm" else fh
    _compare(t_m(t_in, hx_t), f_m(f_in, hx_f), [tx, th] + list(t_m.parameters()),
             [fx, fh] + list(f_m.parameters()), 1e-9, 1e-10)
    cls = CLS[mode] + "Cell"
    kw = {"nonlinearity": mode[4:]} if mode.startswith("rnn_") else {}
    t_c = getattr(torch.nn, cls)(3, H, **kw).double()
    f_c = getattr(fnn, cls)(3, H, **kw).to(np.float64)
    f_c.load_state_dict({k: v.numpy().copy() for k, v in t_c.state_dict().items()})
    tx, fx = torch.tensor(x[0], requires_grad=True), fastdl.tensor(x[0], requires_grad=True)
    _compare(t_c(tx), f_c(fx), [tx] + list(t_c.parameters()), [fx] + list(f_c.parameters()),
             1e-9, 1e-10)


def test_cell_loop_equals_layer():
    """A custom loop over LSTMCell steps gives the LSTM layer's result (same weights)."""
    layer = fnn.LSTM(3, 4).to(np.float64)
    cell = fnn.LSTMCell(3, 4).to(np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = fastdl.tensor(np.random.default_rng(8).standard_normal((5, 2, 3)))
    out, (h, c) = layer(x)
    hc = None
    steps = []
    for t in range(5):
        hc = cell(x[t], hc)
        steps.append(hc[0])
    np.testing.assert_allclose(_np(fastdl.stack(steps)), _np(out), atol=1e-6)
    np.testing.assert_allclose(_np(hc[1]), _np(c[0]), atol=1e-6)


# ---- packing utilities ------------------------------------------------------------------------
def test_pad_and_pack_sequence_match_torch():
    rng = np.random.default_rng(9)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first,
                                                -1.0, side)
            f = frnn.pad_sequence([fastdl.tensor(s) for s in seqs], batch_first, -1.0, side)
            np.testing.assert_array_equal(_np(f), t.numpy())
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    fp = frnn.pack_sequence([fastdl.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(_np(fp.data), tp.data.numpy())
    np.testing.assert_array_equal(_np(fp.batch_sizes), tp.batch_sizes.numpy())
    np.testing.assert_array_equal(_np(fp.sorted_indices), tp.sorted_indices.numpy())
    np.testing.assert_array_equal(_np(fp.unsorted_indices), tp.unsorted_indices.numpy())
    tpad, tl = torch.nn.utils.rnn.pad_packed_sequence(tp, True, 7.0, total_length=6)
    fpad, fl = frnn.pad_packed_sequence(fp, True, 7.0, total_length=6)
    np.testing.assert_array_equal(_np(fpad), tpad.numpy())
    np.testing.assert_array_equal(_np(fl), tl.numpy())
    for a, b in zip(frnn.unpack_sequence(fp), seqs):
        np.testing.assert_array_equal(_np(a), b)


def test_packing_gradients_reach_the_padded_input():
    x = np.random.default_rng(10).standard_normal((4, 3, 2))
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, [2, 4, 1], enforce_sorted=False)
    fp = frnn.pack_padded_sequence(fx, [2, 4, 1], enforce_sorted=False)
    w = np.arange(tp.data.numel(), dtype=np.float64).reshape(tuple(tp.data.shape))
    (tp.data * torch.tensor(w)).sum().backward()
    (fp.data * fastdl.tensor(w)).sum().backward()
    np.testing.assert_array_equal(_np(fx.grad), tx.grad.numpy())


# ---- errors ----------------------------------------------------------------------------------
def test_errors():
    m = fnn.LSTM(3, 4, 2)
    x = fastdl.randn(5, 2, 3)
    with pytest.raises(RuntimeError, match="input_size"):
        m(fastdl.randn(5, 2, 4))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        m(x, (fastdl.zeros(2, 3, 4), fastdl.zeros(2, 2, 4)))
    with pytest.raises(RuntimeError, match=r"hidden\[1\]"):
        m(x, (fastdl.zeros(2, 2, 4), fastdl.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match="3-D"):
        m(x, (fastdl.zeros(2, 4), fastdl.zeros(2, 4)))
    with pytest.raises(ValueError, match="2D or 3D"):
        m(fastdl.randn(5, 2, 3, 1))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        frnn.pack_padded_sequence(x, [3, 5])
    with pytest.raises(RuntimeError, match="greater than 0"):
        frnn.pack_padded_sequence(x, [5, 0])
    with pytest.raises(RuntimeError, match="greater than 0"):
        frnn.pack_padded_sequence(x, [5, -1], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="exceeds"):
        frnn.pack_padded_sequence(x, [6, 1])
    with pytest.raises(RuntimeError, match="batch_size"):
        frnn.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="proj_size"):
        fnn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        fnn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="nonlinearity"):
        fnn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        fnn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError):
        m(x.double())
    with pytest.raises(RuntimeError, match="input_size"):
        fnn.GRUCell(3, 4)(fastdl.randn(2, 5))
    with pytest.raises(RuntimeError, match="hidden"):
        fnn.GRUCell(3, 4)(fastdl.randn(2, 3), fastdl.randn(3, 4))


def test_kernel_bindings_validate():
    from fastdl import _C
    f = np.float32
    x = np.zeros((3, 2, 4), f)
    w_ih, w_hh = np.zeros((8, 4), f), np.zeros((8, 2), f)
    h0 = np.zeros((2, 2), f)
    y, hT = np.empty((3, 2, 2), f), np.empty((2, 2), f)
    acts, hp = np.empty((3, 2, 2), f), np.empty((3, 2, 2), f)
    gates, hn = np.empty((3, 2, 6), f), np.empty((3, 2, 2), f)
    with pytest.raises(ValueError, match="w_ih"):  # 8 rows: not 3 * hidden
        _C.gru_forward(x, w_ih, w_hh, None, None, h0, None, False, y, hT, gates, hn, hp)
    w_ih, w_hh = np.zeros((2, 4), f), np.zeros((2, 2), f)
    with pytest.raises(ValueError, match="decreasing"):
        _C.rnn_forward("tanh", x, w_ih, w_hh, None, None, h0, np.array([1, 3]), False, y, hT,
                       acts, hp)
    with pytest.raises(ValueError, match="outside"):
        _C.rnn_forward("tanh", x, w_ih, w_hh, None, None, h0, np.array([4, 3]), False, y, hT,
                       acts, hp)
    with pytest.raises(TypeError, match="dtype"):
        _C.rnn_forward("tanh", x, w_ih.astype(np.float64), w_hh, None, None, h0, None, False, y,
                       hT, acts, hp)
    with pytest.raises(ValueError, match="contiguous"):
        _C.rnn_forward("tanh", x[:, :, ::2].copy()[:, ::1, :], w_ih[:, :2], w_hh, None, None,
                       h0, None, False, y, hT, acts, hp)
    with pytest.raises(ValueError, match="nonlinearity"):
        _C.rnn_forward("gelu", x, w_ih, w_hh, None, None, h0, None, False, y, hT, acts, hp)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_graphs_alive_at_once_keep_their_workspace(mode):
    """Two forward graphs alive at once (the second built before the first's backward) and an
    inference forward in between: each backward reads its own saved workspace."""
    torch.manual_seed(3)
    t_m = getattr(torch.nn, mode)(5, 11, 2, bidirectional=True).double()
    f_m = getattr(fnn, mode)(5, 11, 2, bidirectional=True).to(np.float64)
    f_m.load_state_dict({k: v.numpy().copy() for k, v in t_m.state_dict().items()})
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((7, 3, 5)) for _ in range(3)]
    t_x = [torch.tensor(x, requires_grad=True) for x in xs[:2]]
    f_x = [fastdl.tensor(x, requires_grad=True) for x in xs[:2]]
    t_y = [t_m(x)[0] for x in t_x]
    f_y = [f_m(x)[0] for x in f_x]
    with fastdl.no_grad():
        f_m(fastdl.tensor(xs[2]))
    for ty, fy in zip(reversed(t_y), reversed(f_y)):
        np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        (ty * ty).sum().backward()
        (fy * fy).sum().backward()
    for tx, fx in zip(t_x, f_x):
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    for (name, tp), fp in zip(t_m.named_parameters(), f_m.parameters()):
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("split,threads", [("units", 1), ("units", 2), ("rows", 2), ("rows", 3)])
@pytest.mark.parametrize("packed", [False, True])
def test_inference_forward_matches_torch(mode, split, threads, packed, monkeypatch):
    """An LSTM or GRU forward under no_grad keeps no workspace: the loop holds the gates of one
    chunk of steps in a ring (chunks of 2 steps over 7, so it wraps, in both directions) and
    skips the saved states; with a projection or a single step it runs on scratch instead.
    Outputs and final states equal torch's."""
    monkeypatch.setenv("FASTDL_RNN_STEPWISE", "0")
    monkeypatch.setenv("FASTDL_RNN_MIN_STEP_FLOPS", "0")
    monkeypatch.setenv("FASTDL_RNN_PROJECT_IN_LOOP", "1")
    monkeypatch.setenv("FASTDL_RNN_CHUNK_ROWS", "96")
    monkeypatch.setenv("FASTDL_RNN_SPLIT", split)
    T, B, I, H = 7, 48, 3, 29
    rng = np.random.default_rng(11)
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((4, B, H))
    lengths = rng.integers(1, T + 1, B) if packed else None
    lstm = mode == "LSTM"
    old_threads = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(threads)
        for proj, steps in ((0, T), (0, 1)) + (((13, T),) if lstm else ()):
            torch.manual_seed(2)
            kw = {"proj_size": proj} if lstm else {}
            t_m = getattr(torch.nn, mode)(I, H, 2, bidirectional=True, **kw).double()
            f_m = getattr(fnn, mode)(I, H, 2, bidirectional=True, **kw).to(np.float64)
            f_m.load_state_dict({k: v.numpy().copy() for k, v in t_m.state_dict().items()})
            P = proj or H
            hx = (h0[..., :P], h0 * 0.5) if lstm else (h0,)
            tx, fx = torch.tensor(x[:steps]), fastdl.tensor(x[:steps])
            t_in, f_in = tx, fx
            if packed:
                ls = np.minimum(lengths, steps)
                t_in = torch.nn.utils.rnn.pack_padded_sequence(tx, ls, enforce_sorted=False)
                f_in = frnn.pack_padded_sequence(fx, ls, enforce_sorted=False)
            t_hx = tuple(torch.tensor(a) for a in hx)
            f_hx = tuple(fastdl.tensor(a) for a in hx)
            with torch.no_grad():
                t_y, t_s = t_m(t_in, t_hx if lstm else t_hx[0])
            with fastdl.no_grad():
                f_y, f_s = f_m(f_in, f_hx if lstm else f_hx[0])
            if packed:
                t_y = torch.nn.utils.rnn.pad_packed_sequence(t_y)[0]
                f_y = frnn.pad_packed_sequence(f_y)[0]
            t_s, f_s = (t_s, f_s) if lstm else ((t_s,), (f_s,))
            for a, b in [(f_y, t_y)] + list(zip(f_s, t_s)):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    finally:
        fastdl.set_num_threads(old_threads)
