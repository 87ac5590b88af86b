"""A BERT-style encoder (token + position + segment embeddings, LayerNorm, post-norm Transformer
encoder layers with erf-GELU) with a pooled classification head; ``bert_from_pretrained`` reads
transformers' ``BertModel`` / ``BertForSequenceClassification`` / ``BertForTokenClassification``
save_pretrained output."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import fastdl
from fastdl import nn


@dataclass
class BERTConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    num_labels: int = 0  # > 0: a classification head on the pooled [CLS] state
    token_classification: bool = False  # the head on every token (no pooler), not on [CLS]


class BERT(nn.Module):
    """forward(input_ids (B, L), attention_mask (B, L) 1 = token / 0 = padding,
    token_type_ids) -> last hidden states (B, L, hidden); ``classify`` -> (B, num_labels)."""

    def __init__(self, cfg: BERTConfig):
        super().__init__()
        self.config = cfg
        E = cfg.hidden_size
        self.word_embeddings = nn.Embedding(cfg.vocab_size, E)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, E)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, E)
        self.embeddings_norm = nn.LayerNorm(E, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(E, cfg.num_attention_heads, cfg.intermediate_size,
                                       dropout=cfg.dropout, activation="gelu",
                                       layer_norm_eps=cfg.layer_norm_eps, batch_first=True)
            for _ in range(cfg.num_hidden_layers)])
        self.pooler = None if cfg.token_classification else nn.Linear(E, E)
        self.classifier = nn.Linear(E, cfg.num_labels) if cfg.num_labels else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        ids = input_ids if isinstance(input_ids, fastdl.Tensor) else fastdl.tensor(input_ids)
        B, L = ids.shape
        if L > self.config.max_position_embeddings:
            raise ValueError(f"BERT: sequence length {L} exceeds max_position_embeddings "
                             f"{self.config.max_position_embeddings}")
        types = fastdl.tensor(np.zeros((B, L), np.int64)) if token_type_ids is None else \
            fastdl.tensor(np.asarray(getattr(token_type_ids, "numpy", lambda: token_type_ids)()))
        x = (self.word_embeddings(ids) + self.position_embeddings(fastdl.tensor(np.arange(L)))
             + self.token_type_embeddings(types))
        x = self.dropout(self.embeddings_norm(x))
        pad = None
        if attention_mask is not None:
            m = np.asarray(getattr(attention_mask, "numpy", lambda: attention_mask)())
            pad = fastdl.tensor(m == 0)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return x

    def classify(self, input_ids, attention_mask=None, token_type_ids=None):
        """Logits (B, num_labels) from the pooled [CLS] state, or (B, L, num_labels) per token
        for a token-classification model (config.token_classification)."""
        if self.classifier is None:
            raise RuntimeError("BERT: built without a classification head (num_labels=0)")
        h = self(input_ids, attention_mask, token_type_ids)
        if self.config.token_classification:
            return self.classifier(self.dropout(h))
        pooled = self.pooler(h[:, 0]).tanh()
        return self.classifier(self.dropout(pooled))


def bert_from_pretrained(directory) -> BERT:
    from fastdl.models.pretrained import _read
    config, t = _read(directory)
    if config.get("model_type", "bert") != "bert":
        raise ValueError(f"bert_from_pretrained: model_type is {config.get('model_type')!r}")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"bert_from_pretrained: hidden_act {config.get('hidden_act')!r} is "
                         "not supported (erf GELU only)")
    labels = t["classifier.weight"].shape[0] if "classifier.weight" in t else 0
    # BertForTokenClassification: a classifier and no pooler -- the head reads every token
    per_token = labels > 0 and not any(k.endswith("pooler.dense.weight") for k in t)
    hidden_dropout = config.get("hidden_dropout_prob", 0.1)
    cfg = BERTConfig(vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
                     num_hidden_layers=config["num_hidden_layers"],
                     num_attention_heads=config["num_attention_heads"],
                     intermediate_size=config["intermediate_size"],
                     max_position_embeddings=config["max_position_embeddings"],
                     type_vocab_size=config["type_vocab_size"],
                     layer_norm_eps=config.get("layer_norm_eps", 1e-12), num_labels=labels,
                     dropout=hidden_dropout, token_classification=per_token)
    p = "bert." if any(k.startswith("bert.") for k in t) else ""
    g = lambda name: np.ascontiguousarray(t[p + name])  # noqa: E731
    e = "embeddings."
    state = {"word_embeddings.weight": g(e + "word_embeddings.weight"),
             "position_embeddings.weight": g(e + "position_embeddings.weight"),
             "token_type_embeddings.weight": g(e + "token_type_embeddings.weight"),
             "embeddings_norm.weight": g(e + "LayerNorm.weight"),
             "embeddings_norm.bias": g(e + "LayerNorm.bias")}
    for i in range(cfg.num_hidden_layers):
        s, o = f"encoder.layer.{i}.attention.self.", f"encoder.layer.{i}."
        d = f"layers.{i}."
        state[d + "self_attn.in_proj_weight"] = np.concatenate(
            [g(s + n + ".weight") for n in ("query", "key", "value")])
        state[d + "self_attn.in_proj_bias"] = np.concatenate(
            [g(s + n + ".bias") for n in ("query", "key", "value")])
        for ours, theirs in (("self_attn.out_proj", "attention.output.dense"),
                             ("norm1", "attention.output.LayerNorm"),
                             ("linear1", "intermediate.dense"), ("linear2", "output.dense"),
                             ("norm2", "output.LayerNorm")):
            state[d + ours + ".weight"] = g(o + theirs + ".weight")
            state[d + ours + ".bias"] = g(o + theirs + ".bias")
    model = BERT(cfg).to(dtype=state["word_embeddings.weight"].dtype)
    pooled = p + "pooler.dense.weight" in t
    own = model.state_dict()
    for name in ("pooler.weight", "pooler.bias", "classifier.weight", "classifier.bias"):
        if name.startswith("pooler") and pooled:
            state[name] = t[p + "pooler.dense." + name.split(".")[1]]
        elif name.startswith("classifier") and labels:
            state[name] = t[name]
        elif name in own:  # not in the checkpoint (no pooler): keep the initialization
            state[name] = own[name].detach().numpy()
    model.load_state_dict(state)
    model.eval()
    return model
