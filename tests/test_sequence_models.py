"""The sequence models train (loss falls on small synthetic tasks) and their helpers work."""
import numpy as np
import pytest

import fastdl
from fastdl import models, nn


def _train(model, batches, loss_fn, steps, lr=0.01):
    opt = fastdl.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for i in range(steps):
        loss = loss_fn(model, *batches[i % len(batches)])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses


def test_sequence_classifier_learns_variable_length_task():
    fastdl.manual_seed(0)
    rng = np.random.default_rng(0)
    # class = whether token 1 occurs in the sequence (lengths 2..7, padded with 0)
    batches = []
    for _ in range(4):
        lengths = rng.integers(2, 8, 16)
        tokens = np.zeros((16, 7), np.int64)
        for b, n in enumerate(lengths):
            tokens[b, :n] = rng.integers(2, 6, n)
        labels = rng.integers(0, 2, 16)
        for b in np.flatnonzero(labels):
            tokens[b, rng.integers(0, lengths[b])] = 1
        batches.append((fastdl.tensor(tokens), lengths, fastdl.tensor(labels)))
    for pooling in ("mean", "max"):
        model = models.SequenceClassifier(6, 2, embed_dim=8, hidden_size=16, pooling=pooling)
        losses = _train(model, batches, lambda m, t, l, y: nn.functional.cross_entropy(m(t, l), y),
                        60, lr=0.02)
        assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:4])


def test_forecaster_beats_naive_on_a_sine():
    fastdl.manual_seed(1)
    t = np.arange(400) * 0.3
    series = np.sin(t).astype(np.float32)
    X = np.stack([series[i:i + 12] for i in range(300)])[:, :, None]
    Y = np.stack([series[i + 12:i + 14] for i in range(300)])[:, :, None]
    model = models.Forecaster(1, hidden_size=16, horizon=2)
    batches = [(fastdl.tensor(X[i:i + 50]), fastdl.tensor(Y[i:i + 50])) for i in range(0, 300, 50)]
    _train(model, batches, lambda m, x, y: nn.functional.mse_loss(m(x), y), 120, lr=0.02)
    with fastdl.no_grad():
        pred = model(fastdl.tensor(X)).numpy()
    naive = np.repeat(X[:, -1:, :], 2, axis=1)
    assert np.mean((pred - Y) ** 2) < 0.5 * np.mean((naive - Y) ** 2)


def test_char_lm_learns_and_generates():
    fastdl.manual_seed(2)
    text = "abcabcabcabcabcabcabcabcabcabc" * 4
    ids = np.array([ord(c) - ord("a") for c in text], np.int64)
    X = np.stack([ids[i:i + 10] for i in range(0, 100, 5)])
    Y = np.stack([ids[i + 1:i + 11] for i in range(0, 100, 5)])
    model = models.CharLM(3, embed_dim=8, hidden_size=16, num_layers=1)
    loss_fn = lambda m, x, y: nn.functional.cross_entropy(m(x)[0].reshape(-1, 3),  # noqa: E731
                                                          y.reshape(-1))
    losses = _train(model, [(fastdl.tensor(X), fastdl.tensor(Y))], loss_fn, 80, lr=0.03)
    assert losses[-1] < 0.2 * losses[0]
    out = model.generate([0, 1], 9, temperature=0.5, top_k=1, seed=0)
    assert out == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]
    with pytest.raises(ValueError):
        model.generate([0], 3, temperature=0.0)


def test_seq2seq_learns_to_reverse():
    fastdl.manual_seed(3)
    rng = np.random.default_rng(3)
    src = rng.integers(2, 6, (64, 4))
    tgt = src[:, ::-1].copy()
    tgt_in = np.concatenate([np.ones((64, 1), np.int64), tgt[:, :-1]], 1)  # 1 = BOS
    model = models.Seq2Seq(6, 6, embed_dim=16, hidden_size=32)
    loss_fn = lambda m, s, ti, t: nn.functional.cross_entropy(  # noqa: E731
        m(s, ti).reshape(-1, 6), t.reshape(-1))
    batch = (fastdl.tensor(src), fastdl.tensor(tgt_in), fastdl.tensor(tgt))
    losses = _train(model, [batch], loss_fn, 150, lr=0.02)
    assert losses[-1] < 0.3 * losses[0]
    decoded = model.decode(fastdl.tensor(src), 1, 4)
    assert decoded.shape == (64, 4)
    assert np.mean(decoded == tgt) > 0.6
