"""A LLaMA-style decoder-only language model with Hugging Face ``transformers``' module names, so
what ``LlamaForCausalLM`` / ``MistralForCausalLM`` / ``Qwen2ForCausalLM.save_pretrained``
writes loads with ``llama_from_pretrained`` (alias ``causal_lm_from_pretrained``: it dispatches
on config.json's model_type).

What makes it LLaMA: RMS layer norm (scale only), pre-norm blocks, rotary position embeddings
on the queries and keys (``nn.RotaryEmbedding``: base rope_theta, "linear" rope_scaling divides
the positions), grouped-query attention (num_key_value_heads <= num_attention_heads; each
key/value head serves a group of query heads through scaled_dot_product_attention's
``enable_gqa``, so the KV cache holds the un-repeated heads), a SiLU-gated MLP
(down(silu(gate(x)) * up(x))) and, unless tie_word_embeddings, a separate lm_head. Mistral is
the same with a sliding attention window; Qwen2 adds q/k/v biases and a window on some layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models.autoencoder import _host
from fastdl.models.generation import (CausalLMGenerationMixin, check_cache_start,
                                       padding_keep)
from fastdl.models.t5 import _T5LayerNorm as _RMSNorm  # nn.RMSNorm is not in fastdl yet
from fastdl.nn import functional as F


@dataclass
class LlamaConfig:
    """LLaMA's hyper-parameters (``transformers.LlamaConfig``'s names; tiny defaults).
    ``num_key_value_heads`` None: as many as query heads (no grouping); ``head_dim`` None:
    hidden_size / num_attention_heads. ``attention_bias``: q/k/v projections with bias;
    ``attention_output_bias`` (None: as attention_bias) the o projection. ``rope_scaling_factor``:
    linear position interpolation. ``sliding_windows``: per layer, None or the number of most
    recent positions (the query's own included) a query sees.

    >>> import fastdl
    >>> fastdl.models.LlamaConfig(hidden_size=64, num_attention_heads=4).head_dim
    16
    """
    vocab_size: int = 32000
    hidden_size: int = 256
    intermediate_size: int = 688
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling_factor: float = 1.0
    attention_bias: bool = False
    attention_output_bias: bool | None = None
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    sliding_windows: tuple | None = None

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.attention_output_bias is None:
            self.attention_output_bias = self.attention_bias
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"LlamaConfig: num_attention_heads {self.num_attention_heads} must "
                             f"be a multiple of num_key_value_heads {self.num_key_value_heads}")
        if self.sliding_windows is None:
            self.sliding_windows = (None,) * self.num_hidden_layers
        self.sliding_windows = tuple(self.sliding_windows)
        if len(self.sliding_windows) != self.num_hidden_layers:
            raise ValueError(f"LlamaConfig: {len(self.sliding_windows)} sliding_windows for "
                             f"{self.num_hidden_layers} layers")


class LlamaAttention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        H, K, D = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, H * D, bias=cfg.attention_bias)
        self.k_proj = nn.Linear(cfg.hidden_size, K * D, bias=cfg.attention_bias)
        self.v_proj = nn.Linear(cfg.hidden_size, K * D, bias=cfg.attention_bias)
        self.o_proj = nn.Linear(H * D, cfg.hidden_size, bias=cfg.attention_output_bias)
        self.heads, self.kv_heads, self.head_dim = H, K, D

    def forward(self, x, rotary, position_ids, keep, cache=None):
        """``keep``: None (plain causal attention over x alone) or a bool (B or 1, 1, L, S)
        mask of the keys each query sees."""
        B, L, _ = x.shape
        q = self.q_proj(x).reshape(B, L, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(B, L, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(B, L, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rotary(q, position_ids=position_ids), rotary(k, position_ids=position_ids)
        if cache is not None:
            k, v = cache.update(k, v)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, is_causal=keep is None,
                                           enable_gqa=True)
        return self.o_proj(y.transpose(1, 2).reshape(B, L, self.heads * self.head_dim))


class LlamaMLP(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        E, inner = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(E, inner, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(E, inner, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(inner, E, bias=cfg.mlp_bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.input_layernorm = _RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = LlamaAttention(cfg)
        self.post_attention_layernorm = _RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = LlamaMLP(cfg)

    def forward(self, x, rotary, position_ids, keep, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), rotary, position_ids, keep, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    """The decoder stack without the output layer (transformers' ``LlamaModel``)."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = _RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.rotary = nn.RotaryEmbedding(cfg.head_dim, max_len=cfg.max_position_embeddings,
                                         base=cfg.rope_theta,
                                         scaling_factor=cfg.rope_scaling_factor)


class Llama(CausalLMGenerationMixin, nn.Module):
    """Token ids (B, L) -> logits (B, L, vocab). ``forward(ids, caches, start)`` continues from
    position ``start`` (the caches' length) with one ``nn.KVCache`` per layer (``new_caches``).
    ``attention_mask`` (B, start + L), 1 for tokens and 0 for padding, keeps padding out of
    every key set; ``position_ids`` (B, L) replace positions start..start+L-1 (transformers'
    left-padded batches count positions from each row's first token). ``generate``: see
    ``CausalLMGenerationMixin``.

    >>> import numpy as np, fastdl
    >>> cfg = fastdl.models.LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64,
    ...                                 num_hidden_layers=2, num_attention_heads=4,
    ...                                 num_key_value_heads=2)
    >>> model = fastdl.models.Llama(cfg)
    >>> model(fastdl.tensor(np.array([[1, 2, 3]]))).shape
    (1, 3, 50)
    >>> model.generate(np.array([[1, 2, 3]]), 4, temperature=0).shape
    (1, 7)
    """

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def new_caches(self):
        return [nn.KVCache() for _ in self.model.layers]

    def forward(self, input_ids, caches=None, start=0, attention_mask=None, position_ids=None):
        ids = input_ids if isinstance(input_ids, fastdl.Tensor) else fastdl.tensor(input_ids)
        B, L = ids.shape
        check_cache_start("Llama", caches, start)
        pos = np.arange(start, start + L) if position_ids is None else _host(position_ids)
        if pos.shape not in ((L,), (B, L)):
            raise ValueError(f"Llama: position_ids must be (B, L) = {(B, L)}, got {pos.shape}")
        if pos.size and pos.max() >= self.config.max_position_embeddings:
            raise ValueError(f"Llama: positions up to {pos.max()} exceed max_position_embeddings "
                             f"{self.config.max_position_embeddings}")
        if pos.ndim == 1:
            pos = np.broadcast_to(pos, (B, L))
        pad_keep = padding_keep("Llama", attention_mask, B, start + L)
        keeps = {w: _keep_mask(start, L, w, pad_keep) for w in set(self.config.sliding_windows)}
        x = self.model.embed_tokens(ids)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, self.model.rotary, pos, keeps[self.config.sliding_windows[i]],
                      None if caches is None else caches[i])
        x = self.model.norm(x)
        if self.config.tie_word_embeddings:
            return F.linear(x, self.model.embed_tokens.weight)
        return self.lm_head(x)


def _keep_mask(start, L, window, pad_keep):
    """Which of the start + L keys each of the L new queries (at sequence indices start ..
    start + L - 1) sees: the causal rule, the last ``window`` indices only, no padding. None
    where that is plain causal attention over the new positions alone (is_causal)."""
    S = start + L
    binding = window is not None and window < S
    if start == 0 and pad_keep is None and not binding:
        return None
    query_index = np.arange(start, S)[:, None]
    key_index = np.arange(S)[None, :]
    keep = key_index <= query_index
    if binding:
        keep &= key_index > query_index - window  # transformers' sliding_window_overlay
    keep = keep[None, None]
    if pad_keep is not None:
        keep = keep & pad_keep
    return fastdl.tensor(keep)


_MODEL_TYPES = ("llama", "mistral", "qwen2")


def llama_from_pretrained(directory) -> Llama:
    """A ``Llama`` from what ``transformers``' ``LlamaForCausalLM``, ``MistralForCausalLM`` or
    ``Qwen2ForCausalLM`` ``save_pretrained`` wrote (config.json's model_type picks the
    family's defaults); float16/bfloat16 weights load as float32, sharded files are read.
    RoPE types other than "default" and "linear" raise NotImplementedError.

    >>> import fastdl
    >>> fastdl.models.llama_from_pretrained("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: ...
    """
    from fastdl.models.pretrained import _read
    config, tensors = _read(directory)
    kind = config.get("model_type", "llama")
    if kind not in _MODEL_TYPES:
        raise ValueError(f"llama_from_pretrained: model_type {kind!r} is not one of "
                         f"{_MODEL_TYPES}")
    if config.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"llama_from_pretrained: hidden_act "
                                  f"{config.get('hidden_act')!r} (SiLU-gated MLPs only)")
    theta, factor = _rope_settings(config)
    qwen = kind == "qwen2"  # q/k/v with bias, o without
    cfg = LlamaConfig(
        vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        num_key_value_heads=config.get("num_key_value_heads"), head_dim=config.get("head_dim"),
        max_position_embeddings=config["max_position_embeddings"],
        rms_norm_eps=config.get("rms_norm_eps", 1e-6), rope_theta=theta,
        rope_scaling_factor=factor, attention_bias=qwen or config.get("attention_bias", False),
        attention_output_bias=False if qwen else None, mlp_bias=config.get("mlp_bias", False),
        tie_word_embeddings=config.get("tie_word_embeddings", False),
        sliding_windows=_sliding_windows(config, kind))
    # a bare LlamaModel checkpoint names its tensors without the "model." prefix
    bare = not any(name.startswith("model.") for name in tensors)
    state = {("model." + name if bare else name): np.ascontiguousarray(a)
             for name, a in tensors.items() if not name.endswith("rotary_emb.inv_freq")}
    model = Llama(cfg).to(dtype=state["model.embed_tokens.weight"].dtype)
    own = set(model.state_dict())
    missing, unexpected = sorted(own - set(state)), sorted(set(state) - own)
    if "lm_head.weight" in missing:
        raise ValueError("llama_from_pretrained: tie_word_embeddings is false but the checkpoint "
                         "has no lm_head.weight (a bare LlamaModel has no output layer)")
    if missing or unexpected:
        raise ValueError(f"llama_from_pretrained: the checkpoint lacks {missing[:5]} and has "
                         f"unknown tensors {unexpected[:5]}")
    model.load_state_dict(state)
    model.eval()
    return model


causal_lm_from_pretrained = llama_from_pretrained


def _rope_settings(config):
    """(rope_theta, linear scaling factor) from transformers 5's rope_parameters or the older
    rope_theta + rope_scaling keys."""
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if any(isinstance(value, dict) for value in params.values()):  # one set per layer type
        distinct = {repr(sorted(value.items())) for value in params.values()}
        if len(distinct) > 1:
            raise NotImplementedError("llama_from_pretrained: different RoPE settings per "
                                      "layer type")
        params = next(iter(params.values()))
    kind = params.get("rope_type", params.get("type", "default"))
    if kind not in ("default", "linear"):
        raise NotImplementedError(f"llama_from_pretrained: rope type {kind!r} is not supported "
                                  "(only 'default' and 'linear')")
    partial = params.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0))
    if partial != 1.0:
        raise NotImplementedError(f"llama_from_pretrained: partial_rotary_factor {partial} "
                                  "(RoPE on every head dimension only)")
    theta = float(params.get("rope_theta", config.get("rope_theta", 10000.0)))
    return theta, float(params["factor"]) if kind == "linear" else 1.0


def _sliding_windows(config, kind):
    """Each layer's attention window (None: full causal attention): config.json's layer_types
    where present, else Mistral's one sliding_window for every layer, else Qwen2's window on
    the layers from max_window_layers on when use_sliding_window."""
    n, window = config["num_hidden_layers"], config.get("sliding_window")
    types = config.get("layer_types")
    if types is None:
        if kind == "mistral":
            return (window,) * n
        sliding = kind == "qwen2" and config.get("use_sliding_window", False)
        first = config.get("max_window_layers", n)
        types = ["sliding_attention" if sliding and i >= first else "full_attention"
                 for i in range(n)]
    unknown = set(types) - {"full_attention", "sliding_attention"}
    if unknown:
        raise NotImplementedError(f"llama_from_pretrained: layer types {sorted(unknown)}")
    return tuple(window if t == "sliding_attention" else None for t in types)
