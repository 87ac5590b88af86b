"""A BERT-style encoder (token + position + segment embeddings, LayerNorm, post-norm Transformer
encoder layers with erf-GELU) with a pooled classification head; ``bert_from_pretrained`` reads
transformers' ``BertModel`` / ``BertForSequenceClassification`` / ``BertForTokenClassification``
save_pretrained output."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models.autoencoder import _host


@dataclass
class BERTConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2  # 0: no token type embeddings (DistilBERT)
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"  # the feed-forward activation: erf "gelu" or "relu"
    dropout: float = 0.1
    num_labels: int = 0  # > 0: a classification head on the pooled [CLS] state
    token_classification: bool = False  # the head on every token (no pooler), not on [CLS]


class BERT(nn.Module):
    """forward(input_ids (B, L), attention_mask (B, L) 1 = token / 0 = padding,
    token_type_ids, position_ids (B, L) or (L,), default 0 .. L - 1) -> last hidden states
    (B, L, hidden); ``classify`` -> (B, num_labels)."""

    def __init__(self, cfg: BERTConfig):
        super().__init__()
        self.config = cfg
        E = cfg.hidden_size
        self.word_embeddings = nn.Embedding(cfg.vocab_size, E)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, E)
        self.token_type_embeddings = (nn.Embedding(cfg.type_vocab_size, E)
                                      if cfg.type_vocab_size else None)
        self.embeddings_norm = nn.LayerNorm(E, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(E, cfg.num_attention_heads, cfg.intermediate_size,
                                       dropout=cfg.dropout, activation=cfg.hidden_act,
                                       layer_norm_eps=cfg.layer_norm_eps, batch_first=True)
            for _ in range(cfg.num_hidden_layers)])
        self.pooler = None if cfg.token_classification else nn.Linear(E, E)
        self.classifier = nn.Linear(E, cfg.num_labels) if cfg.num_labels else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        ids = input_ids if isinstance(input_ids, fastdl.Tensor) else fastdl.tensor(input_ids)
        B, L = ids.shape
        positions = np.arange(L) if position_ids is None else _host(position_ids)
        if positions.size and positions.max() >= self.config.max_position_embeddings:
            raise ValueError(f"{type(self).__name__}: positions up to {positions.max()} exceed "
                             f"max_position_embeddings {self.config.max_position_embeddings}")
        x = self.word_embeddings(ids) + self.position_embeddings(fastdl.tensor(positions))
        if self.token_type_embeddings is not None:
            types = np.zeros((B, L), np.int64) if token_type_ids is None else \
                _host(token_type_ids)
            x = x + self.token_type_embeddings(fastdl.tensor(types))
        x = self.dropout(self.embeddings_norm(x))
        pad = None
        if attention_mask is not None:
            pad = fastdl.tensor(_host(attention_mask) == 0)
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


# transformers' BertLayer parameter names (under encoder.layer.{i}.) of each part of fastdl's
# TransformerEncoderLayer; query, key and value are concatenated into in_proj
BERT_LAYER_NAMES = {"query": "attention.self.query", "key": "attention.self.key",
                    "value": "attention.self.value",
                    "self_attn.out_proj": "attention.output.dense",
                    "norm1": "attention.output.LayerNorm", "linear1": "intermediate.dense",
                    "linear2": "output.dense", "norm2": "output.LayerNorm"}


def encoder_layers_state(get, num_layers, layer_prefix, names):
    """The state of ``BERT.layers`` from a checkpoint: ``get(name)`` reads a tensor,
    ``layer_prefix.format(i)`` starts layer i's names, ``names`` maps each fastdl part to the
    checkpoint's (as ``BERT_LAYER_NAMES``)."""
    state = {}
    for i in range(num_layers):
        src, dst = layer_prefix.format(i), f"layers.{i}."
        for kind in ("weight", "bias"):
            state[f"{dst}self_attn.in_proj_{kind}"] = np.concatenate(
                [get(f"{src}{names[n]}.{kind}") for n in ("query", "key", "value")])
            for ours in ("self_attn.out_proj", "norm1", "linear1", "linear2", "norm2"):
                state[f"{dst}{ours}.{kind}"] = get(f"{src}{names[ours]}.{kind}")
    return state


def bert_from_pretrained(directory) -> BERT:
    """A ``BERT`` from what ``BertModel`` / ``BertForSequenceClassification`` /
    ``BertForTokenClassification.save_pretrained`` wrote."""
    from fastdl.models.pretrained import _read
    config, t = _read(directory)
    return bert_family_from_checkpoint(config, t, "bert", BERT)


def bert_family_from_checkpoint(config, t, model_type, cls, **extra):
    """``cls(BERTConfig)`` (BERT or a subclass taking ``extra`` keyword arguments) with the
    weights of a BERT-layout checkpoint (``{model_type}.`` prefix optional); a classification
    head is read for BERT only (others name theirs differently)."""
    who = f"{model_type}_from_pretrained"
    if config.get("model_type", model_type) != model_type:
        raise ValueError(f"{who}: model_type is {config.get('model_type')!r}")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"{who}: hidden_act {config.get('hidden_act')!r} is not supported "
                         "(erf GELU only)")
    heads = model_type == "bert"
    labels = t["classifier.weight"].shape[0] if heads and "classifier.weight" in t else 0
    # BertForTokenClassification: a classifier and no pooler -- the head reads every token
    per_token = labels > 0 and not any(k.endswith("pooler.dense.weight") for k in t)
    cfg = BERTConfig(vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
                     num_hidden_layers=config["num_hidden_layers"],
                     num_attention_heads=config["num_attention_heads"],
                     intermediate_size=config["intermediate_size"],
                     max_position_embeddings=config["max_position_embeddings"],
                     type_vocab_size=config["type_vocab_size"],
                     layer_norm_eps=config.get("layer_norm_eps", 1e-12), num_labels=labels,
                     dropout=config.get("hidden_dropout_prob", 0.1),
                     token_classification=per_token)
    p = model_type + "." if any(k.startswith(model_type + ".") for k in t) else ""
    g = lambda name: np.ascontiguousarray(t[p + name])  # noqa: E731
    e = "embeddings."
    state = {"word_embeddings.weight": g(e + "word_embeddings.weight"),
             "position_embeddings.weight": g(e + "position_embeddings.weight"),
             "token_type_embeddings.weight": g(e + "token_type_embeddings.weight"),
             "embeddings_norm.weight": g(e + "LayerNorm.weight"),
             "embeddings_norm.bias": g(e + "LayerNorm.bias")}
    state.update(encoder_layers_state(g, cfg.num_hidden_layers, "encoder.layer.{}.",
                                      BERT_LAYER_NAMES))
    model = cls(cfg, **extra).to(dtype=state["word_embeddings.weight"].dtype)
    if p + "pooler.dense.weight" in t:
        state["pooler.weight"], state["pooler.bias"] = g("pooler.dense.weight"), \
            g("pooler.dense.bias")
    if labels:
        state["classifier.weight"], state["classifier.bias"] = t["classifier.weight"], \
            t["classifier.bias"]
    return load_keeping_the_rest(model, state)


def load_keeping_the_rest(model, state):
    """Load ``state`` into ``model``; what the checkpoint lacks (a pooler a bare encoder was
    saved without) keeps its initialization. The model comes back in eval mode."""
    for name, value in model.state_dict().items():
        state.setdefault(name, value.detach().numpy())
    model.load_state_dict(state)
    model.eval()
    return model
