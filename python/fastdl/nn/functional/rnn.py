"""Recurrent layers as ops: one ``defop`` per whole-sequence kernel (``lstm_sequence``,
``gru_sequence``, ``rnn_sequence``), one layer and one direction per application.

Each forward runs the C++ sequence kernel (``_C.lstm_forward`` ...: the input projection of all
steps as one GEMM, then per step a recurrent GEMM and a fused gate kernel) and leaves its
workspace (gate activations, previous states) in a ``Saved``. On cupy arrays the ``cuda=``
forwards run the CUDA drivers instead (``_C_cuda.rnn_forward`` / ``rnn_backward``: the same
workspace layout; the projected LSTM is CPU-only for now). Its backward is a registered op
(``lstm_sequence_backward`` ...) running backward through time in C++; it returns one gradient per
forward input, so the first derivative costs one kernel call.

The backward ops are differentiable again through a slower composed path: their own backward
rebuilds the layer step by step from registered ops (``_composed``: matmul, sigmoid, tanh, cat
...), takes its vector-Jacobian product with autograd (create_graph) and differentiates that once
more. It is exact (the same function), only slower: second derivatives of recurrent layers are
rare (gradient penalties, meta-learning) and run at small sizes.

``rnn_layers`` composes layers and directions (torch's ``_VF.lstm``/``gru``/``rnn_*`` semantics,
padded or with lengths); ``fastdl.nn.LSTM`` etc. and the cells are built on it.
"""
from __future__ import annotations

import numpy as np

from fastdl import _C, backend
from fastdl.autograd import grad_mode
from fastdl.autograd.op import Saved, defop
from fastdl.backend.pool import host_pool
from fastdl.tensor import _wrap

_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


class RnnSpec:
    """What one layer-direction application is: mode, which optional inputs are present,
    lengths (int64 (batch,), decreasing, or None) and direction. Input order:
    x, w_ih, w_hh, [b_ih, b_hh], [w_hr], h0, [c0]."""

    __slots__ = ("mode", "has_bias", "has_proj", "lengths", "reverse", "inference")

    def __init__(self, mode, has_bias, has_proj, lengths, reverse, inference=False):
        self.mode, self.has_bias, self.has_proj = mode, has_bias, has_proj
        self.lengths, self.reverse = lengths, reverse
        self.inference = inference  # no backward will read the workspace

    def __repr__(self):
        return (f"<{self.mode} bias={self.has_bias} proj={self.has_proj} "
                f"reverse={self.reverse} lengths={None if self.lengths is None else list(self.lengths)}>")

    def split(self, xs):
        """(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0) with None for the absent ones."""
        xs = list(xs)
        x, w_ih, w_hh = xs[:3]
        rest = xs[3:]
        b_ih = b_hh = w_hr = c0 = None
        if self.has_bias:
            b_ih, b_hh, rest = rest[0], rest[1], rest[2:]
        if self.has_proj:
            w_hr, rest = rest[0], rest[1:]
        h0 = rest[0]
        if self.mode == "lstm":
            c0 = rest[1]
        return x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0

    @property
    def n_state(self):
        return 2 if self.mode == "lstm" else 1


def _c(a):
    return np.ascontiguousarray(a)


# The forward kernels' workspace arrays (gate activations, previous states: 56 MiB for an LSTM at
# T=128, B=32, H=512), the directions' output-gradient copies and the input gradients come from
# the per-thread pool of host buffers: reused once the backward that read them has released its
# graph, or once the user drops the gradient (fresh arrays cost ~15% of a 2-layer bidirectional
# step in page faults).
_workspace = host_pool


# ---- forward ops ---------------------------------------------------------------------------
def _sequence_forward(*arrays_and_args):
    *arrays, spec, saved = arrays_and_args
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = (None if a is None else _c(a)
                                               for a in spec.split(arrays))
    T, B, _ = x.shape
    dt = x.dtype
    out = w_hh.shape[1]
    H = w_ih.shape[0] // _GATES[spec.mode]
    y = np.empty((T, B, out), dt)
    hT = np.empty((B, out), dt)
    lengths = spec.lengths

    def work(shape):
        return _workspace.take(shape, dt)

    if spec.mode == "lstm":
        cT = np.empty((B, H), dt)
        gates = cprev = hprev = None  # inference: the kernel keeps less, in its own scratch
        if not spec.inference:
            gates, cprev, hprev = work((T, B, 4 * H)), work((T, B, H)), work((T, B, out))
        hpre = work((T, B, H)) if w_hr is not None else None
        _C.lstm_forward(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, lengths, spec.reverse, y, hT, cT,
                        gates, cprev, hprev, hpre)
        saved.values = None if spec.inference else (gates, cprev, hprev, hpre)
        return y, hT, cT
    if spec.mode == "gru":
        gates = hn = hprev = None  # inference: as the LSTM's
        if not spec.inference:
            gates, hn, hprev = work((T, B, 3 * H)), work((T, B, H)), work((T, B, H))
        _C.gru_forward(x, w_ih, w_hh, b_ih, b_hh, h0, lengths, spec.reverse, y, hT, gates, hn,
                       hprev)
        saved.values = None if spec.inference else (gates, hn, hprev)
        return y, hT
    acts = work((T, B, H))
    hprev = work((T, B, H))
    _C.rnn_forward(spec.mode[4:], x, w_ih, w_hh, b_ih, b_hh, h0, lengths, spec.reverse, y, hT,
                   acts, hprev)
    saved.values = None if spec.inference else (acts, hprev)
    return y, hT


def _sequence_forward_cuda(*arrays_and_args):
    """The forward on cupy arrays: ``_C_cuda.rnn_forward`` (one driver for every mode)."""
    *arrays, spec, saved = arrays_and_args
    xp = backend.array_module(arrays[0])
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = (None if a is None else xp.ascontiguousarray(a)
                                               for a in spec.split(arrays))
    if w_hr is not None:
        raise NotImplementedError("LSTM with proj_size runs on the CPU only: the CUDA recurrent "
                                  "kernels have no projection yet (move the module to the CPU)")
    T, B, _ = x.shape
    dt = x.dtype
    H = w_hh.shape[1]
    G = _GATES[spec.mode]
    lstm = spec.mode == "lstm"
    y, hT, hprev = xp.empty((T, B, H), dt), xp.empty((B, H), dt), xp.empty((T, B, H), dt)
    ws0 = xp.empty((T, B, G * H), dt)
    ws1 = xp.empty((T, B, H), dt) if spec.mode in ("lstm", "gru") else None
    cT = xp.empty((B, H), dt) if lstm else None
    backend.cuda_kernels().rnn_forward(spec.mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0,
                                       spec.lengths, spec.reverse, y, hT, cT, ws0, ws1, hprev)
    # the CPU kernels' workspace tuples (the same layouts)
    saved.values = ((ws0, ws1, hprev, None) if lstm else (ws0, ws1, hprev)
                    if spec.mode == "gru" else (ws0, hprev))
    return (y, hT, cT) if lstm else (y, hT)


def _zeros_for(t):
    from fastdl.functional._core import zeros_like
    return zeros_like(t)


def _sequence_backward(ctx, grads):
    """One backward op call gives every input's gradient."""
    spec, saved = ctx.args
    outs = _sequence_outputs_like(ctx, spec)
    gs = tuple(g if g is not None else _zeros_for(o) for g, o in zip(grads, outs))
    op = _BACKWARD_OPS[spec.mode]
    need_dx = ctx.edges[0] is not None  # else the kernels skip the input-gradient GEMM
    res = op.apply(gs + tuple(ctx.inputs), spec, saved, need_dx)
    return res if need_dx else (None,) + tuple(res[1:])


def _sequence_outputs_like(ctx, spec):
    """Tensors shaped like the forward's outputs (for zero gradients of unused ones)."""
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = spec.split(ctx.inputs)
    T, B = x._data.shape[:2]
    out = w_hh._data.shape[1]
    shapes = [(T, B, out), (B, out)] + ([tuple(c0._data.shape)] if c0 is not None else [])
    xp = type(x._data)
    return [_wrap(np.zeros(s, x._data.dtype)) if xp is np.ndarray else
            _wrap(_array_module(x._data).zeros(s, x._data.dtype)) for s in shapes]


def _array_module(a):
    from fastdl import backend
    return backend.array_module(a)


# ---- backward ops (first derivatives in C++) -----------------------------------------------
def _unused_dx(x, xp=np):
    """What a backward op returns for the input's gradient when none was asked for (the kernel
    skipped it): zeros without memory (the gradient is dropped, never read)."""
    return xp.broadcast_to(xp.zeros((), x.dtype), x.shape)


def _sequence_backward_forward(*arrays_and_args):
    *arrays, spec, saved, need_dx = arrays_and_args
    k = 1 + spec.n_state
    grads = [_workspace.contiguous(a) for a in arrays[:k]]
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = (None if a is None else _c(a)
                                               for a in spec.split(arrays[k:]))
    lengths = spec.lengths
    dx = _workspace.take_owned(x.shape, x.dtype) if need_dx else None
    dw_ih, dw_hh = np.empty_like(w_ih), np.empty_like(w_hh)
    dh0 = np.empty_like(h0)
    G = w_ih.shape[0]
    if spec.mode == "lstm":
        gates, cprev, hprev, hpre = saved.values
        dy, dhT, dcT = grads
        db = np.empty(G, x.dtype)
        dc0 = np.empty_like(c0)
        dw_hr = np.empty_like(w_hr) if w_hr is not None else None
        _C.lstm_backward(x, w_ih, w_hh, w_hr, lengths, spec.reverse, gates, cprev, hprev, hpre,
                         dy, dhT, dcT, dx, dw_ih, dw_hh, db, dw_hr, dh0, dc0)
        out = [dx if need_dx else _unused_dx(x), dw_ih, dw_hh] + \
            ([db, db.copy()] if spec.has_bias else []) + \
            ([dw_hr] if w_hr is not None else []) + [dh0, dc0]
        return tuple(out)
    dy, dhT = grads
    if spec.mode == "gru":
        gates, hn, hprev = saved.values
        db_ih, db_hh = np.empty(G, x.dtype), np.empty(G, x.dtype)
        _C.gru_backward(x, w_ih, w_hh, lengths, spec.reverse, gates, hn, hprev, dy, dhT, dx,
                        dw_ih, dw_hh, db_ih, db_hh, dh0)
    else:
        acts, hprev = saved.values
        db_ih = np.empty(G, x.dtype)
        _C.rnn_backward(spec.mode[4:], x, w_ih, w_hh, lengths, spec.reverse, acts, hprev, dy,
                        dhT, dx, dw_ih, dw_hh, db_ih, dh0)
        db_hh = db_ih.copy()
    return tuple([dx if need_dx else _unused_dx(x), dw_ih, dw_hh] +
                 ([db_ih, db_hh] if spec.has_bias else []) + [dh0])


def _sequence_backward_forward_cuda(*arrays_and_args):
    """Backward through time on cupy arrays (``_C_cuda.rnn_backward``)."""
    *arrays, spec, saved, need_dx = arrays_and_args
    xp = backend.array_module(arrays[0])
    k = 1 + spec.n_state
    grads = [xp.ascontiguousarray(a) for a in arrays[:k]]
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = (None if a is None else xp.ascontiguousarray(a)
                                               for a in spec.split(arrays[k:]))
    lstm = spec.mode == "lstm"
    if lstm:
        ws0, ws1, hprev, _ = saved.values
        dy, dhT, dcT = grads
    elif spec.mode == "gru":
        (ws0, ws1, hprev), dcT = saved.values, None
        dy, dhT = grads
    else:
        (ws0, hprev), ws1, dcT = saved.values, None, None
        dy, dhT = grads
    dx = xp.empty_like(x) if need_dx else None
    dw_ih, dw_hh = xp.empty_like(w_ih), xp.empty_like(w_hh)
    G = w_ih.shape[0]
    db_ih, db_hh = xp.empty(G, x.dtype), xp.empty(G, x.dtype)
    dh0 = xp.empty_like(h0)
    dc0 = xp.empty_like(c0) if lstm else None
    backend.cuda_kernels().rnn_backward(spec.mode, x, w_ih, w_hh, spec.lengths, spec.reverse,
                                        ws0, ws1, hprev, dy, dhT, dcT, dx, dw_ih, dw_hh, db_ih,
                                        db_hh, dh0, dc0)
    out = [dx if need_dx else _unused_dx(x, xp), dw_ih, dw_hh] + \
        ([db_ih, db_hh] if spec.has_bias else []) + [dh0]
    return tuple(out + [dc0] if lstm else out)


def _backward_backward(ctx, vs):
    """Second derivatives through the composed layer (see the module docstring).

    The backward op is B(g, theta) = J_f(theta)^T g for the layer f. With f rebuilt from
    registered ops, B_c = autograd.grad(f(theta), theta, g, create_graph=True) is the same
    function as a graph, and its vector-Jacobian product with ``vs`` gives the gradients of B's
    inputs (g and theta); built with grad mode on, it is differentiable again."""
    from fastdl.autograd import engine
    from fastdl.autograd.grad_mode import enable_grad, is_grad_enabled
    spec = ctx.args[0]
    create = is_grad_enabled()
    k = 1 + spec.n_state
    inputs = list(ctx.inputs)
    gs, thetas = inputs[:k], inputs[k:]
    wanted = [i for i, e in enumerate(ctx.edges) if e is not None]
    with enable_grad():
        used = [t if t._requires_grad else t.detach().requires_grad_() for t in thetas]
        outs = _composed(spec, used)
        js = [j for j, v in enumerate(vs) if v is not None]
        if not js or not wanted:
            return (None,) * len(inputs)
        first = engine.grad(list(outs), [used[j] for j in js], gs, retain_graph=True,
                            create_graph=True, allow_unused=True)
        pairs = [(f, vs[j]) for f, j in zip(first, js) if f is not None and f._requires_grad]
        if not pairs:
            return (None,) * len(inputs)
        targets = [inputs[i] for i in wanted]
        res = engine.grad([f for f, _ in pairs], targets, [v for _, v in pairs],
                          retain_graph=True, create_graph=create, allow_unused=True)
    out = [None] * len(inputs)
    for i, r in zip(wanted, res):
        out[i] = r if create or r is None else r.detach()
    return tuple(out)


def _composed(spec, tensors):
    """The layer from registered ops, step by step (the double-backward path and a reference)."""
    import fastdl
    from fastdl.functional.shape import cat, stack
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h, c = spec.split(tensors)
    T, B = x._data.shape[:2]
    H = w_ih._data.shape[0] // _GATES[spec.mode]
    lengths = spec.lengths if spec.lengths is not None else np.full(B, T, np.int64)
    ys = [None] * T
    zero_row = None
    order = range(T - 1, -1, -1) if spec.reverse else range(T)
    for t in order:
        nb = int((lengths > t).sum())
        xt = x[t]
        gi = fastdl.matmul(xt, w_ih.t())
        gh = fastdl.matmul(h, w_hh.t())
        if b_ih is not None:
            gi = gi + b_ih
            gh = gh + b_hh
        if spec.mode == "lstm":
            g = gi + gh
            i, f, gg, o = (g[:, k * H:(k + 1) * H] for k in range(4))
            c_new = fastdl.sigmoid(f) * c + fastdl.sigmoid(i) * fastdl.tanh(gg)
            h_new = fastdl.sigmoid(o) * fastdl.tanh(c_new)
            if w_hr is not None:
                h_new = fastdl.matmul(h_new, w_hr.t())
            if nb < B:
                c_new = cat([c_new[:nb], c[nb:]], 0)
            c = c_new
        elif spec.mode == "gru":
            r = fastdl.sigmoid(gi[:, :H] + gh[:, :H])
            z = fastdl.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = fastdl.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h_new = (1 - z) * n + z * h
        else:
            pre = gi + gh
            h_new = fastdl.tanh(pre) if spec.mode == "rnn_tanh" else fastdl.relu(pre)
        if nb < B:
            if zero_row is None:
                zero_row = _wrap(_array_module(x._data).zeros((B, h_new._data.shape[1]),
                                                              x._data.dtype))
            ys[t] = cat([h_new[:nb], zero_row[nb:]], 0)
            h = cat([h_new[:nb], h[nb:]], 0)
        else:
            ys[t] = h_new
            h = h_new
    y = stack(ys, 0)
    return (y, h, c) if spec.mode == "lstm" else (y, h)


_FORWARD_OPS = {}
_BACKWARD_OPS = {}
for _name, _modes in (("lstm", ("lstm",)), ("gru", ("gru",)), ("rnn", ("rnn_tanh", "rnn_relu"))):
    _fwd = defop(f"{_name}_sequence", cpu=_sequence_forward, cuda=_sequence_forward_cuda,
                 backward=_sequence_backward, saves=tuple(range(10)),
                 n_outputs=3 if _name == "lstm" else 2, float_only=True)
    _bwd = defop(f"{_name}_sequence_backward", cpu=_sequence_backward_forward,
                 cuda=_sequence_backward_forward_cuda, backward=_backward_backward,
                 saves=tuple(range(12)), n_outputs=8, float_only=True)
    for _m in _modes:
        _FORWARD_OPS[_m], _BACKWARD_OPS[_m] = _fwd, _bwd


def sequence(mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, lengths=None, reverse=False):
    """One layer, one direction over a time-major (steps, batch, input) x: (y, h_T[, c_T])."""
    inputs = (x, w_ih, w_hh) + ((b_ih, b_hh) if b_ih is not None else ()) + \
        ((w_hr,) if w_hr is not None else ()) + ((h0, c0) if mode == "lstm" else (h0,))
    inference = not grad_mode.grad_wanted(*inputs)
    spec = RnnSpec(mode, b_ih is not None, w_hr is not None, lengths, reverse, inference)
    return _FORWARD_OPS[mode].apply(inputs, spec, Saved())


def _params_per_direction(has_biases, has_proj):
    return 2 + (2 if has_biases else 0) + (1 if has_proj else 0)


def rnn_layers(mode, input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
               batch_first, lengths=None):
    """Stacked (bi)directional layers with torch's ``_VF`` semantics on a padded input.

    input (steps, batch, in) (batch first: (batch, steps, in)); hx: h0 (layers * dirs, batch, out)
    or for the LSTM (h0, c0) with c0 (layers * dirs, batch, hidden); params: per layer and
    direction [w_ih, w_hh, (b_ih, b_hh), (w_hr)]. lengths: int64 (batch,) decreasing or None.
    Returns (output, h_n) or (output, (h_n, c_n)); outputs past a sequence's length are zero.
    """
    from fastdl.functional.shape import cat, stack
    from fastdl.nn.functional.dropout import dropout as _dropout
    lstm = mode == "lstm"
    h0, c0 = hx if lstm else (hx, None)
    has_proj = lstm and h0._data.shape[-1] != c0._data.shape[-1]
    per = _params_per_direction(has_biases, has_proj)
    dirs = 2 if bidirectional else 1
    x = input.transpose(0, 1) if batch_first else input
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            p = params[k * per:(k + 1) * per]
            w_ih, w_hh = p[0], p[1]
            b_ih, b_hh = (p[2], p[3]) if has_biases else (None, None)
            w_hr = p[per - 1] if has_proj else None
            res = sequence(mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0[k],
                           c0[k] if lstm else None, lengths, d == 1)
            outs.append(res[0])
            hs.append(res[1])
            if lstm:
                cs.append(res[2])
        x = outs[0] if dirs == 1 else cat(outs, 2)
        if dropout and train and layer < num_layers - 1:
            x = _dropout(x, dropout, True)
    out = x.transpose(0, 1) if batch_first else x
    h_n = stack(hs, 0)
    return (out, (h_n, stack(cs, 0))) if lstm else (out, h_n)


def packed_to_padded_index(batch_sizes):
    """For packed data with these batch sizes: (lengths, index) where index (steps * batch,)
    gives each padded (t, b) position its packed row, or the row count (a zero row appended)
    for padding."""
    bs = np.asarray(batch_sizes, np.int64)
    T, B = len(bs), int(bs[0])
    n = int(bs.sum())
    index = np.full((T, B), n, np.int64)
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    for t in range(T):
        index[t, :bs[t]] = offsets[t] + np.arange(bs[t])
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1).astype(np.int64)
    return lengths, index.reshape(-1)


def rnn_layers_packed(mode, data, batch_sizes, hx, params, has_biases, num_layers, dropout,
                      train, bidirectional):
    """``rnn_layers`` on packed data (sum of lengths, in) with its batch sizes: the packed rows
    are gathered into a padded time-major batch (a differentiable index), run with the lengths,
    and the outputs gathered back to packed rows."""
    from fastdl.functional.shape import cat
    lengths, index = packed_to_padded_index(batch_sizes)
    T, B = len(batch_sizes), int(batch_sizes[0])
    n = data._data.shape[0]
    zero = _wrap(_array_module(data._data).zeros((1,) + tuple(data._data.shape[1:]),
                                                 data._data.dtype))
    padded = cat([data, zero], 0)[index].reshape(T, B, *data._data.shape[1:])
    out, h = rnn_layers(mode, padded, hx, params, has_biases, num_layers, dropout, train,
                        bidirectional, False, lengths)
    flat = out.reshape(T * B, out._data.shape[-1])
    packed_rows = np.flatnonzero(index != n)
    # padded row of each packed row, in packed order
    order = np.empty(n, np.int64)
    order[index[packed_rows]] = packed_rows
    return flat[order], h
