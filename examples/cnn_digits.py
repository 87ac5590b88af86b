"""Train a small CNN on the 8x8 handwritten digits shipped with fastdl (no download), with a
tqdm progress bar and per-epoch metrics, and report the test accuracy (>= 97% at the defaults).

    python examples/cnn_digits.py [--epochs 12] [--batch-size 32] [--lr 0.05] [--seed 0]

The network is all-convolutional: 3x3 convolutions with BatchNorm and ReLU, stride-2
convolutions where a classic CNN would pool (8x8 -> 4x4 -> 2x2), dropout, a linear classifier.
Trained with SGD (Nesterov momentum, weight decay) and a cosine learning-rate schedule; the
training images are shifted by up to one pixel at random (a cheap augmentation).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
from fastdl import nn
from fastdl.data import load_digits, train_test_split_indices

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is in fastdl's "examples" and "test" extras
    raise SystemExit("this example shows a progress bar with tqdm: pip install tqdm "
                     "(or pip install 'fastdl[examples]')") from None


def make_model(width: int = 32, dropout: float = 0.2) -> nn.Module:
    def block(cin, cout, stride=1):
        return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*block(1, width), *block(width, width),
                         *block(width, 2 * width, stride=2),   # 8x8 -> 4x4
                         *block(2 * width, 2 * width),
                         *block(2 * width, 4 * width, stride=2),  # 4x4 -> 2x2
                         nn.Flatten(), nn.Dropout(dropout), nn.Linear(16 * width, 10))


def shift_images(images: np.ndarray, rng) -> np.ndarray:
    """Each image moved by -1, 0 or +1 pixel in each direction (zeros shifted in)."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy, dx = rng.integers(0, 3, n), rng.integers(0, 3, n)
    rows = dy[:, None] + np.arange(8)[None, :]
    cols = dx[:, None] + np.arange(8)[None, :]
    return padded[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


def accuracy(model, X, y, batch_size: int = 256) -> float:
    model.eval()
    correct = 0
    with fastdl.no_grad():
        for i in range(0, len(X), batch_size):
            logits = model(fastdl.tensor(X[i:i + batch_size])).numpy()
            correct += int((logits.argmax(axis=1) == y[i:i + batch_size]).sum())
    model.train()
    return correct / len(X)


def train(epochs: int = 12, batch_size: int = 32, lr: float = 0.05, width: int = 32,
          seed: int = 0, augment: bool = True, progress: bool = True,
          verbose: bool = True) -> dict:
    fastdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X, y = load_digits(flatten=False)
    X = X[:, None]  # (N, 1, 8, 8)
    train_idx, test_idx = train_test_split_indices(len(X), test_fraction=0.2, seed=seed)
    X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]

    model = make_model(width)
    optimizer = fastdl.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                 weight_decay=5e-4)
    steps_per_epoch = -(-len(X_train) // batch_size)
    scheduler = fastdl.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(X_train))
        images = shift_images(X_train, rng) if augment else X_train
        total_loss, total_correct = 0.0, 0
        bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch}/{epochs}",
                   unit="batch", leave=False, disable=not progress)
        for i in bar:
            idx = order[i:i + batch_size]
            inputs, targets = fastdl.tensor(images[idx]), fastdl.tensor(y_train[idx])
            logits = model(inputs)
            loss = loss_fn(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(idx)
            total_correct += int((logits.detach().numpy().argmax(axis=1) == y_train[idx]).sum())
            bar.set_postfix(loss=f"{loss.item():.3f}")
        metrics = {"epoch": epoch, "train_loss": total_loss / len(order),
                   "train_accuracy": total_correct / len(order),
                   "test_accuracy": accuracy(model, X_test, y_test),
                   "seconds": time.perf_counter() - t0}
        history.append(metrics)
        if verbose:
            tqdm.write(f"epoch {epoch:2d}/{epochs}  loss {metrics['train_loss']:.4f}  "
                       f"train acc {metrics['train_accuracy']:.4f}  "
                       f"test acc {metrics['test_accuracy']:.4f}  {metrics['seconds']:.1f} s")
    seconds = time.perf_counter() - start
    result = {"test_accuracy": history[-1]["test_accuracy"], "history": history,
              "seconds": seconds, "steps": epochs * steps_per_epoch}
    if verbose:
        print(f"test accuracy {result['test_accuracy']:.4f} on {len(test_idx)} images after "
              f"{result['steps']} steps in {seconds:.1f} s ({fastdl.get_num_threads()} threads)")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--width", type=int, default=32, help="channels of the first block")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    return train(args.epochs, args.batch_size, args.lr, args.width, args.seed,
                 not args.no_augment, not args.no_progress)


if __name__ == "__main__":
    main()
