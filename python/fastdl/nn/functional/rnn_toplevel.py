"""torch's ATen recurrent functions: the cells ``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``,
``rnn_relu_cell`` (one step, 2-D input) and the stacked layers ``lstm``, ``gru``,
``rnn_tanh``, ``rnn_relu`` with flat weight lists, padded or packed (data, batch_sizes).

All run fastdl's sequence kernels (``rnn.sequence``, ``rnn.rnn_layers``), as ``nn.LSTMCell``
and ``nn.LSTM`` do. torch checks little here and fails inside its matmuls on bad shapes;
fastdl checks the shapes first (the kernels take them on trust) and raises RuntimeError (an
IndexError for a missing dim, as torch).
"""
from __future__ import annotations

import numbers

import numpy as np

from fastdl._argcheck import check_bool_arg, check_tensor_arg
from fastdl.nn.functional import rnn as R
from fastdl.nn.functional.aten_nn_extra import _type_name
from fastdl.tensor import Tensor

_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
def _need_dim(t, dim):
    if t.ndim <= dim:
        n = max(t.ndim, 1)
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")


def _same_dtype(x, tensors):
    if x.dtype.kind != "f":
        raise RuntimeError(f"recurrent functions need floating point tensors, got {x.dtype}")
    for t in tensors:
        if t is not None and t.dtype != x.dtype:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{_type_name(x.dtype)} and {_type_name(t.dtype)}")


def _check_weights(mode, w_ih, w_hh, b_ih, b_hh, input_size, hidden, out_size, label=""):
    gates = _GATES[mode] * hidden
    if w_ih.ndim != 2 or w_ih.shape[1] != input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input_size} expected "
                           f"{w_ih.shape[1] if w_ih.ndim == 2 else list(w_ih.shape)}{label}")
    if w_ih.shape[0] != gates:
        raise RuntimeError(f"weight_ih first dim must be {_GATES[mode]} * hidden_size = "
                           f"{gates}, but got {w_ih.shape[0]}{label}")
    if w_hh.ndim != 2 or tuple(w_hh.shape) != (gates, out_size):
        raise RuntimeError(f"weight_hh must have shape {[gates, out_size]}, but got "
                           f"{list(w_hh.shape)}{label}")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates,):
            raise RuntimeError(f"{name} must have shape {[gates]}, but got {list(b.shape)}"
                               f"{label}")


def _biases(b_ih, b_hh):
    """The kernels take both biases or neither; torch lets one be missing (zeros)."""
    from fastdl.creation import zeros_like
    if (b_ih is None) == (b_hh is None):
        return b_ih, b_hh
    return (b_ih, zeros_like(b_ih)) if b_hh is None else (zeros_like(b_hh), b_hh)


def _cell(mode, fn, input, states, w_ih, w_hh, b_ih, b_hh):
    check_tensor_arg(input, fn, "input", 1)
    for t, a, p in ((w_ih, "w_ih", 3), (w_hh, "w_hh", 4)):
        check_tensor_arg(t, fn, a, p)
    for t, a, p in ((b_ih, "b_ih", 5), (b_hh, "b_hh", 6)):
        if t is not None:
            check_tensor_arg(t, fn, a, p)
    _need_dim(input, 1)
    _need_dim(w_hh, 1)
    _need_dim(w_ih, 1)
    if input.ndim != 2:
        raise RuntimeError(f"{fn}: expected a 2-D (batch, input_size) input, got "
                           f"{input.ndim}-D input of size {list(input.shape)}")
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected "
                           f"{w_ih.shape[1]}")
    hidden = w_hh.shape[1]
    for i, s in enumerate(states):
        _need_dim(s, 0)
        if input.shape[0] != s.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{i} "
                               f"batch size {s.shape[0]}")
        _need_dim(s, 1)
        if s.ndim != 2 or s.shape[1] != hidden:
            raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {s.shape[1]}, "
                               f"expected {hidden}")
    _same_dtype(input, [*states, w_ih, w_hh, b_ih, b_hh])
    _check_weights(mode, w_ih, w_hh, b_ih, b_hh, input.shape[1], hidden, hidden)
    b_ih, b_hh = _biases(b_ih, b_hh)
    res = R.sequence(mode, input.unsqueeze(0), w_ih, w_hh, b_ih, b_hh, None, states[0],
                     states[1] if mode == "lstm" else None)
    return res[1:]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: gates i, f, g, o = x w_ih^T + b_ih + h w_hh^T + b_hh; returns
    ``(h', c')`` with c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').

    Shape: input (N, input_size); hx a pair (h, c), each (N, H); w_ih (4H, input_size),
    w_hh (4H, H), biases (4H,) (either may be None).

    >>> h, c = fastdl.lstm_cell(fastdl.randn(2, 3), (fastdl.zeros(2, 4), fastdl.zeros(2, 4)),
    ...                         fastdl.randn(16, 3), fastdl.randn(16, 4))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """
    if not isinstance(hx, (tuple, list)) or not all(isinstance(s, Tensor) for s in hx):
        raise TypeError(f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not "
                        f"{type(hx).__name__}")
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    h, c = _cell("lstm", "lstm_cell", input, list(hx), w_ih, w_hh, b_ih, b_hh)
    return h, c


def _single_state_cell(mode, fn, input, hx, w_ih, w_hh, b_ih, b_hh):
    check_tensor_arg(hx, fn, "hx", 2)
    return _cell(mode, fn, input, [hx], w_ih, w_hh, b_ih, b_hh)[0]


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (torch's formulation: the reset gate scales h w_hh^T + b_hh's n part).

    Shape: input (N, input_size), hx (N, H), w_ih (3H, input_size), w_hh (3H, H), biases
    (3H,); output (N, H).

    >>> fastdl.gru_cell(fastdl.randn(2, 3), fastdl.zeros(2, 4), fastdl.randn(12, 3),
    ...                 fastdl.randn(12, 4)).shape
    (2, 4)
    """
    return _single_state_cell("gru", "gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step: tanh(x w_ih^T + b_ih + h w_hh^T + b_hh).

    Shape: input (N, input_size), hx (N, H), w_ih (H, input_size), w_hh (H, H); output (N, H).

    >>> fastdl.rnn_tanh_cell(fastdl.randn(2, 3), fastdl.zeros(2, 4), fastdl.randn(4, 3),
    ...                      fastdl.randn(4, 4)).shape
    (2, 4)
    """
    return _single_state_cell("rnn_tanh", "rnn_tanh_cell", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with relu: relu(x w_ih^T + b_ih + h w_hh^T + b_hh).

    Shape: input (N, input_size), hx (N, H), w_ih (H, input_size), w_hh (H, H); output (N, H).

    >>> fastdl.rnn_relu_cell(fastdl.ones(1, 2), fastdl.zeros(1, 2), fastdl.eye(2),
    ...                      fastdl.eye(2)).tolist()
    [[1.0, 1.0]]
    """
    return _single_state_cell("rnn_relu", "rnn_relu_cell", input, hx, w_ih, w_hh, b_ih, b_hh)


def _layers(mode, input, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
            bidirectional, batch_first):
    """Validate and run the stacked layers (``batch_sizes``: None for a padded input)."""
    fn = mode
    lstm = mode == "lstm"
    packed = batch_sizes is not None
    check_tensor_arg(input, fn, "data" if packed else "input", 1)
    states = list(hx) if lstm and isinstance(hx, (tuple, list)) else hx
    if lstm:
        if not isinstance(hx, (tuple, list)) or not all(isinstance(s, Tensor) for s in hx):
            raise TypeError(f"lstm(): argument 'hx' must be tuple of Tensors, not "
                            f"{type(hx).__name__}")
        if len(hx) != 2:
            raise RuntimeError("lstm expects two hidden states")
    else:
        check_tensor_arg(hx, fn, "hx", 3 if packed else 2)
        states = [hx]
    if not isinstance(params, (tuple, list)) or not all(isinstance(p, Tensor) for p in params):
        raise TypeError(f"{fn}(): argument 'params' must be tuple of Tensors, not "
                        f"{type(params).__name__}")
    for value, name in ((has_biases, "has_biases"), (train, "train"),
                        (bidirectional, "bidirectional"), (batch_first, "batch_first")):
        check_bool_arg(value, fn, name)
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) \
            or num_layers < 1:
        raise RuntimeError(f"{fn}: num_layers must be a positive int, got {num_layers!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"{fn}(): argument 'dropout' must be float, not "
                        f"{type(dropout).__name__}")
    if train and num_layers > 1 and dropout != 0 and not 0 <= dropout <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout}")
    _need_dim(input, 1 if packed else 2)
    if input.ndim != (2 if packed else 3):
        raise RuntimeError(f"{fn}: expected a {'2-D packed data' if packed else '3-D'} input, "
                           f"got size {list(input.shape)}")
    dirs = 2 if bidirectional else 1
    for i, s in enumerate(states):
        if s.ndim != 3:
            raise RuntimeError(f"{fn}: hidden state {i} must be 3-D (layers * directions, "
                               f"batch, size), got size {list(s.shape)}")
        if s.shape[0] < num_layers * dirs:
            raise RuntimeError("Expected more hidden states in stacked_rnn")
    proj = lstm and states[0].shape[2] != states[1].shape[2]
    per = 2 + (2 if has_biases else 0) + (1 if proj else 0)
    if len(params) < per * num_layers * dirs:
        raise RuntimeError("Expected more weights in stacked_rnn")
    if packed:
        bs = np.asarray(check_tensor_arg(batch_sizes, fn, "batch_sizes", 2).detach().cpu().numpy())
        if bs.ndim != 1 or bs.dtype.kind not in "iu" or not bs.size \
                or int(bs.sum()) != input.shape[0] or np.any(np.diff(bs) > 0) or bs[-1] < 1:
            raise RuntimeError(f"{fn}: batch_sizes must be a 1-D non-increasing positive int "
                               f"tensor adding up to data's {input.shape[0]} rows, got "
                               f"{bs.tolist()}")
        batch = int(bs[0])
    else:
        batch = input.shape[0 if batch_first else 1]
    hidden = states[-1].shape[2]
    out_size = states[0].shape[2]
    for i, s in enumerate(states):
        want = (num_layers * dirs, batch, out_size if i == 0 else hidden)
        if tuple(s.shape) != want:
            raise RuntimeError(f"{fn}: hidden state {i} must have size {list(want)}, got "
                               f"{list(s.shape)}")
    _same_dtype(input, [*states, *params])
    in_size = input.shape[-1]
    for layer in range(num_layers):
        for d in range(dirs):
            k = layer * dirs + d
            p = params[k * per:(k + 1) * per]
            b_ih, b_hh = (p[2], p[3]) if has_biases else (None, None)
            _check_weights(mode, p[0], p[1], b_ih, b_hh, in_size if layer == 0 else
                           out_size * dirs, hidden, out_size, f" (layer {layer}, direction {d})")
            if proj and tuple(p[per - 1].shape) != (out_size, hidden):
                raise RuntimeError(f"weight_hr must have shape {[out_size, hidden]}, got "
                                   f"{list(p[per - 1].shape)} (layer {layer}, direction {d})")
    params = list(params[:per * num_layers * dirs])
    hxs = tuple(states) if lstm else hx
    if packed:
        out, h = R.rnn_layers_packed(mode, input, bs.astype(np.int64), hxs, params, has_biases,
                                     num_layers, float(dropout), train, bidirectional)
    else:
        out, h = R.rnn_layers(mode, input, hxs, params, has_biases, num_layers,
                              float(dropout), train, bidirectional, batch_first)
    return (out, h[0], h[1]) if lstm else (out, h)


def _overload(mode, args):
    """torch's two overloads: (input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first) and (data, batch_sizes, hx, params, has_biases, num_layers,
    dropout, train, bidirectional), told apart by where the first Tensor after the input is."""
    if len(args) != 9:
        raise TypeError(f"{mode}() takes 9 arguments: (input, hx, params, has_biases, "
                        f"num_layers, dropout, train, bidirectional, batch_first) or (data, "
                        f"batch_sizes, hx, params, has_biases, num_layers, dropout, train, "
                        f"bidirectional); got {len(args)}")
    packed = isinstance(args[1 if mode == "lstm" else 2], Tensor)
    if packed:
        data, batch_sizes, hx, params, *rest = args
        return _layers(mode, data, batch_sizes, hx, params, *rest, False)
    input, hx, params, *rest = args
    return _layers(mode, input, None, hx, params, *rest)


def lstm(*args):
    """Stacked (bidirectional) LSTM layers with a flat weight list: ``(output, h_n, c_n)``.

    ``lstm(input, (h0, c0), params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first)`` or, on packed rows, ``lstm(data, batch_sizes, (h0, c0), params, ...,
    bidirectional)``. params per layer and direction: w_ih, w_hh[, b_ih, b_hh][, w_hr].

    Shape: input (T, N, in) ((N, T, in) batch first); h0 (layers * dirs, N, out), c0
    (layers * dirs, N, H); output (T, N, dirs * out).

    >>> m, hx = fastdl.nn.LSTM(3, 4), (fastdl.zeros(1, 2, 4), fastdl.zeros(1, 2, 4))
    >>> out, h, c = fastdl.lstm(fastdl.randn(5, 2, 3), hx, m._flat_weights, True, 1, 0.0,
    ...                         False, False, False)
    >>> out.shape, h.shape, c.shape
    ((5, 2, 4), (1, 2, 4), (1, 2, 4))
    """
    return _overload("lstm", args)


def gru(*args):
    """Stacked (bidirectional) GRU layers with a flat weight list: ``(output, h_n)``.

    ``gru(input, h0, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first)`` or ``gru(data, batch_sizes, h0, params, ..., bidirectional)``.

    Shape: input (T, N, in); h0 (layers * dirs, N, H); output (T, N, dirs * H).

    >>> m = fastdl.nn.GRU(3, 4, num_layers=2)
    >>> out, h = fastdl.gru(fastdl.randn(5, 2, 3), fastdl.zeros(2, 2, 4), m._flat_weights,
    ...                     True, 2, 0.0, False, False, False)
    >>> out.shape, h.shape
    ((5, 2, 4), (2, 2, 4))
    """
    return _overload("gru", args)


def rnn_tanh(*args):
    """Stacked Elman RNN layers (tanh) with a flat weight list: ``(output, h_n)``; arguments
    as ``gru``'s.

    >>> m = fastdl.nn.RNN(3, 4, bidirectional=True)
    >>> out, h = fastdl.rnn_tanh(fastdl.randn(5, 2, 3), fastdl.zeros(2, 2, 4), m._flat_weights,
    ...                          True, 1, 0.0, False, True, False)
    >>> out.shape, h.shape
    ((5, 2, 8), (2, 2, 4))
    """
    return _overload("rnn_tanh", args)


def rnn_relu(*args):
    """Stacked Elman RNN layers (relu) with a flat weight list: ``(output, h_n)``; arguments
    as ``gru``'s.

    >>> m = fastdl.nn.RNN(3, 4, nonlinearity="relu", batch_first=True)
    >>> out, h = fastdl.rnn_relu(fastdl.randn(2, 5, 3), fastdl.zeros(1, 2, 4), m._flat_weights,
    ...                          True, 1, 0.0, False, False, True)
    >>> out.shape, h.shape
    ((2, 5, 4), (1, 2, 4))
    """
    return _overload("rnn_relu", args)


__all__ = ["gru", "gru_cell", "lstm", "lstm_cell", "rnn_relu", "rnn_relu_cell", "rnn_tanh",
           "rnn_tanh_cell"]
