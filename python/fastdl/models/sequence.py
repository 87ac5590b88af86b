"""Sequence models composed from ``fastdl.nn``'s recurrent layers.

- ``SequenceClassifier``: embedding -> bidirectional LSTM over variable-length (packed) batches
  -> mean or max pooling over each sequence's real steps -> linear logits.
- ``Forecaster``: LSTM encoder over a window of a (multivariate) series -> attention pooling
  (a learned score per step, softmax over steps) -> dense head predicting the next ``horizon``
  values.
- ``CharLM``: embedding -> LSTM -> linear over the vocabulary, with ``generate(prompt,
  temperature, top_k)`` feeding its state forward one step at a time.
- ``Seq2Seq``: GRU encoder and GRU decoder (teacher forcing in ``forward``, greedy ``decode``).
"""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl import nn
from fastdl.nn.utils import rnn as rnn_utils


class SequenceClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, embed_dim=64, hidden_size=128, num_layers=1,
                 pooling="mean", dropout=0.0, padding_idx=0):
        super().__init__()
        if pooling not in ("mean", "max"):
            raise ValueError(f"SequenceClassifier: pooling must be 'mean' or 'max', got "
                             f"{pooling!r}")
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                            bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, tokens, lengths):
        """tokens (batch, steps) int64 padded, lengths (batch,): logits (batch, classes)."""
        lengths = np.asarray(lengths._data if isinstance(lengths, fastdl.Tensor) else lengths)
        emb = self.embedding(tokens)
        packed = rnn_utils.pack_padded_sequence(emb, lengths, batch_first=True,
                                                enforce_sorted=False)
        out, _ = self.lstm(packed)
        padded, _ = rnn_utils.pad_packed_sequence(out, batch_first=True,
                                                  total_length=tokens.shape[1])
        mask = (np.arange(tokens.shape[1])[None, :] < lengths[:, None]).astype(
            padded._data.dtype)[:, :, None]
        if self.pooling == "mean":
            pooled = (padded * fastdl.tensor(mask)).sum(1) / fastdl.tensor(
                lengths[:, None].astype(padded._data.dtype))
        else:
            pooled = (padded + fastdl.tensor((mask - 1.0) * 1e9)).amax(1)
        return self.head(pooled)


class Forecaster(nn.Module):
    def __init__(self, n_features=1, hidden_size=64, num_layers=1, horizon=1, dropout=0.0):
        super().__init__()
        self.encoder = nn.LSTM(n_features, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.score = nn.Linear(hidden_size, 1)
        self.head = nn.Sequential(nn.Linear(2 * hidden_size, hidden_size), nn.Tanh(),
                                  nn.Linear(hidden_size, horizon * n_features))
        self.horizon, self.n_features = horizon, n_features

    def forward(self, window):
        """window (batch, steps, features) -> (batch, horizon, features)."""
        out, (h, _) = self.encoder(window)
        weights = fastdl.nn.functional.softmax(self.score(out), dim=1)  # (batch, steps, 1)
        context = (weights * out).sum(1)
        y = self.head(fastdl.cat([context, h[-1]], 1))
        return y.reshape(-1, self.horizon, self.n_features)


class CharLM(nn.Module):
    def __init__(self, vocab_size, embed_dim=64, hidden_size=256, num_layers=2, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        """tokens (batch, steps) -> (logits (batch, steps, vocab), state)."""
        out, state = self.lstm(self.embedding(tokens), state)
        return self.head(out), state

    def generate(self, prompt, length, temperature=1.0, top_k=None, seed=None):
        """Continue ``prompt`` (a sequence of token ids) by ``length`` sampled tokens: softmax of
        logits / temperature, restricted to the ``top_k`` most likely when given."""
        if temperature <= 0:
            raise ValueError(f"generate: temperature must be positive, got {temperature}")
        if len(prompt) == 0:
            raise ValueError("generate: the prompt needs at least one token")
        rng = np.random.default_rng(seed)
        was_training = self.training
        self.eval()
        out = list(int(t) for t in prompt)
        with fastdl.no_grad():
            logits, state = self(fastdl.tensor(np.array([out], np.int64)))
            for _ in range(length):
                z = logits.numpy()[0, -1].astype(np.float64) / temperature
                if top_k is not None and top_k < z.size:
                    cut = np.partition(z, -top_k)[-top_k]
                    z = np.where(z >= cut, z, -np.inf)
                p = np.exp(z - z.max())
                p /= p.sum()
                nxt = int(rng.choice(p.size, p=p))
                out.append(nxt)
                logits, state = self(fastdl.tensor(np.array([[nxt]], np.int64)), state)
        self.train(was_training)
        return out


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, embed_dim=64, hidden_size=128, num_layers=1):
        super().__init__()
        self.src_embedding = nn.Embedding(src_vocab, embed_dim)
        self.tgt_embedding = nn.Embedding(tgt_vocab, embed_dim)
        self.encoder = nn.GRU(embed_dim, hidden_size, num_layers, batch_first=True)
        self.decoder = nn.GRU(embed_dim, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, tgt_vocab)

    def forward(self, src, tgt_in):
        """Teacher forcing: logits (batch, tgt_steps, tgt_vocab) for the next target tokens."""
        _, h = self.encoder(self.src_embedding(src))
        out, _ = self.decoder(self.tgt_embedding(tgt_in), h)
        return self.head(out)

    def decode(self, src, bos, max_len):
        """Greedy decoding from token ``bos``: (batch, max_len) int64."""
        with fastdl.no_grad():
            _, h = self.encoder(self.src_embedding(src))
            tok = np.full((src.shape[0], 1), bos, np.int64)
            outs = []
            for _ in range(max_len):
                out, h = self.decoder(self.tgt_embedding(fastdl.tensor(tok)), h)
                tok = self.head(out).numpy().argmax(-1).astype(np.int64)
                outs.append(tok)
        return np.concatenate(outs, 1)
