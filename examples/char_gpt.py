"""Train a character-level GPT (fastdl.models.GPT) on a text that ships with Python (the English
help topics of ``pydoc_data``, ~460k characters; no download), then sample from it with the KV
cache (each new character runs one position through the model).

    python examples/char_gpt.py [--minutes 5] [--layers 3] [--width 128] [--context 64] [--quick]

Prints the training loss and the held-out loss (nats per character; the last 10% of the text is
held out) as it goes, and a sample at the end: each chunk of it is generated with the KV cache up
to the context length, then the next chunk starts from the last half-context of characters. ``--quick`` trains a tiny model for a few
seconds (a smoke test).
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import fastdl
from fastdl.models import GPT, GPTConfig
from fastdl.nn import functional as F


def load_text():
    import pydoc_data.topics
    topics = pydoc_data.topics.topics
    return "".join(topics[k] for k in sorted(topics))


def batches(data, context, batch, rng):
    starts = rng.integers(0, len(data) - context - 1, batch)
    idx = starts[:, None] + np.arange(context + 1)[None, :]
    chunk = data[idx]
    return fastdl.tensor(chunk[:, :-1]), fastdl.tensor(chunk[:, 1:].reshape(-1))


def heldout_loss(model, data, context, rng, batches_=4, batch=16):
    model.eval()
    with fastdl.no_grad():
        losses = []
        for _ in range(batches_):
            x, y = batches(data, context, batch, rng)
            losses.append(F.cross_entropy(model(x).reshape(y.shape[0], -1), y).item())
    model.train()
    return float(np.mean(losses))


def train(minutes=5.0, layers=3, heads=4, width=128, context=64, batch=32, lr=3e-3,
          max_steps=None, sample_chars=400, seed=0, verbose=True):
    fastdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    text = load_text()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text], np.int64)
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]
    cfg = GPTConfig(vocab_size=len(chars), block_size=context, n_layer=layers, n_head=heads,
                    n_embd=width, dropout=0.0)
    model = GPT(cfg)
    decay = [p for n, p in model.named_parameters() if p.ndim == 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim != 2]
    opt = fastdl.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.99))
    budget = minutes * 60
    start, step, losses = time.perf_counter(), 0, []
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= budget or (max_steps is not None and step >= max_steps):
            break
        # warm-up over the first 50 steps, then cosine decay over the time budget
        frac = elapsed / budget
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 *
                                                             (1 + math.cos(math.pi * frac)))
        x, y = batches(train_data, context, batch, rng)
        loss = F.cross_entropy(model(x).reshape(y.shape[0], -1), y)
        opt.zero_grad()
        loss.backward()
        fastdl.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if verbose and step % 100 == 0:
            print(f"step {step:5d}  {time.perf_counter() - start:6.0f} s  train loss "
                  f"{np.mean(losses[-100:]):.3f}  held-out "
                  f"{heldout_loss(model, val_data, context, rng):.3f}")
    val = heldout_loss(model, val_data, context, rng)
    prompt = "The "
    model.eval()
    t0 = time.perf_counter()
    out = np.array([index[c] for c in prompt])
    sample_rng = np.random.default_rng(seed)
    while len(out) - len(prompt) < sample_chars:
        keep = out[-(context // 2):] if len(out) >= context else out
        new = min(context - len(keep), sample_chars - (len(out) - len(prompt)))
        chunk = model.generate(fastdl.tensor(keep[None]), new, temperature=0.8, top_k=20,
                               rng=sample_rng).numpy()[0]
        out = np.concatenate([out, chunk[len(keep):]])
    gen_seconds = time.perf_counter() - t0
    sample = "".join(chars[i] for i in out)
    if verbose:
        print(f"\n{step} steps in {time.perf_counter() - start - gen_seconds:.0f} s "
              f"({fastdl.get_num_threads()} threads): train loss {np.mean(losses[-100:]):.3f}, "
              f"held-out loss {val:.3f} nats/char\n")
        print(f"sample ({len(out) - len(prompt)} characters, KV-cached, "
              f"{(len(out) - len(prompt)) / gen_seconds:.0f} chars/s):\n{sample}")
    return {"steps": step, "train_loss": float(np.mean(losses[-100:])), "heldout_loss": val,
            "sample": sample}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="fastdl threads (default: fastdl's; on a busy shared machine 1 is faster)")
    p.add_argument("--quick", action="store_true", help="a tiny model, 20 steps")
    a = p.parse_args(argv)
    if a.threads:
        fastdl.set_num_threads(a.threads)
    if a.quick:
        return train(minutes=1.0, layers=1, heads=2, width=32, context=32, batch=4,
                     max_steps=20, sample_chars=40, seed=a.seed)
    return train(a.minutes, a.layers, a.heads, a.width, a.context, a.batch, a.lr, seed=a.seed)


if __name__ == "__main__":
    main()
