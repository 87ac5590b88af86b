"""A Transformer encoder-decoder (fastdl.nn.Transformer) that learns to reverse sequences of
digits, with greedy decoding; reports the exact-match accuracy on fresh sequences.

    python examples/seq2seq_reverse.py [--steps 1500] [--min-len 3] [--max-len 10] [--quick]

Sources are random digit strings of length min-len..max-len (padded; padding masked out in the
encoder and in the cross-attention); the target is the reversed string followed by an end token.
Training uses teacher forcing with the causal decoder mask; evaluation decodes greedily until
the end token and counts a sequence as right only if every token (and the end) is right.
``--quick`` trains a tiny model for a few steps (a smoke test).
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import fastdl
from fastdl import nn
from fastdl.nn import functional as F

PAD, BOS, EOS, FIRST_DIGIT = 0, 1, 2, 3
VOCAB = FIRST_DIGIT + 10


def make_batch(n, min_len, max_len, rng):
    """src (n, max_len) digits then PAD; tgt (n, max_len + 2): BOS, reversed digits, EOS, PAD."""
    lengths = rng.integers(min_len, max_len + 1, n)
    src = np.full((n, max_len), PAD, np.int64)
    tgt = np.full((n, max_len + 2), PAD, np.int64)
    tgt[:, 0] = BOS
    for i, L in enumerate(lengths):
        digits = rng.integers(FIRST_DIGIT, VOCAB, L)
        src[i, :L] = digits
        tgt[i, 1:L + 1] = digits[::-1]
        tgt[i, L + 1] = EOS
    return src, tgt


class Reverser(nn.Module):
    """Token embedding + sinusoidal positions -> nn.Transformer -> vocabulary."""

    def __init__(self, d_model=64, nhead=4, layers=2, ff=128, dropout=0.1, max_len=64):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(VOCAB, d_model)
        self.pos = nn.SinusoidalPositionalEncoding(d_model, max_len=max_len, dropout=dropout)
        self.transformer = nn.Transformer(d_model, nhead, layers, layers, ff, dropout,
                                          batch_first=True)
        self.out = nn.Linear(d_model, VOCAB)

    def _embed(self, ids):
        # N(0, 1) embeddings, not scaled by sqrt(d): the positions (in [-1, 1]) stay visible
        return self.pos(self.embed(fastdl.tensor(ids)))

    def encode(self, src):
        pad = fastdl.tensor(src == PAD)
        return self.transformer.encoder(self._embed(src), src_key_padding_mask=pad), pad

    def decode(self, tgt, memory, src_pad):
        T = tgt.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(T)
        h = self.transformer.decoder(self._embed(tgt), memory, tgt_mask=causal,
                                     memory_key_padding_mask=src_pad,
                                     tgt_key_padding_mask=fastdl.tensor(tgt == PAD))
        return self.out(h)

    def forward(self, src, tgt):
        memory, pad = self.encode(src)
        return self.decode(tgt, memory, pad)

    def greedy(self, src, max_new):
        """Decoded ids (n, <= max_new) after BOS; rows that ended are padded with PAD."""
        with fastdl.no_grad():
            memory, pad = self.encode(src)
            out = np.full((len(src), 1), BOS, np.int64)
            done = np.zeros(len(src), bool)
            for _ in range(max_new):
                nxt = self.decode(out, memory, pad).numpy()[:, -1].argmax(-1)
                nxt = np.where(done, PAD, nxt)
                out = np.concatenate([out, nxt[:, None]], 1)
                done |= nxt == EOS
                if done.all():
                    break
        return out[:, 1:]


def exact_match(model, n, min_len, max_len, rng):
    src, tgt = make_batch(n, min_len, max_len, rng)
    model.eval()
    pred = model.greedy(src, max_len + 1)
    model.train()
    want = tgt[:, 1:]
    width = min(pred.shape[1], want.shape[1])
    ok = (pred[:, :width] == want[:, :width]).all(1) & (want[:, width:] == PAD).all(1)
    return float(ok.mean())


def train(steps=1500, min_len=3, max_len=10, batch=64, d_model=64, layers=2, lr=1e-3, seed=0,
          eval_every=250, verbose=True):
    fastdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Reverser(d_model, 4, layers, 2 * d_model)
    opt = fastdl.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = fastdl.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    start = time.perf_counter()
    for step in range(1, steps + 1):
        src, tgt = make_batch(batch, min_len, max_len, rng)
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), fastdl.tensor(tgt[:, 1:].reshape(-1)),
                               ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        fastdl.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if verbose and (step % eval_every == 0 or step == steps):
            acc = exact_match(model, 200, min_len, max_len, rng)
            print(f"step {step:5d}  loss {loss.item():.4f}  exact match {acc:.3f}  "
                  f"{time.perf_counter() - start:.0f} s")
    acc = exact_match(model, 1000, min_len, max_len, np.random.default_rng(seed + 1))
    seconds = time.perf_counter() - start
    if verbose:
        print(f"exact-match accuracy {acc:.4f} on 1000 fresh sequences of length {min_len}.."
              f"{max_len} after {steps} steps in {seconds:.0f} s "
              f"({fastdl.get_num_threads()} threads)")
    return {"exact_match": acc, "seconds": seconds, "final_loss": loss.item()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--min-len", type=int, default=3)
    p.add_argument("--max-len", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="fastdl threads (default: fastdl's; on a busy shared machine 1 is faster)")
    p.add_argument("--quick", action="store_true", help="a tiny model, 20 steps")
    a = p.parse_args(argv)
    if a.threads:
        fastdl.set_num_threads(a.threads)
    if a.quick:
        return train(steps=20, min_len=2, max_len=5, batch=16, d_model=16, layers=1,
                     seed=a.seed, verbose=False)
    if not 1 <= a.min_len <= a.max_len:
        p.error(f"need 1 <= --min-len <= --max-len, got {a.min_len}, {a.max_len}")
    return train(a.steps, a.min_len, a.max_len, a.batch, a.width, a.layers, a.lr, a.seed)


if __name__ == "__main__":
    main()
