"""Token-by-token decoding shared by the decoder-only language models (``GPT``, ``Llama``).

A model that mixes in ``CausalLMGenerationMixin`` provides ``forward(ids, caches, start,
attention_mask, position_ids) -> logits (B, L, vocab)`` and ``new_caches()`` (one
``nn.KVCache`` per layer); ``generate`` then decodes greedily or by sampling, with or without
the caches, and handles left-padded batches and end-of-sequence as transformers' ``generate``.
"""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl.models.autoencoder import _host


def check_cache_start(who, caches, start):
    """``forward(ids, caches, start)``'s caches must hold exactly the ``start`` earlier
    positions."""
    if caches is not None and len(caches[0]) != start:
        raise ValueError(f"{who}: start is {start} but the caches hold {len(caches[0])} "
                         "positions (pass start=len(cache))")


def padding_keep(who, attention_mask, batch, length):
    """None, or the bool (B, 1, 1, S) mask of the keys that are not padding in a (B, S)
    attention_mask of 1 (token) and 0 (padding)."""
    if attention_mask is None:
        return None
    m = _host(attention_mask)
    if m.shape != (batch, length):
        raise ValueError(f"{who}: attention_mask must be (B, start + L) = {(batch, length)}, "
                         f"got {m.shape}")
    return (m != 0)[:, None, None, :]


class CausalLMGenerationMixin:
    """``generate`` for a model with ``forward(ids, caches, start, attention_mask,
    position_ids)`` and ``new_caches()``."""

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                 use_cache=True, rng=None, attention_mask=None, eos_token_id=None,
                 pad_token_id=None):
        """Append up to ``max_new_tokens`` tokens to ``idx`` (B, L): greedy at temperature 0,
        else sampled from softmax(logits / temperature) restricted to the top_k tokens and/or
        the smallest set whose probability reaches top_p. With ``use_cache`` each step runs only
        the new token through the model (keys and values of the earlier ones are cached).
        ``attention_mask`` (B, L) marks a padded batch's tokens (1) and padding (0), with
        positions counted from each row's first token, as transformers' ``generate``; a row
        that produced ``eos_token_id`` continues with ``pad_token_id`` (default: the eos id)
        and generation stops when every row has."""
        _check_sampling(max_new_tokens, temperature, top_k, top_p)
        rng = rng if rng is not None else np.random.default_rng()
        out = np.asarray(idx.numpy() if isinstance(idx, fastdl.Tensor) else idx)
        if out.ndim != 2 or out.shape[1] == 0:
            raise ValueError(f"{type(self).__name__}.generate: idx must be (B, L) token ids "
                             f"with L >= 1, got shape {out.shape}")
        mask = positions = None
        if attention_mask is not None:
            mask = _host(attention_mask)
            if mask.shape != out.shape:
                raise ValueError(f"{type(self).__name__}.generate: attention_mask must have "
                                 f"idx's shape {out.shape}, got {mask.shape}")
            mask = (mask != 0).astype(np.int64)
            positions = np.where(mask == 0, 1, np.cumsum(mask, 1) - 1)
        pad = eos_token_id if pad_token_id is None else pad_token_id
        finished = np.zeros(out.shape[0], dtype=bool)
        caches = self.new_caches() if use_cache else None
        with fastdl.no_grad():
            logits = self(fastdl.tensor(out), caches, attention_mask=mask,
                          position_ids=positions)
            for step in range(max_new_tokens):
                nxt = _pick(logits.numpy()[:, -1].astype(np.float64), temperature, top_k, top_p,
                            rng)
                if eos_token_id is not None:
                    nxt = np.where(finished, pad, nxt)
                    finished |= nxt == eos_token_id
                out = np.concatenate([out, nxt[:, None]], axis=1)
                if mask is not None:
                    mask = np.concatenate([mask, np.ones_like(mask[:, :1])], axis=1)
                    positions = np.concatenate([positions, positions[:, -1:] + 1], axis=1)
                if step + 1 == max_new_tokens or finished.all():
                    break
                if use_cache:
                    logits = self(fastdl.tensor(nxt[:, None]), caches, start=out.shape[1] - 1,
                                  attention_mask=mask,
                                  position_ids=None if positions is None else positions[:, -1:])
                else:
                    logits = self(fastdl.tensor(out), attention_mask=mask,
                                  position_ids=positions)
        return fastdl.tensor(out)


def _check_sampling(max_new_tokens, temperature, top_k, top_p):
    if int(max_new_tokens) != max_new_tokens or max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got "
                         f"{max_new_tokens!r}")
    if not (np.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"generate: temperature must be finite and >= 0 (0: greedy), got "
                         f"{temperature!r}")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"generate: top_k must be an integer >= 1 or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"generate: top_p must be in (0, 1] or None, got {top_p!r}")


def _pick(logits, temperature, top_k, top_p, rng):
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None:
        kth = np.sort(logits, -1)[:, -min(top_k, logits.shape[-1])][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-p, -1)
        sorted_p = np.take_along_axis(p, order, -1)
        drop = np.cumsum(sorted_p, -1) - sorted_p >= top_p  # keep the first that reaches top_p
        p_sorted_kept = np.where(drop, 0.0, sorted_p)
        p = np.zeros_like(p)
        np.put_along_axis(p, order, p_sorted_kept, -1)
        p /= p.sum(-1, keepdims=True)
    return np.array([rng.choice(p.shape[-1], p=row) for row in p])
