"""A GPT-style decoder-only language model (GPT-2's layout: pre-norm blocks, learned positions,
tanh-GELU MLP, tied input/output embeddings) on fastdl.nn, with KV-cached ``generate``.

Attention is ``scaled_dot_product_attention`` (the flash kernels): causal over the whole
sequence without a cache; with a ``KVCache`` per layer, a single new token attends to every cached
position (no mask) and a chunk of several new tokens uses the cache's bottom-right aligned mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import fastdl
from fastdl import nn
from fastdl.autograd.grad_mode import grad_wanted
from fastdl.models.autoencoder import _host
from fastdl.models.generation import (CausalLMGenerationMixin, check_cache_start,
                                       padding_keep)
from fastdl.nn import functional as F


@dataclass
class GPTConfig:
    """GPT-2's hyperparameters. ``n_inner``: the MLP's width (None: 4 n_embd); ``dropout`` on the
    residual branches, ``attn_dropout`` / ``embd_dropout`` on the attention probabilities and the
    embeddings (None: ``dropout``); ``tie_word_embeddings``: the output layer is the token
    embedding (else a bias-free ``lm_head``); the attention scores are scaled by
    1 / sqrt(head size) when ``scale_attn_weights`` and by 1 / (layer index + 1) when
    ``scale_attn_by_inverse_layer_idx``, as in transformers' GPT2Config."""
    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    layer_norm_eps: float = 1e-5
    n_inner: int | None = None
    attn_dropout: float | None = None
    embd_dropout: float | None = None
    tie_word_embeddings: bool = True
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig, layer_idx: int = 0):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd {cfg.n_embd} must be a multiple of n_head {cfg.n_head}")
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.n_head, self.n_embd = cfg.n_head, cfg.n_embd
        self.dropout = cfg.dropout if cfg.attn_dropout is None else cfg.attn_dropout
        scale = (cfg.n_embd // cfg.n_head) ** -0.5 if cfg.scale_attn_weights else 1.0
        self.scale = scale / (layer_idx + 1) if cfg.scale_attn_by_inverse_layer_idx else scale

    def forward(self, x, cache=None, pad_keep=None):
        B, L, E = x.shape
        H = self.n_head
        w, b = self.c_attn.weight, self.c_attn.bias
        if grad_wanted(x, w, b):
            # q, k, v as three products with row blocks of c_attn's weight rather than one
            # product split three ways: the split's backward would zero-fill three (B, L, 3E)
            # gradients and add them; slicing the weight moves that to (E, E) blocks (GPT
            # step: -4.5% time)
            q, k, v = (F.linear(x, w[i * E:(i + 1) * E],
                                None if b is None else b[i * E:(i + 1) * E])
                       .reshape(B, L, H, E // H).transpose(1, 2) for i in range(3))
        else:  # one product, its columns viewed three ways (a decoding step: 4 calls fewer)
            qkv = F.linear(x, w, b).reshape(B, L, 3, H, E // H).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
        mask, causal = None, True
        if cache is not None:
            k, v = cache.update(k, v)
            if len(cache) > L:  # earlier positions are cached
                causal = False
                mask = cache.chunk_mask(L) if L > 1 else None
        if pad_keep is not None:  # (B, 1, 1, S) keys that are not padding, and the causal rule
            rule = np.tril(np.ones((L, k.shape[-2]), dtype=bool), k.shape[-2] - L)
            mask, causal = fastdl.tensor(pad_keep & rule), False
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           scale=self.scale,
                                           dropout_p=self.dropout if self.training else 0.0)
        # (B, H, L, D) -> (B, L, E): one position's heads are already in order
        y = y.reshape(B, L, E) if L == 1 else y.transpose(1, 2).reshape(B, L, E)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig, layer_idx: int = 0):
        super().__init__()
        inner = cfg.n_inner or 4 * cfg.n_embd
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg, layer_idx)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.c_fc = nn.Linear(cfg.n_embd, inner, bias=cfg.bias)
        self.c_proj = nn.Linear(inner, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, cache=None, pad_keep=None):
        x = x + self.attn(self.ln_1(x), cache, pad_keep)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.dropout(self.c_proj(h))


class GPT(CausalLMGenerationMixin, nn.Module):
    """Token ids (B, L) -> logits (B, L, vocab). ``forward(idx, caches, start)`` continues from
    position ``start`` (the caches' length) with one ``nn.KVCache`` per layer.
    ``attention_mask`` (B, start + L), 1 for tokens and 0 for padding, keeps padding out of
    every key set; ``position_ids`` (B, L) replace positions start..start+L-1 (transformers'
    left-padded batches count positions from each row's first token)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout if cfg.embd_dropout is None else cfg.embd_dropout)
        self.h = nn.ModuleList([Block(cfg, i) for i in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        for name, p in self.named_parameters():  # GPT-2's initialization
            if name.endswith("weight") and p.ndim == 2:
                std = 0.02 / np.sqrt(2 * cfg.n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias") and "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx, caches=None, start=0, attention_mask=None, position_ids=None):
        B, L = idx.shape
        check_cache_start("GPT", caches, start)
        if start + L > self.config.block_size:
            raise ValueError(f"GPT: positions up to {start + L} exceed block_size "
                             f"{self.config.block_size}")
        if position_ids is None:
            pos = fastdl.tensor(np.arange(start, start + L))
        else:
            pos = _host(position_ids)
            if pos.shape not in ((L,), (B, L)) or pos.min(initial=0) < 0 \
                    or pos.max(initial=0) >= self.config.block_size:
                raise ValueError(f"GPT: position_ids must be (B, L) = {(B, L)} in "
                                 f"[0, {self.config.block_size}), got shape {pos.shape}")
            pos = fastdl.tensor(pos)
        pad_keep = padding_keep("GPT", attention_mask, B, start + L)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i], pad_keep)
        x = self.ln_f(x)
        if self.config.tie_word_embeddings:
            return F.linear(x, self.wte.weight)  # tied output embedding
        return self.lm_head(x)

    def new_caches(self):
        """One empty ``nn.KVCache`` per block, for ``forward(..., caches, start)``."""
        return [nn.KVCache() for _ in self.h]
