"""Random problems for the differential fuzzer of the sequence, attention, embedding and loss
layers (test_fuzz_seq_layers.py). Each generator draws one configuration from ``r`` (a numpy
Generator) and returns a Case: how to build the module (``build(lib)``, lib being torch or
fastdl, whose APIs match), how to call it (``call(lib, module, *inputs)``), and the torch
inputs (float ones in float64; ``grads`` says which of them want a gradient)."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch


@dataclasses.dataclass
class Case:
    name: str
    build: object  # lib -> module or None
    call: object  # (lib, module, *inputs) -> output(s)
    inputs: list
    grads: list  # per input: whether it is a leaf that wants a gradient


def _t(r, *shape, scale=1.0):
    return torch.from_numpy(np.asarray(r.standard_normal(shape) * scale))


def _coin(r, p=0.5):
    return bool(r.random() < p)


def _pick(r, options):
    return options[int(r.integers(len(options)))]


def _mask(r, shape, kind):
    """A bool mask (True = masked for the attention modules) or an additive float mask."""
    if kind == "bool":
        return torch.from_numpy(r.random(shape) < 0.3)
    m = torch.from_numpy(r.standard_normal(shape))
    return m.masked_fill(torch.from_numpy(r.random(shape) < 0.2), float("-inf"))


# ---------------------------------------------------------------- recurrent layers

def gen_rnn(r):
    kind = _pick(r, ["RNN", "LSTM", "GRU"])
    I, H, L = int(r.integers(1, 5)), int(r.integers(1, 5)), int(r.integers(1, 3))
    bid, bf = _coin(r), _coin(r)
    kw = dict(num_layers=L, bidirectional=bid, batch_first=bf, bias=_coin(r, 0.7),
              dropout=0.5 if L > 1 and _coin(r, 0.3) else 0.0)
    if kind == "RNN":
        kw["nonlinearity"] = _pick(r, ["tanh", "relu"])
    P = int(r.integers(1, H)) if kind == "LSTM" and H > 1 and _coin(r, 0.4) else 0
    if P:
        kw["proj_size"] = P
    T, B = int(r.integers(1, 5)), int(r.integers(1, 4))
    unbatched = _coin(r, 0.2)
    packed = not unbatched and _coin(r, 0.35)
    D = 2 if bid else 1
    bad = _pick(r, [None] * 12 + ["features", "h_batch", "h_layers", "x_dims"])  # must raise
    if packed:  # torch 2.13 accepts a packed LSTM's state of a wrong batch size, and
        bad = None  # crashes (segfault) on some bad packed inputs
    xI = I + 1 if bad == "features" else I
    x = _t(r, T, xI) if unbatched else (_t(r, B, T, xI) if bf else _t(r, T, B, xI))
    if bad == "x_dims":
        x = x.unsqueeze(0)
    hb = () if unbatched else ((B + 1,) if bad == "h_batch" else (B,))
    hx = None
    if _coin(r):
        h0 = _t(r, D * L + (bad == "h_layers"), *hb, P or H)
        hx = (h0, _t(r, D * L, *hb, H)) if kind == "LSTM" else h0
    inputs, grads = [x], [True]
    if hx is not None:
        parts = list(hx) if isinstance(hx, tuple) else [hx]
        inputs += parts
        grads += [True] * len(parts)
    nh = len(inputs) - 1

    def state(xs):
        if not xs:
            return None
        return tuple(xs) if kind == "LSTM" else xs[0]

    if packed:
        lengths = sorted(r.integers(1, T + 1, B).tolist(), reverse=True)
        es = _coin(r)
        if not es:
            lengths = list(r.permutation(lengths))
            lengths = [int(v) for v in lengths]
        total = T if _coin(r) else None
        pad = float(_pick(r, [0.0, -1.5]))
        as_tensor = _coin(r, 0.3)
        if as_tensor:
            inputs.append(torch.tensor(lengths))
            grads.append(False)

        def call(lib, m, x, *rest):
            lens = rest[nh] if as_tensor else lengths
            p = lib.nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=bf, enforce_sorted=es)
            out, h = m(p, state(list(rest[:nh])))
            padded, out_lens = lib.nn.utils.rnn.pad_packed_sequence(
                out, batch_first=bf, padding_value=pad, total_length=total)
            return padded, out_lens, h, out.batch_sizes
        name = f"{kind}{kw} packed es={es} total={total}"
    else:
        def call(lib, m, x, *rest):
            return m(x, state(list(rest)))
        name = f"{kind}{kw} x{tuple(x.shape)} hx={hx is not None} bad={bad}"
    return Case(name, lambda lib: getattr(lib.nn, kind)(I, H, **kw), call, inputs, grads)


def gen_cell(r):
    kind = _pick(r, ["RNNCell", "LSTMCell", "GRUCell"])
    I, H, B = int(r.integers(1, 5)), int(r.integers(1, 5)), int(r.integers(1, 4))
    kw = dict(bias=_coin(r, 0.7))
    if kind == "RNNCell":
        kw["nonlinearity"] = _pick(r, ["tanh", "relu"])
    unbatched = _coin(r, 0.3)
    lead = () if unbatched else (B,)
    inputs, grads = [_t(r, *lead, I)], [True]
    given = _coin(r)
    if given:
        inputs.append(_t(r, *lead, H))
        grads.append(True)
        if kind == "LSTMCell":
            inputs.append(_t(r, *lead, H))
            grads.append(True)

    def call(lib, m, x, *hx):
        if not hx:
            return m(x)
        return m(x, tuple(hx) if kind == "LSTMCell" else hx[0])
    return Case(f"{kind}{kw} unbatched={unbatched} hx={given}",
                lambda lib: getattr(lib.nn, kind)(I, H, **kw), call, inputs, grads)


# ---------------------------------------------------------------- attention

def gen_mha(r):
    nh, hd = int(r.integers(1, 4)), int(r.integers(1, 4))
    E = nh * hd
    kdim = int(r.integers(1, 5)) if _coin(r, 0.3) else None
    vdim = int(r.integers(1, 5)) if _coin(r, 0.3) else None
    kw = dict(dropout=0.2 if _coin(r, 0.2) else 0.0, bias=_coin(r, 0.8),
              add_bias_kv=_coin(r, 0.3), add_zero_attn=_coin(r, 0.3), kdim=kdim, vdim=vdim,
              batch_first=_coin(r))
    L, S, N = int(r.integers(1, 4)), int(r.integers(1, 4)), int(r.integers(1, 3))
    unbatched = _coin(r, 0.2)
    if kdim is None and vdim is None and _coin(r, 0.3):
        S = L  # self-attention shape (query may be passed as key and value)

    def seq(n, d):
        if unbatched:
            return _t(r, n, d)
        return _t(r, N, n, d) if kw["batch_first"] else _t(r, n, N, d)
    bad_dim = _coin(r, 0.05)  # a query of the wrong embedding size must raise
    q, k, v = seq(L, E + bad_dim), seq(S, kdim or E), seq(S, vdim or E)
    inputs, grads = [q, k, v], [True, True, True]
    kpm_kind = _pick(r, [None, "bool", "float"])
    am_kind = _pick(r, [None, "bool", "float"])
    am_dims = _pick(r, [2, 3])
    kpm = None if kpm_kind is None else _mask(r, (S,) if unbatched else (N, S), kpm_kind)
    am = None
    if am_kind is not None:
        shape = (L, S) if am_dims == 2 else ((1 if unbatched else N) * nh, L, S)
        am = _mask(r, shape, am_kind)
    # is_causal without a mask raises (not drawn with a bad query: torch checks it first)
    is_causal = _coin(r, 0.2) if am is not None else not bad_dim and _coin(r, 0.05)
    if is_causal and am_kind == "bool" and am_dims == 2:
        am = torch.ones(L, S, dtype=torch.bool).triu(1)
    opts = dict(need_weights=_coin(r, 0.7), average_attn_weights=_coin(r, 0.7),
                is_causal=is_causal)
    masks = [m for m in (kpm, am) if m is not None]
    inputs += masks
    grads += [False] * len(masks)

    def call(lib, m, q, k, v, *ms):
        ms = list(ms)
        a = ms.pop(0) if kpm is not None else None
        b = ms.pop(0) if am is not None else None
        return m(q, k, v, key_padding_mask=a, attn_mask=b, **opts)
    name = f"MHA E={E} heads={nh} {kw} L={L} S={S} N={N} unbatched={unbatched} " \
           f"kpm={kpm_kind} am={am_kind}/{am_dims} {opts}"
    return Case(name, lambda lib: lib.nn.MultiheadAttention(E, nh, **kw).eval(), call, inputs,
                grads)


def gen_sdpa(r):
    batch = tuple(int(v) for v in r.integers(1, 3, int(r.integers(1, 4)) - 1))
    Hk = int(r.integers(1, 3))
    gqa = _coin(r, 0.3)
    Hq = Hk * int(r.integers(1, 3)) if gqa else Hk
    L, S, E, Ev = (int(v) for v in r.integers(1, 5, 4))
    lead_q = batch + (Hq,)
    lead_k = batch + (Hk,)
    if not batch and _coin(r, 0.5):  # 3-D: no head dimension
        lead_q, lead_k = (Hq,), (Hq,)
        gqa = False
    inputs = [_t(r, *lead_q, L, E), _t(r, *lead_k, S, E), _t(r, *lead_k, S, Ev)]
    grads = [True, True, True]
    am_kind = _pick(r, [None, "bool", "float"])
    if am_kind is not None:
        full = lead_q + (L, S)
        shape = tuple(1 if _coin(r, 0.4) else d for d in full)[int(r.integers(0, len(full))):]
        am = torch.from_numpy(r.random(shape) < 0.75) if am_kind == "bool" \
            else _mask(r, shape, "float")
        inputs.append(am)
        grads.append(am_kind == "float" and _coin(r, 0.3))
    kw = dict(is_causal=_coin(r, 0.3), scale=float(r.uniform(0.1, 2)) if _coin(r, 0.3) else None,
              enable_gqa=gqa)

    def call(lib, m, q, k, v, *am):
        return lib.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=am[0] if am else None, **kw)
    return Case(f"sdpa q{tuple(inputs[0].shape)} k{tuple(inputs[1].shape)} "
                f"v{tuple(inputs[2].shape)} mask={am_kind} "
                f"{tuple(inputs[3].shape) if am_kind else ''} {kw}", None, call, inputs, grads)


def gen_transformer(r):
    dec = _coin(r)
    nh, hd = int(r.integers(1, 3)), int(r.integers(1, 4))
    E = nh * hd
    act_name = _pick(r, ["relu", "gelu", "callable_gelu", "callable_silu"])
    kw = dict(dim_feedforward=int(r.integers(1, 6)), dropout=0.1, batch_first=_coin(r),
              norm_first=_coin(r), bias=_coin(r, 0.7), layer_norm_eps=_pick(r, [1e-5, 1e-3]))

    def act(lib):
        if act_name.startswith("callable"):
            return getattr(lib.nn.functional, act_name.split("_")[1])
        return act_name
    L, S, N = int(r.integers(1, 4)), int(r.integers(1, 4)), int(r.integers(1, 3))
    unbatched = _coin(r, 0.15)

    def seq(n):
        if unbatched:
            return _t(r, n, E)
        return _t(r, N, n, E) if kw["batch_first"] else _t(r, n, N, E)
    inputs, grads = [seq(L)], [True]
    if dec:
        inputs.append(seq(S))
        grads.append(True)
    mask_kind = _pick(r, [None, "bool", "float", "causal"])
    kpm_kind = _pick(r, [None, "bool", "float"])
    names = []
    if mask_kind is not None:
        m = torch.ones(L, L, dtype=torch.bool).triu(1) if mask_kind == "causal" \
            else _mask(r, (L, L), mask_kind)
        if mask_kind == "causal" and _coin(r):
            m = torch.zeros(L, L).masked_fill(m, float("-inf"))
        inputs.append(m)
        names.append("tgt_mask" if dec else "src_mask")
    if kpm_kind is not None and kpm_kind == (mask_kind if mask_kind != "causal" else kpm_kind):
        inputs.append(_mask(r, (L,) if unbatched else (N, L), kpm_kind))
        names.append("tgt_key_padding_mask" if dec else "src_key_padding_mask")
    if dec and _coin(r, 0.4):
        inputs.append(_mask(r, (L, S), "float"))
        names.append("memory_mask")
    if dec and _coin(r, 0.4):
        inputs.append(_mask(r, (S,) if unbatched else (N, S), "float"))
        names.append("memory_key_padding_mask")
    grads += [False] * len(names)
    extra = {}
    if mask_kind == "causal" and _coin(r):
        extra["tgt_is_causal" if dec else "is_causal"] = True
    n_seq = 2 if dec else 1

    def call(lib, m, *xs):
        return m(*xs[:n_seq], **dict(zip(names, xs[n_seq:])), **extra)
    cls = "TransformerDecoderLayer" if dec else "TransformerEncoderLayer"
    return Case(f"{cls} E={E} nh={nh} {kw} act={act_name} unbatched={unbatched} "
                f"{names} {extra}",
                lambda lib: getattr(lib.nn, cls)(E, nh, activation=act(lib), **kw).eval(),
                call, inputs, grads)


# ---------------------------------------------------------------- embeddings

def gen_embedding(r):
    num, dim = int(r.integers(1, 7)), int(r.integers(1, 4))
    kw = dict(padding_idx=_pick(r, [None, int(r.integers(-num, num))]),
              max_norm=_pick(r, [None, float(r.uniform(0.3, 2))]),
              norm_type=_pick(r, [2.0, 1.0, 3.0]), scale_grad_by_freq=_coin(r))
    if _coin(r, 0.8):
        shape = tuple(int(v) for v in r.integers(0, 4, int(r.integers(0, 3))))
        idx = torch.from_numpy(r.integers(0, num, shape))
    else:
        idx = torch.tensor(_pick(r, [num, -1, [0, num]]))  # out of range: an error

    def call(lib, m, idx):
        return m(idx), m.weight * 1  # the weight: max_norm renormalizes rows in place
    return Case(f"Embedding({num},{dim},{kw}) idx{tuple(idx.shape)}",
                lambda lib: lib.nn.Embedding(num, dim, **kw), call, [idx], [False])


def gen_embedding_bag(r):
    num, dim = int(r.integers(1, 7)), int(r.integers(1, 4))
    mode = _pick(r, ["sum", "mean", "max"])
    kw = dict(mode=mode, padding_idx=_pick(r, [None, int(r.integers(-num, num))]),
              max_norm=_pick(r, [None, float(r.uniform(0.3, 2))]),
              include_last_offset=_coin(r, 0.3))
    # scale_grad_by_freq left out: torch 2.13's CPU bag kernel divides some rows by another
    # index's count (pytorch/pytorch#190063; fastdl follows the documented rule)
    inputs, grads = [], []
    if _coin(r):  # 2-D input: fixed-size bags
        B, n = int(r.integers(1, 4)), int(r.integers(1, 4))
        inputs.append(torch.from_numpy(r.integers(0, num, (B, n))))
        psw_shape = (B, n)
        offsets = None
    else:
        n = int(r.integers(0, 7))
        inputs.append(torch.from_numpy(r.integers(0, num, n)))
        cuts = sorted(r.integers(0, n + 1, int(r.integers(1, 4))).tolist())
        cuts[0] = 0 if _coin(r, 0.9) else cuts[0]
        if kw["include_last_offset"]:
            # the last offset ends the last bag at the input's end: torch's float64 kernel
            # ignores an earlier end, and a single offset crashes torch 2.13
            cuts.append(n)
        offsets = torch.tensor(cuts)
        psw_shape = (n,)
    grads.append(False)
    if offsets is not None:
        inputs.append(offsets)
        grads.append(False)
    psw = _coin(r, 0.3 if mode != "sum" else 0.5)
    if psw:
        inputs.append(_t(r, *psw_shape))
        grads.append(True)

    def call(lib, m, idx, *rest):
        rest = list(rest)
        off = rest.pop(0) if offsets is not None else None
        w = rest.pop(0) if psw else None
        return m(idx, off, per_sample_weights=w), m.weight * 1
    return Case(f"EmbeddingBag({num},{dim},{kw}) idx{tuple(inputs[0].shape)} "
                f"offsets={None if offsets is None else offsets.tolist()} psw={psw}",
                lambda lib: lib.nn.EmbeddingBag(num, dim, **kw), call, inputs, grads)


GENERATORS = dict(rnn=gen_rnn, cell=gen_cell, mha=gen_mha, sdpa=gen_sdpa,
                  transformer=gen_transformer, embedding=gen_embedding,
                  embedding_bag=gen_embedding_bag)
