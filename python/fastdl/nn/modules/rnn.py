"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and the cells ``RNNCell``, ``LSTMCell``,
``GRUCell``, with torch's constructor arguments, parameter names, shapes and initialization (so
state dicts load both ways). Each layer and direction is one whole-sequence kernel call
(``fastdl.nn.functional.rnn``); a cell is the same kernel over one step.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from fastdl.nn import init
from fastdl.nn.functional import rnn as R
from fastdl.nn.modules.linear import _empty
from fastdl.nn.modules.module import Module
from fastdl.nn.utils.rnn import PackedSequence
from fastdl.tensor import Tensor, _wrap


def _zeros(shape, like):
    xp = type(like._data)
    if xp is np.ndarray:
        return _wrap(np.zeros(shape, like._data.dtype))
    from fastdl import backend
    return _wrap(backend.array_module(like._data).zeros(shape, like._data.dtype))


def _check_int(name, key, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{key} should be of type int, got: {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{key} must be greater than zero ({name}: got {value})")


def _uniform_init(module):
    """torch's initialization of recurrent weights: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for w in module.parameters():
        init.uniform_(w, -stdv, stdv)


class RNNBase(Module):
    """The stacked (bi)directional recurrent layer behind ``RNN``, ``LSTM`` and ``GRU``.

    ``mode`` is "rnn_tanh", "rnn_relu", "lstm" or "gru".

    Shape: input (L, N, input_size), or (N, L, input_size) with batch_first, or unbatched
    (L, input_size) (then no N dim anywhere); output (L, N, D*H_out) (batch_first:
    (N, L, D*H_out)); the final state h_n (D*num_layers, N, H_out) (and for LSTM c_n
    (D*num_layers, N, hidden_size)), with D = 2 if bidirectional else 1 and
    H_out = proj_size or hidden_size.

    >>> m = fastdl.nn.RNNBase("gru", 4, 8)
    >>> output, h_n = m(fastdl.randn(5, 3, 4))
    >>> output.shape, h_n.shape
    ((5, 3, 8), (1, 3, 8))
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = {"lstm": "LSTM", "gru": "GRU"}.get(mode, "RNN")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        _check_int(name, "input_size", input_size, 1)
        _check_int(name, "hidden_size", hidden_size, 1)
        _check_int(name, "num_layers", num_layers, 1)
        for key, value in (("bias", bias), ("batch_first", batch_first),
                           ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{key} should be of type bool, got: {type(value).__name__}")
        if not isinstance(proj_size, numbers.Integral) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "lstm":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.proj_size = int(proj_size)
        gates = R._GATES[mode]
        dirs = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for d in range(dirs):
                layer_input = input_size if layer == 0 else real_hidden * dirs
                suffix = "_reverse" if d == 1 else ""
                shapes = [("weight_ih", (gates * hidden_size, layer_input)),
                          ("weight_hh", (gates * hidden_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gates * hidden_size,)),
                               ("bias_hh", (gates * hidden_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for base, shape in shapes:
                    pname = f"{base}_l{layer}{suffix}"
                    setattr(self, pname, _empty(shape, dtype, device))
                    names.append(pname)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """A no-op (cuDNN's packed weight buffer has no counterpart here)."""

    def reset_parameters(self):
        _uniform_init(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _kernel_mode(self):
        return self.mode

    def _state_sizes(self):
        out = self.proj_size if self.proj_size > 0 else self.hidden_size
        return out, self.hidden_size

    def forward(self, input, hx=None):
        name = type(self).__name__
        lstm = self.mode == "lstm"
        dirs = 2 if self.bidirectional else 1
        out_size, hidden = self._state_sizes()
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            bs = batch_sizes._data.astype(np.int64)
            batch = int(bs[0])
            x = data
            if x._data.ndim != 2:
                raise ValueError(f"{name}: packed input data must be 2-D (rows, features), got "
                                 f"shape {tuple(x._data.shape)}")
            batched = True
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: expected a Tensor or PackedSequence input, got "
                                f"{type(input).__name__}")
            x = input
            if x._data.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got "
                                 f"{x._data.ndim}D instead")
            batched = x._data.ndim == 3
            if not batched:
                x = x.unsqueeze(0 if self.batch_first else 1)
            batch = x._data.shape[0 if self.batch_first else 1]
            sorted_indices = unsorted_indices = None
        if x._data.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating point input, got {x._data.dtype}")
        if x._data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x._data.shape[-1]}")
        weights = self._flat_weights
        if weights and weights[0]._data.dtype != x._data.dtype:
            raise ValueError(f"{name}: input must have the type {weights[0]._data.dtype} of the "
                             f"weights, got type {x._data.dtype}")
        n_states = self.num_layers * dirs
        if hx is None:
            h0 = _zeros((n_states, batch, out_size), x)
            c0 = _zeros((n_states, batch, hidden), x) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: hx must be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                if not isinstance(hx, Tensor):
                    raise TypeError(f"{name}: hx must be a Tensor, got {type(hx).__name__}")
                h0, c0 = hx, None
            states = [h0] + ([c0] if lstm else [])
            want_dim = 3 if batched else 2
            for s in states:
                if s._data.ndim != want_dim:
                    kind = "batched" if batched else "unbatched"
                    raise RuntimeError(f"For {kind} {want_dim - 1}-D input, hx"
                                       f"{' and cx' if lstm else ''} should also be "
                                       f"{want_dim}-D but got {s._data.ndim}-D tensor")
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if lstm else None
            if packed and sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
                c0 = c0.index_select(1, sorted_indices) if lstm else None
            self._check_hidden(h0, (n_states, batch, out_size), "Expected hidden size")
            if lstm:
                self._check_hidden(c0, (n_states, batch, hidden), "Expected hidden[1] size")
            for s in (h0, c0):
                if s is not None and s._data.dtype != x._data.dtype:
                    raise ValueError(f"{name}: hidden state dtype {s._data.dtype} does not "
                                     f"match the input's {x._data.dtype}")
        hxs = (h0, c0) if lstm else h0
        mode = self._kernel_mode()
        if packed:
            out, h = R.rnn_layers_packed(mode, x, bs, hxs, weights, self.bias, self.num_layers,
                                         self.dropout, self.training, self.bidirectional)
            out = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                h = tuple(s.index_select(1, unsorted_indices) for s in h) if lstm else \
                    h.index_select(1, unsorted_indices)
            return out, h
        out, h = R.rnn_layers(mode, x, hxs, weights, self.bias, self.num_layers, self.dropout,
                              self.training, self.bidirectional, self.batch_first)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
            h = tuple(s.squeeze(1) for s in h) if lstm else h.squeeze(1)
        return out, h

    @staticmethod
    def _check_hidden(t, shape, msg):
        if tuple(t._data.shape) != tuple(shape):
            raise RuntimeError(f"{msg} {tuple(shape)}, got {tuple(t._data.shape)}")


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    Shape: as ``RNNBase``: input (L, N, input_size) ((N, L, input_size) with batch_first);
    output (L, N, D*hidden_size), h_n (D*num_layers, N, hidden_size), D = 2 if bidirectional.

    >>> m = fastdl.nn.RNN(4, 8, num_layers=2, batch_first=True, bidirectional=True)
    >>> output, h_n = m(fastdl.randn(3, 5, 4))
    >>> output.shape, h_n.shape
    ((3, 5, 16), (4, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("rnn_" + nonlinearity, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, device, dtype)
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def _kernel_mode(self):
        return "rnn_" + self.nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o; optional projection ``proj_size``).

    Shape: as ``RNNBase``: input (L, N, input_size) ((N, L, input_size) with batch_first);
    output (L, N, D*H_out), h_n (D*num_layers, N, H_out), c_n (D*num_layers, N, hidden_size);
    H_out = proj_size or hidden_size, D = 2 if bidirectional.

    >>> m = fastdl.nn.LSTM(4, 8, batch_first=True)
    >>> output, (h_n, c_n) = m(fastdl.randn(3, 5, 4))
    >>> output.shape, h_n.shape, c_n.shape
    ((3, 5, 8), (1, 3, 8), (1, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, torch's formulation (reset gate applied after the hidden matmul).

    Shape: as ``RNNBase``: input (L, N, input_size) ((N, L, input_size) with batch_first);
    output (L, N, D*hidden_size), h_n (D*num_layers, N, hidden_size), D = 2 if bidirectional.

    >>> m = fastdl.nn.GRU(4, 8, num_layers=2)
    >>> output, h_n = m(fastdl.randn(5, 3, 4))
    >>> output.shape, h_n.shape
    ((5, 3, 8), (2, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


# ---- cells -----------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Base of ``RNNCell``, ``LSTMCell`` and ``GRUCell``: one time step of the recurrence.

    Holds weight_ih (G*hidden_size, input_size), weight_hh (G*hidden_size, hidden_size) and, with
    bias=True, bias_ih and bias_hh (G*hidden_size,), G = 1, 4 or 3 gates stacked in torch's order,
    all initialized ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as in torch.

    Shape: input (N, input_size) or (input_size,); each state (N, hidden_size) or (hidden_size,),
    zeros when hx is None.

    >>> cell = fastdl.nn.GRUCell(4, 8)
    >>> isinstance(cell, fastdl.nn.RNNCellBase), cell.weight_ih.shape
    (True, (24, 4))
    >>> cell(fastdl.randn(3, 4)).shape
    (3, 8)
    """

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_int(name, "input_size", input_size, 0)
        _check_int(name, "hidden_size", hidden_size, 1)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        self.weight_ih = _empty((num_chunks * hidden_size, input_size), dtype, device)
        self.weight_hh = _empty((num_chunks * hidden_size, hidden_size), dtype, device)
        if bias:
            self.bias_ih = _empty((num_chunks * hidden_size,), dtype, device)
            self.bias_hh = _empty((num_chunks * hidden_size,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _step(self, mode, input, states):
        """One step of the sequence kernel: (h'[, c']) for input (batch, in) or (in,)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
        if input._data.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input._data.ndim}D "
                             "instead")
        if input._data.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating point input, got {input._data.dtype}")
        batched = input._data.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x._data.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x._data.shape[1]} "
                               f"expected {self.input_size}")
        B = x._data.shape[0]
        hs = []
        for s in states:
            if s is None:
                s = _zeros((B, self.hidden_size), x)
            else:
                if s._data.ndim != input._data.ndim:
                    raise ValueError(f"{name}: Expected hidden to be {input._data.ndim}D for "
                                     f"{input._data.ndim}D input, got {s._data.ndim}D instead")
                if not batched:
                    s = s.unsqueeze(0)
                if tuple(s._data.shape) != (B, self.hidden_size):
                    raise RuntimeError(f"hidden has inconsistent shape: got "
                                       f"{tuple(s._data.shape)}, expected "
                                       f"{(B, self.hidden_size)}")
                if s._data.dtype != x._data.dtype:
                    raise TypeError(f"{name}: hidden dtype {s._data.dtype} does not match the "
                                    f"input's {x._data.dtype}")
            hs.append(s)
        if self.weight_ih._data.dtype != x._data.dtype:
            raise TypeError(f"{name}: input dtype {x._data.dtype} does not match the weights' "
                            f"dtype {self.weight_ih._data.dtype}")
        res = R.sequence(mode, x.unsqueeze(0), self.weight_ih, self.weight_hh, self.bias_ih,
                         self.bias_hh, None, hs[0], hs[1] if len(hs) > 1 else None)
        outs = res[1:]  # final states = the step's states
        if not batched:
            outs = tuple(o.squeeze(0) for o in outs)
        return outs


class RNNCell(RNNCellBase):
    """Elman RNN cell: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu.

    Args: input_size; hidden_size; bias (default True); nonlinearity ('tanh' or 'relu').

    Shape: ``forward(input, hx=None)``: input (N, input_size) or (input_size,), hx (N, hidden_size)
    or (hidden_size,), zeros if None; output h' of hx's shape.

    >>> cell = fastdl.nn.RNNCell(10, 20)
    >>> x, h = fastdl.randn(6, 3, 10), fastdl.zeros(3, 20)
    >>> for t in range(6):
    ...     h = cell(x[t], h)
    >>> h.shape
    (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        return self._step("rnn_" + self.nonlinearity, input, [hx])[0]


class LSTMCell(RNNCellBase):
    """LSTM cell: gates i, f, g, o from x W_ih^T + b_ih + h W_hh^T + b_hh (chunks in that order).

    c' = sigmoid(f) * c + sigmoid(i) * tanh(g); h' = sigmoid(o) * tanh(c').
    Args: input_size; hidden_size; bias (default True).

    Shape: ``forward(input, hx=None)``: input (N, input_size) or (input_size,); hx a pair (h, c),
    each (N, hidden_size) or (hidden_size,), zeros if None; returns the pair (h', c').

    >>> cell = fastdl.nn.LSTMCell(10, 20)
    >>> h, c = cell(fastdl.randn(3, 10))
    >>> h, c = cell(fastdl.randn(3, 10), (h, c))
    >>> h.shape, c.shape
    ((3, 20), (3, 20))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        states = [None, None] if hx is None else list(hx)
        if len(states) != 2:
            raise TypeError("LSTMCell: hx must be a tuple (h, c)")
        h, c = self._step("lstm", input, states)
        return h, c


class GRUCell(RNNCellBase):
    """GRU cell, torch's formulation (gates r, z, n; reset applied after the hidden matmul).

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr); z = sigmoid(W_iz x + b_iz + W_hz h + b_hz);
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h.
    Args: input_size; hidden_size; bias (default True).

    Shape: ``forward(input, hx=None)``: input (N, input_size) or (input_size,), hx (N, hidden_size)
    or (hidden_size,), zeros if None; output h' of hx's shape.

    >>> cell = fastdl.nn.GRUCell(10, 20)
    >>> cell(fastdl.randn(10)).shape
    (20,)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._step("gru", input, [hx])[0]


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
