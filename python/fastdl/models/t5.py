"""A T5-style encoder-decoder (Raffel et al.) with Hugging Face ``transformers``' module names, so
what ``T5ForConditionalGeneration.save_pretrained`` writes loads with ``t5_from_pretrained``.

What makes it T5: RMS layer norm (scale only: no mean subtraction, no bias), pre-norm sublayers,
Linear layers without bias, no 1/sqrt(d) scaling of the attention scores, and relative position
bias instead of position embeddings -- a learned scalar per (bucket of key - query distance,
head), computed in the first layer of each stack and added to every layer's scores as an
additive attention mask of ``scaled_dot_product_attention`` (its gradient flows through the
mask). The decoder's buckets are one-sided (it only looks back) and it adds a causal mask; the
cross-attention has no position bias. One embedding table (``shared``) serves the encoder,
the decoder and, with ``tie_word_embeddings``, the output layer (the decoder output is then
scaled by d_model^-0.5 first). ``generate`` decodes greedily, with a KV cache per decoder layer
(self-attention keys/values grow by one position a step; the cross-attention's are computed once).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import fastdl
from fastdl import nn
from fastdl.nn import functional as F


@dataclass
class T5Config:
    """T5's hyper-parameters (``transformers.T5Config``'s names; t5-small's values by default).

    >>> import fastdl
    >>> fastdl.models.T5Config(d_model=64, num_layers=2).num_decoder_layers  # = num_layers
    2
    """
    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: int | None = None
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"  # or "gated-gelu" (T5 v1.1: gelu_new(wi_0 x) * wi_1 x)
    tie_word_embeddings: bool = True
    scale_decoder_outputs: bool | None = None  # x d_model^-0.5 before the LM head (None: tied)
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0

    def __post_init__(self):
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        if self.scale_decoder_outputs is None:
            self.scale_decoder_outputs = self.tie_word_embeddings
        if self.feed_forward_proj not in ("relu", "gated-gelu"):
            raise ValueError(f"T5Config: feed_forward_proj {self.feed_forward_proj!r} is not "
                             "supported ('relu' or 'gated-gelu')")


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32,
                             max_distance=128):
    """T5's bucket of each relative position (key position - query position), an int64 array.

    Half the buckets (a quarter each way when bidirectional) are exact distances 0, 1, ...;
    the rest cover distances up to ``max_distance`` in logarithmically growing bins, and every
    larger distance shares the last bucket. Without ``bidirectional`` (the decoder) keys after
    the query all land in bucket 0. Computed in float32 like Mesh TensorFlow / transformers.

    >>> import numpy as np, fastdl
    >>> rp = np.array([-200, -20, -3, 0, 3, 20, 200])
    >>> fastdl.models.relative_position_bucket(rp).tolist()
    [15, 10, 3, 0, 19, 26, 31]
    >>> fastdl.models.relative_position_bucket(rp, bidirectional=False).tolist()
    [31, 17, 3, 0, 0, 0, 0]
    """
    rp = np.asarray(relative_position, dtype=np.int64)
    buckets = np.zeros(rp.shape, np.int64)
    if bidirectional:
        num_buckets //= 2
        buckets += (rp > 0).astype(np.int64) * num_buckets
        rp = np.abs(rp)
    else:
        rp = -np.minimum(rp, 0)
    max_exact = num_buckets // 2
    is_small = rp < max_exact
    with np.errstate(divide="ignore"):
        scaled = (np.log(rp.astype(np.float32) / np.float32(max_exact))
                  / np.float32(math.log(max_distance / max_exact))
                  * np.float32(num_buckets - max_exact))
    large = max_exact + np.where(is_small, 0, scaled).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(is_small, rp, large)


class _T5LayerNorm(nn.Module):
    """weight * x / sqrt(mean(x^2) + eps) over the last dimension (no mean, no bias)."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(np.ones(d, fastdl.get_default_dtype()))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * (x.square().mean(-1, keepdim=True) + self.eps).rsqrt())


class _Attention(nn.Module):
    def __init__(self, cfg: T5Config, is_decoder: bool, has_relative_attention_bias: bool):
        super().__init__()
        inner = cfg.num_heads * cfg.d_kv
        self.q = nn.Linear(cfg.d_model, inner, bias=False)
        self.k = nn.Linear(cfg.d_model, inner, bias=False)
        self.v = nn.Linear(cfg.d_model, inner, bias=False)
        self.o = nn.Linear(inner, cfg.d_model, bias=False)
        self.n_heads, self.d_kv, self.is_decoder = cfg.num_heads, cfg.d_kv, is_decoder
        self.num_buckets = cfg.relative_attention_num_buckets
        self.max_distance = cfg.relative_attention_max_distance
        self.dropout = cfg.dropout_rate
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.n_heads)
        # T5's initialization (the query's std absorbs the missing 1/sqrt(d_kv))
        nn.init.normal_(self.q.weight, std=(cfg.d_model * cfg.d_kv) ** -0.5)
        nn.init.normal_(self.k.weight, std=cfg.d_model ** -0.5)
        nn.init.normal_(self.v.weight, std=cfg.d_model ** -0.5)
        nn.init.normal_(self.o.weight, std=inner ** -0.5)
        if has_relative_attention_bias:
            nn.init.normal_(self.relative_attention_bias.weight, std=cfg.d_model ** -0.5)

    def compute_bias(self, query_length, key_length, past=0):
        """(1, heads, query_length, key_length) bias; queries at positions past, past + 1, ..."""
        rel = np.arange(key_length)[None, :] - (np.arange(query_length)[:, None] + past)
        buckets = relative_position_bucket(rel, not self.is_decoder, self.num_buckets,
                                           self.max_distance)
        values = self.relative_attention_bias(fastdl.tensor(buckets))  # (L, S, H)
        return values.permute(2, 0, 1).unsqueeze(0)

    def _heads(self, t):
        B, L, _ = t.shape
        return t.reshape(B, L, self.n_heads, self.d_kv).transpose(1, 2)

    def forward(self, x, mask, kv=None, cache=None):
        """x (B, L, d_model); mask additive, broadcastable to (B, H, L, S), or None; kv the
        encoder output for cross-attention. cache: a KVCache (self-attention) or a dict (cross:
        the projected keys/values are stored on first use)."""
        B, L, _ = x.shape
        q = self._heads(self.q(x))
        if kv is None:
            k, v = self._heads(self.k(x)), self._heads(self.v(x))
            if cache is not None:
                k, v = cache.update(k, v)
        elif cache is not None and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k, v = self._heads(self.k(kv)), self._heads(self.v(kv))
            if cache is not None:
                cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=1.0,
            dropout_p=self.dropout if self.training else 0.0)
        return self.o(y.transpose(1, 2).reshape(B, L, self.n_heads * self.d_kv))


class _LayerSelfAttention(nn.Module):
    def __init__(self, cfg, is_decoder, has_bias):
        super().__init__()
        self.SelfAttention = _Attention(cfg, is_decoder, has_bias)
        self.layer_norm = _T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(self, x, mask, cache=None):
        return x + self.dropout(self.SelfAttention(self.layer_norm(x), mask, cache=cache))


class _LayerCrossAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.EncDecAttention = _Attention(cfg, True, False)
        self.layer_norm = _T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(self, x, memory, mask, cache=None):
        return x + self.dropout(self.EncDecAttention(self.layer_norm(x), mask, memory, cache))


class _DenseReluDense(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gated = cfg.feed_forward_proj == "gated-gelu"
        if self.gated:
            self.wi_0 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
            self.wi_1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
            for w in (self.wi_0, self.wi_1):
                nn.init.normal_(w.weight, std=cfg.d_model ** -0.5)
        else:
            self.wi = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
            nn.init.normal_(self.wi.weight, std=cfg.d_model ** -0.5)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        nn.init.normal_(self.wo.weight, std=cfg.d_ff ** -0.5)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(self, x):
        if self.gated:
            h = F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x)
        else:
            h = F.relu(self.wi(x))
        return self.wo(self.dropout(h))


class _LayerFF(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.DenseReluDense = _DenseReluDense(cfg)
        self.layer_norm = _T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(self, x):
        return x + self.dropout(self.DenseReluDense(self.layer_norm(x)))


class _Block(nn.Module):
    def __init__(self, cfg, is_decoder, has_bias):
        super().__init__()
        layers = [_LayerSelfAttention(cfg, is_decoder, has_bias)]
        if is_decoder:
            layers.append(_LayerCrossAttention(cfg))
        layers.append(_LayerFF(cfg))
        self.layer = nn.ModuleList(layers)
        self.is_decoder = is_decoder

    def forward(self, x, mask, memory=None, memory_mask=None, cache=None):
        x = self.layer[0](x, mask, None if cache is None else cache["self"])
        if self.is_decoder:
            x = self.layer[1](x, memory, memory_mask, None if cache is None else cache["cross"])
        return self.layer[-1](x)


class _Stack(nn.Module):
    def __init__(self, cfg, is_decoder):
        super().__init__()
        n = cfg.num_decoder_layers if is_decoder else cfg.num_layers
        self.block = nn.ModuleList([_Block(cfg, is_decoder, i == 0) for i in range(n)])
        self.final_layer_norm = _T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = nn.Dropout(cfg.dropout_rate)
        self.is_decoder = is_decoder

    def forward(self, x, mask_extra=None, memory=None, memory_mask=None, caches=None, start=0):
        """x: embedded tokens (B, L, d_model) at positions start .. start + L - 1 (decoder with
        caches); mask_extra: an additive mask added to the position bias (padding, causal)."""
        L = x.shape[1]
        S = start + L
        mask = self.block[0].layer[0].SelfAttention.compute_bias(L, S, start)
        if mask_extra is not None:
            mask = mask + mask_extra
        x = self.dropout(x)
        for i, block in enumerate(self.block):
            x = block(x, mask, memory, memory_mask, None if caches is None else caches[i])
        return self.dropout(self.final_layer_norm(x))


def _padding_mask(attention_mask, dtype):
    """1 = token, 0 = padding (B, S) -> additive (B, 1, 1, S): dtype's minimum at padding."""
    if attention_mask is None:
        return None
    m = np.asarray(attention_mask.numpy() if isinstance(attention_mask, fastdl.Tensor)
                   else attention_mask)
    add = np.where(m[:, None, None, :] == 0, np.finfo(dtype).min, 0.0).astype(dtype)
    return fastdl.tensor(add)


def _ids(x):
    return x if isinstance(x, fastdl.Tensor) else fastdl.tensor(np.asarray(x, np.int64))


class T5(nn.Module):
    """T5-style encoder-decoder language model: ``forward(input_ids, decoder_input_ids,
    attention_mask=None)`` -> logits (B, T, vocab_size). ``encode`` / ``decode`` run the halves;
    ``generate`` decodes greedily with a KV cache. Parameter names are ``transformers``'
    (``shared``, ``encoder.block.N.layer.M...``, ``lm_head`` when not tied).

    Shape: input_ids (B, S) and attention_mask (B, S) (1 = token, 0 = padding),
    decoder_input_ids (B, T); output (B, T, vocab_size).

    >>> import fastdl
    >>> cfg = fastdl.models.T5Config(vocab_size=20, d_model=16, d_kv=4, d_ff=32, num_layers=2,
    ...                              num_heads=4, dropout_rate=0.0)
    >>> model = fastdl.models.T5(cfg)
    >>> src = fastdl.tensor([[5, 6, 7, 1]])
    >>> model(src, fastdl.tensor([[0, 3, 4]])).shape
    (1, 3, 20)
    >>> model.generate(src, max_new_tokens=4).shape  # the start token + 4 new ones at most
    (1, 5)
    """

    def __init__(self, cfg: T5Config):
        super().__init__()
        self.config = cfg
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model)
        nn.init.normal_(self.shared.weight, std=1.0)
        self.encoder = _Stack(cfg, False)
        self.decoder = _Stack(cfg, True)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
            nn.init.normal_(self.lm_head.weight, std=1.0)

    def encode(self, input_ids, attention_mask=None):
        """Encoder output (B, S, d_model)."""
        x = self.shared(_ids(input_ids))
        return self.encoder(x, _padding_mask(attention_mask, x.dtype))

    def decode(self, decoder_input_ids, memory, attention_mask=None, caches=None, start=0):
        """Logits (B, T, vocab) of decoder tokens at positions start .. start + T - 1 given the
        encoder output ``memory``; ``caches`` from ``new_caches()`` keep earlier positions."""
        x = self.shared(_ids(decoder_input_ids))
        T = x.shape[1]
        causal = None
        if T > 1:
            S = start + T
            keep = np.arange(S)[None, :] <= start + np.arange(T)[:, None]
            causal = fastdl.tensor(np.where(keep, 0.0, np.finfo(x.dtype).min).astype(x.dtype))
        h = self.decoder(x, causal, memory, _padding_mask(attention_mask, x.dtype), caches,
                         start)
        if self.config.scale_decoder_outputs:
            h = h * self.config.d_model ** -0.5
        if self.config.tie_word_embeddings:
            return F.linear(h, self.shared.weight)
        return self.lm_head(h)

    def forward(self, input_ids, decoder_input_ids, attention_mask=None):
        memory = self.encode(input_ids, attention_mask)
        return self.decode(decoder_input_ids, memory, attention_mask)

    def new_caches(self):
        """One empty cache per decoder layer for ``decode(..., caches=...)``."""
        return [{"self": nn.KVCache(), "cross": {}} for _ in self.decoder.block]

    def generate(self, input_ids, max_new_tokens, attention_mask=None, use_cache=True,
                 eos_token_id=None):
        """Greedy decoding: (B, 1 + up to max_new_tokens) ids starting with
        ``decoder_start_token_id``. Stops early when every row has produced ``eos_token_id``
        (default: the config's; later tokens of finished rows are ``pad_token_id``). With
        ``use_cache`` each step runs only the newest token through the decoder."""
        cfg = self.config
        eos = cfg.eos_token_id if eos_token_id is None else eos_token_id
        ids = _ids(input_ids)
        B = ids.shape[0]
        out = np.full((B, 1), cfg.decoder_start_token_id, np.int64)
        done = np.zeros(B, bool)
        with fastdl.no_grad():
            memory = self.encode(ids, attention_mask)
            caches = self.new_caches() if use_cache else None
            for _ in range(max_new_tokens):
                if use_cache:
                    logits = self.decode(out[:, -1:], memory, attention_mask, caches,
                                         start=out.shape[1] - 1)
                else:
                    logits = self.decode(out, memory, attention_mask)
                nxt = logits.numpy()[:, -1].argmax(-1)
                nxt = np.where(done, cfg.pad_token_id, nxt)
                out = np.concatenate([out, nxt[:, None]], axis=1)
                done |= nxt == eos
                if done.all():
                    break
        return fastdl.tensor(out)


def t5_from_pretrained(directory) -> T5:
    """A ``T5`` from what ``transformers``' ``T5ForConditionalGeneration.save_pretrained``
    wrote in ``directory`` (config.json + model.safetensors; nothing is downloaded).

    >>> import fastdl
    >>> fastdl.models.t5_from_pretrained("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: ...config.json...
    """
    from fastdl.models.pretrained import _read
    config, t = _read(directory)
    if config.get("model_type", "t5") != "t5":
        raise ValueError(f"t5_from_pretrained: model_type is {config.get('model_type')!r}")
    proj = config.get("feed_forward_proj", "relu")
    if proj not in ("relu", "gated-gelu"):
        raise ValueError(f"t5_from_pretrained: feed_forward_proj {proj!r} is not supported")
    cfg = T5Config(**{k: config[k] for k in (
        "vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers",
        "num_heads", "relative_attention_num_buckets", "relative_attention_max_distance",
        "layer_norm_epsilon", "pad_token_id", "eos_token_id", "decoder_start_token_id")
        if config.get(k) is not None}, feed_forward_proj=proj, dropout_rate=0.0,
        tie_word_embeddings=config.get("tie_word_embeddings", True),
        scale_decoder_outputs=config.get("scale_decoder_outputs"))
    if "shared.weight" not in t:
        for alias in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
            if alias in t:
                t["shared.weight"] = t[alias]
                break
    model = T5(cfg).to(dtype=t["shared.weight"].dtype)
    names = model.state_dict()
    missing = [n for n in names if n not in t]
    if missing:
        raise ValueError(f"t5_from_pretrained: the checkpoint lacks {missing[:5]}")
    model.load_state_dict({n: np.ascontiguousarray(t[n]) for n in names})
    model.eval()
    return model
