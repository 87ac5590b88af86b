"""Train a small Vision Transformer (fastdl.models.ViT) on the 8x8 handwritten digits shipped with
fastdl (no download) and report the test accuracy.

    python examples/vit_digits.py [--epochs 40] [--patch 2] [--width 64] [--layers 4] [--quick]

Each 8x8 image becomes 16 patches of 2x2 pixels (a strided convolution), plus a class token;
4 pre-norm encoder blocks of width 64 with 4 heads; AdamW with a linear warm-up and cosine decay,
label smoothing, and random shifts of up to one pixel as augmentation. ``--quick`` trains for
one epoch at width 32 with 2 layers (a smoke test).
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import fastdl
from fastdl import nn
from fastdl.data import load_digits, train_test_split_indices
from fastdl.models import ViT


def random_shift(images, rng):
    """Each image moved by (dy, dx) drawn from {-1, 0, 1}^2, zeros shifted in."""
    out = np.zeros_like(images)
    shift = rng.integers(0, 9, len(images))
    for s in range(9):
        dy, dx = s // 3 - 1, s % 3 - 1
        sel = np.flatnonzero(shift == s)
        out[sel, :, max(dy, 0):8 + min(dy, 0), max(dx, 0):8 + min(dx, 0)] = \
            images[sel, :, max(-dy, 0):8 + min(-dy, 0), max(-dx, 0):8 + min(-dx, 0)]
    return out


def evaluate(model, X, y, batch=512):
    model.eval()
    correct = 0
    with fastdl.no_grad():
        for i in range(0, len(X), batch):
            correct += int((model(fastdl.tensor(X[i:i + batch])).numpy().argmax(1)
                            == y[i:i + batch]).sum())
    model.train()
    return correct / len(X)


def train(epochs=40, patch=2, width=64, layers=4, heads=4, batch=64, lr=2e-3, seed=0,
          verbose=True):
    fastdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X, y = load_digits(flatten=False)
    X = ((X - 0.5) / 0.5)[:, None].astype(np.float32)  # (N, 1, 8, 8) in [-1, 1]
    tr, te = train_test_split_indices(len(X), test_fraction=0.2, seed=seed)
    model = ViT(image_size=8, patch_size=patch, num_layers=layers, num_heads=heads,
                hidden_dim=width, mlp_dim=2 * width, num_classes=10, in_channels=1)
    opt = fastdl.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * math.ceil(len(tr) / batch)
    warm = max(1, steps // 20)
    sched = fastdl.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(tr)
        images = random_shift(X[order], rng)
        total = 0.0
        for i in range(0, len(order), batch):
            loss = loss_fn(model(fastdl.tensor(images[i:i + batch])),
                           fastdl.tensor(y[order[i:i + batch]]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(order[i:i + batch])
        if verbose and (epoch % 5 == 0 or epoch == epochs):
            print(f"epoch {epoch:3d}  loss {total / len(order):.3f}  test accuracy "
                  f"{evaluate(model, X[te], y[te]):.4f}  {time.perf_counter() - start:.0f} s")
    acc = evaluate(model, X[te], y[te])
    seconds = time.perf_counter() - start
    if verbose:
        print(f"test accuracy {acc:.4f} on {len(te)} images after {epochs} epochs in "
              f"{seconds:.0f} s ({fastdl.get_num_threads()} threads)")
    return {"test_accuracy": acc, "seconds": seconds}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--patch", type=int, default=2, choices=[1, 2, 4, 8])
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="fastdl threads (default: fastdl's; on a busy shared machine 1 is faster)")
    p.add_argument("--quick", action="store_true", help="1 epoch, width 32, 2 layers")
    a = p.parse_args(argv)
    if a.threads:
        fastdl.set_num_threads(a.threads)
    if a.quick:
        a.epochs, a.width, a.layers = 1, 32, 2
    return train(a.epochs, a.patch, a.width, a.layers, a.heads, a.batch, a.lr, a.seed)


if __name__ == "__main__":
    main()
