"""BERT's relatives from what ``transformers``' ``save_pretrained`` writes, as
``fastdl.models.BERT`` encoders (forward -> last hidden states):

- ``roberta_from_pretrained``: ``RobertaModel``. The layers are BERT's; positions count from
  padding_idx + 1 over the non-padding tokens and every padding token (``pad_token_id`` in
  input_ids) sits at position padding_idx, as transformers derives them from the input ids
  (``RoBERTa.forward``); one token type (0) by default.
- ``distilbert_from_pretrained``: ``DistilBertModel``. No token types, its own parameter names
  (q_lin / sa_layer_norm / ffn.lin1 ...), GELU or ReLU, and with ``sinusoidal_pos_embds`` a fixed
  sin/cos position table (computed here when the checkpoint does not carry it).

Task heads (masked-LM, classification) are not loaded.
"""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl.models.autoencoder import _host
from fastdl.models.bert import (BERT, BERTConfig, bert_family_from_checkpoint,
                                encoder_layers_state, load_keeping_the_rest)


class RoBERTa(BERT):
    """``BERT`` whose default positions come from the input ids: padding_idx + 1, + 2, ... over
    the tokens, padding_idx at every ``padding_idx`` token.

    >>> import numpy as np, fastdl
    >>> cfg = fastdl.models.BERTConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
    ...                                num_attention_heads=2, intermediate_size=32,
    ...                                max_position_embeddings=12, type_vocab_size=1)
    >>> fastdl.models.RoBERTa(cfg, padding_idx=1).positions(np.array([[0, 5, 7, 1, 1]])).tolist()
    [[2, 3, 4, 1, 1]]
    """

    def __init__(self, cfg: BERTConfig, padding_idx: int = 1):
        super().__init__(cfg)
        self.padding_idx = padding_idx

    def positions(self, input_ids):
        tokens = (_host(input_ids) != self.padding_idx).astype(np.int64)
        return np.cumsum(tokens, 1) * tokens + self.padding_idx

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        if position_ids is None:
            position_ids = self.positions(input_ids)
        return super().forward(input_ids, attention_mask, token_type_ids, position_ids)


def roberta_from_pretrained(directory) -> RoBERTa:
    """A ``RoBERTa`` encoder from what ``RobertaModel.save_pretrained`` wrote (the encoder of a
    ``RobertaFor...`` model loads too, without its head).

    >>> import fastdl
    >>> fastdl.models.roberta_from_pretrained("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: ...
    """
    from fastdl.models.pretrained import _read
    config, tensors = _read(directory)
    return bert_family_from_checkpoint(config, tensors, "roberta", RoBERTa,
                                       padding_idx=config.get("pad_token_id", 1))


# DistilBERT's names (under transformer.layer.{i}.) of each part of TransformerEncoderLayer
DISTILBERT_LAYER_NAMES = {"query": "attention.q_lin", "key": "attention.k_lin",
                          "value": "attention.v_lin", "self_attn.out_proj": "attention.out_lin",
                          "norm1": "sa_layer_norm", "linear1": "ffn.lin1", "linear2": "ffn.lin2",
                          "norm2": "output_layer_norm"}


def distilbert_from_pretrained(directory) -> BERT:
    """A ``BERT`` encoder (no token type embeddings) from what ``DistilBertModel.save_pretrained``
    wrote (the encoder of a ``DistilBertFor...`` model loads too, without its head).

    >>> import fastdl
    >>> fastdl.models.distilbert_from_pretrained("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: ...
    """
    from fastdl.models.pretrained import _read
    config, t = _read(directory)
    if config.get("model_type", "distilbert") != "distilbert":
        raise ValueError(f"distilbert_from_pretrained: model_type is "
                         f"{config.get('model_type')!r}")
    activation = config.get("activation", "gelu")
    if activation not in ("gelu", "relu"):
        raise ValueError(f"distilbert_from_pretrained: activation {activation!r} is not "
                         "supported ('gelu' or 'relu')")
    cfg = BERTConfig(vocab_size=config["vocab_size"], hidden_size=config["dim"],
                     num_hidden_layers=config["n_layers"], num_attention_heads=config["n_heads"],
                     intermediate_size=config["hidden_dim"],
                     max_position_embeddings=config["max_position_embeddings"],
                     type_vocab_size=0, layer_norm_eps=1e-12,  # DistilBERT's fixed eps
                     hidden_act=activation, dropout=config.get("dropout", 0.1))
    p = "distilbert." if any(k.startswith("distilbert.") for k in t) else ""
    g = lambda name: np.ascontiguousarray(t[p + name])  # noqa: E731
    positions = p + "embeddings.position_embeddings.weight"
    if positions not in t and config.get("sinusoidal_pos_embds", False):
        t[positions] = _sinusoidal_table(cfg.max_position_embeddings, cfg.hidden_size,
                                         t[p + "embeddings.word_embeddings.weight"].dtype)
    state = {"word_embeddings.weight": g("embeddings.word_embeddings.weight"),
             "position_embeddings.weight": g("embeddings.position_embeddings.weight"),
             "embeddings_norm.weight": g("embeddings.LayerNorm.weight"),
             "embeddings_norm.bias": g("embeddings.LayerNorm.bias")}
    state.update(encoder_layers_state(g, cfg.num_hidden_layers, "transformer.layer.{}.",
                                      DISTILBERT_LAYER_NAMES))
    model = BERT(cfg).to(dtype=state["word_embeddings.weight"].dtype)
    return load_keeping_the_rest(model, state)


def _sinusoidal_table(max_len, dim, dtype):
    """DistilBERT's fixed table: sin at even, cos at odd columns (nn.SinusoidalPositionalEncoding's
    table)."""
    return fastdl.nn.SinusoidalPositionalEncoding(dim, max_len=max_len).pe.numpy().astype(dtype)
