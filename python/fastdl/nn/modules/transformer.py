"""``MultiheadAttention`` and the Transformer family with torch's names, parameters and semantics.

``MultiheadAttention`` projects, splits heads and runs ``scaled_dot_product_attention`` (the flash
kernels) when no weights are wanted; with ``need_weights`` it forms the probabilities explicitly
(they are returned, averaged over heads or per head). Masks follow torch's MHA convention: a bool
``attn_mask`` / ``key_padding_mask`` is True where attention is NOT allowed; float masks are
added. The Transformer layers compose it with ``Linear``, ``LayerNorm`` and ``Dropout``
(post-norm, or pre-norm with ``norm_first``).
"""
from __future__ import annotations

import copy
import math

import numpy as np

import fastdl
from fastdl.functional import shape as S
from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.functional.activation import gelu, relu, softmax
from fastdl.nn.modules.container import ModuleList
from fastdl.nn.modules.dropout import Dropout
from fastdl.nn.modules.linear import Linear
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.normalization import LayerNorm
from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor, _wrap, as_dtype, get_default_dtype


def _param(shape, dtype):
    return Parameter(np.zeros(shape, dtype=as_dtype(dtype or get_default_dtype())))


def _to_additive(mask, dtype):
    """A bool mask (True = masked) as an additive float mask (-inf where masked)."""
    if mask is None:
        return None
    if mask._data.dtype == np.bool_:
        return _wrap(np.where(mask._data, -np.inf, 0.0).astype(dtype))
    return mask


def _pad_last(mask, n=1):
    """Append n columns (not masked) to a mask's last dimension."""
    if mask is None:
        return None
    d = mask._data
    pad = np.zeros(d.shape[:-1] + (n,), dtype=d.dtype)
    return S.cat([mask, _wrap(pad)], -1)


def multi_head_attention(mha, query, key, value, key_padding_mask=None, need_weights=True,
                         attn_mask=None, average_attn_weights=True, is_causal=False):
    """torch.nn.functional.multi_head_attention_forward for a ``MultiheadAttention``'s
    parameters, on (L, N, E) inputs (sequence first)."""
    L, N, E = query.shape
    H, hd = mha.num_heads, mha.head_dim
    dtype = query._data.dtype
    if is_causal and attn_mask is None:
        raise RuntimeError("MultiheadAttention: need attn_mask if specifying the is_causal hint "
                           "(Transformer.generate_square_subsequent_mask makes one)")
    if key.shape[0] != value.shape[0]:
        raise RuntimeError(f"MultiheadAttention: key and value must have the same length, got "
                           f"key {tuple(key.shape)} and value {tuple(value.shape)}")
    # torch's hint: with no padding mask and no weights, causal attention replaces the mask
    # (over the keys as they are after add_bias_kv / add_zero_attn)
    causal = bool(is_causal) and key_padding_mask is None and not need_weights
    if causal:
        attn_mask = None
    b = mha.in_proj_bias
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b[:E], b[E:2 * E], b[2 * E:]
    if mha._qkv_same_embed_dim:
        w = mha.in_proj_weight
        wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
    else:
        wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    q = F.linear(query, wq, bq)
    k = F.linear(key, wk, bk)
    v = F.linear(value, wv, bv)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (L, key.shape[0]):
                raise RuntimeError(f"MultiheadAttention: the 2-D attn_mask should have shape "
                                   f"{(L, key.shape[0])}, got {tuple(attn_mask.shape)}")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (N * H, L, key.shape[0]):
                raise RuntimeError(f"MultiheadAttention: the 3-D attn_mask should have shape "
                                   f"{(N * H, L, key.shape[0])}, got {tuple(attn_mask.shape)}")
        else:
            raise RuntimeError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got shape "
                               f"{tuple(attn_mask.shape)}")
    if mha.bias_k is not None:
        k = S.cat([k, mha.bias_k.expand(1, N, E)], 0)
        v = S.cat([v, mha.bias_v.expand(1, N, E)], 0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    q = q.reshape(L, N * H, hd).transpose(0, 1)  # (N H, L, hd)
    k = k.reshape(k.shape[0], N * H, hd).transpose(0, 1)
    v = v.reshape(v.shape[0], N * H, hd).transpose(0, 1)
    if mha.add_zero_attn:
        zeros = _wrap(np.zeros((N * H, 1, hd), dtype=dtype))
        k = S.cat([k, zeros], 1)
        v = S.cat([v, zeros], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    Sk = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, Sk):
            raise RuntimeError(f"MultiheadAttention: key_padding_mask should have shape "
                               f"{(N, Sk)}, got {tuple(key_padding_mask.shape)}")
        kpm = key_padding_mask.reshape(N, 1, 1, Sk).expand(N, H, 1, Sk).reshape(N * H, 1, Sk)
        if attn_mask is None:
            attn_mask = kpm
        elif attn_mask._data.dtype == np.bool_ and kpm._data.dtype == np.bool_:
            attn_mask = _wrap(attn_mask._data | kpm._data)
        else:
            attn_mask = _to_additive(attn_mask, dtype) + _to_additive(kpm, dtype)
    dropout_p = mha.dropout if mha.training else 0.0
    if need_weights:
        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)
        if attn_mask is not None:
            scores = scores + _to_additive(attn_mask, dtype)
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, p=dropout_p)
        out = weights @ v  # (N H, L, hd)
    else:
        m = attn_mask
        if m is not None:
            rows = m.shape[1]  # L, or 1 for a key padding mask alone
            m = m.reshape(N, H, rows, Sk) if m.shape[0] == N * H else m.reshape(1, 1, rows, Sk)
            if m._data.dtype == np.bool_:
                m = _wrap(~m._data)  # SDPA's bool masks say where attention IS allowed
        out = F.scaled_dot_product_attention(q.reshape(N, H, L, hd), k.reshape(N, H, Sk, hd),
                                             v.reshape(N, H, Sk, hd), attn_mask=m,
                                             dropout_p=dropout_p,
                                             is_causal=causal).reshape(N * H, L, hd)
        weights = None
    out = out.transpose(0, 1).reshape(L, N, E)
    out = mha.out_proj(out)
    if weights is not None:
        weights = weights.reshape(N, H, L, Sk)
        if average_attn_weights:
            weights = weights.mean(1)
    return out, weights


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention: parameters ``in_proj_weight`` (or ``q_proj_weight`` /
    ``k_proj_weight`` / ``v_proj_weight`` when kdim/vdim differ from embed_dim),
    ``in_proj_bias``, ``bias_k``/``bias_v`` (add_bias_kv) and ``out_proj``.

    Shape: query (L, N, E) ((N, L, E) with batch_first), key and value (S, N, E); output
    (L, N, E), weights (N, L, S) averaged over heads (None with need_weights=False).

    >>> mha = fastdl.nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = fastdl.randn(2, 5, 16)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = _param((embed_dim, embed_dim), dtype)
            self.k_proj_weight = _param((embed_dim, self.kdim), dtype)
            self.v_proj_weight = _param((embed_dim, self.vdim), dtype)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = _param((3 * embed_dim, embed_dim), dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = _param((3 * embed_dim,), dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = _param((1, 1, embed_dim), dtype)
            self.bias_v = _param((1, 1, embed_dim), dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        batched = query.ndim == 3
        if query.ndim not in (2, 3):
            raise ValueError(f"MultiheadAttention: query should be 2-D (unbatched) or 3-D, got "
                             f"shape {tuple(query.shape)}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: query, key and value must have the same "
                             f"number of dimensions, got {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        if query.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: was expecting embedding dimension of "
                             f"{self.embed_dim}, but got {query.shape[-1]}")
        _check_mask_dtype(attn_mask, "attn_mask")
        _check_mask_dtype(key_padding_mask, "key_padding_mask")
        if not batched and key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise RuntimeError(f"MultiheadAttention: for unbatched (2-D) query, key_padding_mask "
                               f"should be None or 1-D, got shape "
                               f"{tuple(key_padding_mask.shape)}")
        if batched and self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        if not batched:
            query, key, value = (x.unsqueeze(1) for x in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        out, weights = multi_head_attention(self, query, key, value, key_padding_mask,
                                            need_weights, attn_mask, average_attn_weights,
                                            is_causal)
        if not batched:
            out = out.squeeze(1)
            if weights is not None:
                weights = weights.squeeze(0)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights


def _activation(activation):
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    return activation


def _check_mask_dtype(mask, name):
    if mask is not None and mask._data.dtype != np.bool_ and mask._data.dtype.kind != "f":
        raise TypeError(f"only bool and floating types of {name} are supported")


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and LayerNorm
    (after, or before with ``norm_first``).

    Shape: src (S, N, E) ((N, S, E) with batch_first), E = d_model; output the same shape.

    >>> m = fastdl.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> m(fastdl.randn(2, 5, 16)).shape
    (2, 5, 16)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        if device is not None:
            self.to(device)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_mask_dtype(src_mask, "src_mask")
        _check_mask_dtype(src_key_padding_mask, "src_key_padding_mask")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=bool(is_causal))[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory`` and a feed-forward block.

    Shape: tgt (T, N, E), memory (S, N, E) ((N, T, E), (N, S, E) with batch_first),
    E = d_model; output tgt's shape.

    >>> m = fastdl.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> m(fastdl.randn(2, 3, 16), fastdl.randn(2, 5, 16)).shape
    (2, 3, 16)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)
        if device is not None:
            self.to(device)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=bool(is_causal))
        return self.dropout1(x[0])

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=bool(is_causal))
        return self.dropout2(x[0])

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies, as torch), then ``norm``.

    Shape: src (S, N, E) ((N, S, E) with batch_first); output the same shape.

    >>> layer = fastdl.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> m = fastdl.nn.TransformerEncoder(layer, num_layers=2)
    >>> m(fastdl.randn(2, 5, 16)).shape, len(m.layers)
    ((2, 5, 16), 2)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=bool(is_causal))
        return out if self.norm is None else self.norm(out)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, then ``norm``.

    Shape: tgt (T, N, E), memory (S, N, E) ((N, T, E), (N, S, E) with batch_first); output
    tgt's shape.

    >>> layer = fastdl.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> m = fastdl.nn.TransformerDecoder(layer, num_layers=2)
    >>> m(fastdl.randn(2, 3, 16), fastdl.randn(2, 5, 16)).shape
    (2, 3, 16)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    """torch.nn.Transformer: an encoder and a decoder stack, each with a final LayerNorm.

    Shape: src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) with batch_first), E = d_model;
    output (T, N, E).

    >>> m = fastdl.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
    ...                           dim_feedforward=32, batch_first=True)
    >>> m(fastdl.randn(2, 5, 16), fastdl.randn(2, 3, 16)).shape
    (2, 3, 16)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                  layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first,
                  bias=bias, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        if device is not None:
            self.to(device)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batched = src.ndim == 3
        if batched and (src.shape[0 if self.batch_first else 1] !=
                        tgt.shape[0 if self.batch_first else 1]):
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """An (sz, sz) float mask: -inf above the diagonal (future positions), 0 elsewhere."""
        dt = as_dtype(dtype or get_default_dtype())
        mask = np.triu(np.full((sz, sz), -np.inf, dtype=dt), k=1)
        t = fastdl.tensor(mask)
        return t if device is None else t.to(device)
