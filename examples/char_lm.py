"""Train a character-level LSTM language model on a text that ships with Python (the English
help topics of ``pydoc_data``, ~460k characters; no download) and sample from it.

    python examples/char_lm.py [--minutes 3] [--hidden 256] [--seq 100] [--batch 32]

Prints the training loss (nats per character) as it goes and a sample after each phase.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models import CharLM


def load_text():
    import pydoc_data.topics
    return "".join(pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics))


def train(minutes=3.0, hidden=256, seq=100, batch=32, lr=3e-3, seed=0, verbose=True):
    fastdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    text = load_text()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text], np.int64)
    model = CharLM(len(chars), embed_dim=64, hidden_size=hidden, num_layers=2)
    opt = fastdl.optim.Adam(model.parameters(), lr=lr)
    start, step, losses = time.time(), 0, []
    while time.time() - start < minutes * 60:
        starts = rng.integers(0, len(data) - seq - 1, batch)
        x = np.stack([data[s:s + seq] for s in starts])
        y = np.stack([data[s + 1:s + seq + 1] for s in starts])
        logits, _ = model(fastdl.tensor(x))
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(chars)),
                                           fastdl.tensor(y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(float(loss.item()))
        step += 1
        if verbose and step % 50 == 0:
            print(f"step {step:5d}  {time.time() - start:6.1f} s  loss {np.mean(losses[-50:]):.3f}")
    prompt = "The "
    out = model.generate([index[c] for c in prompt], 300, temperature=0.7, top_k=10, seed=seed)
    sample = "".join(chars[i] for i in out)
    if verbose:
        print("\nsample:\n" + sample)
    return {"steps": step, "final_loss": float(np.mean(losses[-50:])), "sample": sample}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seq", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    train(a.minutes, a.hidden, a.seq, a.batch, seed=a.seed)


if __name__ == "__main__":
    main()
