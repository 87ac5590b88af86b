"""Op samples of the recurrent kernel family (``lstm_sequence``, ``gru_sequence``,
``rnn_sequence``, their backward ops and the select ops of these multi-output ops).

Each sample runs one recurrent layer through fastdl's op layer and through PyTorch's own
``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` / ``torch.rnn_relu`` (the functions behind
``torch.nn.LSTM`` ...), padded or packed (lengths), one or two directions. The backward ops are
sampled as first derivatives (``L.grad`` with the cotangents as inputs), so their gradcheck is a
second derivative of the layer and their gradgradcheck a third one, through the composed path of
``fastdl.nn.functional.rnn._backward_backward``. Sizes are tiny: the composed path loops over
steps in Python.
"""
from __future__ import annotations

import numpy as np

from op_samples import G, U, sample

_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _run(L, mode, x, hx, params, bias, bidirectional, lengths=None):
    """One layer: (output, h_n[, c_n]) with torch's _VF semantics, in fastdl or torch."""
    lstm = mode == "lstm"
    if L.T.__name__ == "fastdl":
        from fastdl.nn.functional.rnn import rnn_layers, rnn_layers_packed
        if lengths is not None:
            pk = L.nn.utils.rnn.pack_padded_sequence(x, lengths)
            out, h = rnn_layers_packed(mode, pk.data, pk.batch_sizes._data, hx, params, bias, 1,
                                       0.0, True, bidirectional)
        else:
            out, h = rnn_layers(mode, x, hx, params, bias, 1, 0.0, True, bidirectional, False)
        return (out,) + (tuple(h) if lstm else (h,))
    fn = getattr(L.T, mode)
    if lengths is not None:
        pk = L.nn.utils.rnn.pack_padded_sequence(x, lengths)
        return tuple(fn(pk.data, pk.batch_sizes, hx, params, bias, 1, 0.0, True, bidirectional))
    return tuple(fn(x, hx, params, bias, 1, 0.0, True, bidirectional, False))


def _case(mode, T=3, B=2, I=2, H=2, P=0, bias=True, bidirectional=False, lengths=None):
    """(fn, inputs, n_params): fn(L, x, *params, h0[, c0]) and the input generator."""
    lstm = mode == "lstm"
    gates = _GATES[mode]
    dirs = 2 if bidirectional else 1
    out = P or H
    shapes = [(T, B, I)]
    for _ in range(dirs):
        shapes += [(gates * H, I), (gates * H, out)]
        if bias:
            shapes += [(gates * H,), (gates * H,)]
        if P:
            shapes += [(P, H)]
    n_params = len(shapes) - 1
    shapes += [(dirs, B, out)] + ([(dirs, B, H)] if lstm else [])

    def fn(L, x, *rest):
        params = list(rest[:n_params])
        states = rest[n_params:]
        hx = tuple(states) if lstm else states[0]
        return _run(L, mode, x, hx, params, bias, bidirectional, lengths)

    def inputs(r):
        return [U(r, s, -1.0, 1.0) for s in shapes]

    return fn, inputs, len(shapes)


def _first_derivative(fn, n_inputs, out_shapes):
    """fn's VJP as a function of its inputs and the cotangents (all differentiable)."""
    def grad_fn(L, *xs):
        ins, gs = xs[:n_inputs], xs[n_inputs:]
        outs = fn(L, *ins)
        return L.grad(list(outs), list(ins), list(gs))
    return grad_fn


def _out_shapes(mode, T=3, B=2, I=2, H=2, P=0, bias=True, bidirectional=False, lengths=None):
    dirs = 2 if bidirectional else 1
    out = P or H
    rows = (T, B) if lengths is None else (int(sum(lengths)),)
    shapes = [rows + (dirs * out,), (dirs, B, out)]
    if mode == "lstm":
        shapes.append((dirs, B, H))
    return shapes


_CASES = {
    "lstm_sequence": [("lstm", "uni", {}), ("lstm", "bidir_packed_proj",
                                            dict(P=1, H=2, bidirectional=True, lengths=[3, 1])),
                      ("lstm", "no_bias_packed", dict(bias=False, lengths=[3, 2]))],
    "gru_sequence": [("gru", "uni", {}), ("gru", "bidir_packed",
                                          dict(bidirectional=True, lengths=[3, 1]))],
    "rnn_sequence": [("rnn_tanh", "tanh", {}), ("rnn_tanh", "tanh_bidir_packed",
                                                dict(bidirectional=True, lengths=[3, 2])),
                     ("rnn_relu", "relu_no_bias", dict(bias=False))],
}

for _op, _cases in _CASES.items():
    for _mode, _name, _kw in _cases:
        _fn, _inputs, _n = _case(_mode, **_kw)
        # relu's kink: the pre-activations of these draws stay away from 0 (seeded), and the
        # comparison is with torch's own relu RNN
        sample(_op, _name, _fn, _inputs)
        sample(_op + ".select", _name, _fn, _inputs)
    # first derivatives: the backward op (and its select op), cotangents as inputs too
    _mode, _name, _kw = _cases[0]
    _fn, _inputs, _n = _case(_mode, **_kw)
    _shapes = _out_shapes(_mode, **_kw)

    def _bwd_inputs(r, _inputs=_inputs, _shapes=_shapes):
        return _inputs(r) + [G(r, s) for s in _shapes]

    _gfn = _first_derivative(_fn, _n, _shapes)
    sample(_op + "_backward", "grad_of_" + _name, _gfn, _bwd_inputs)
    sample(_op + "_backward.select", "grad_of_" + _name, _gfn, _bwd_inputs)
