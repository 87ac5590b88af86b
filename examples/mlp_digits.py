"""Train an MLP on the 8x8 handwritten digits shipped with fastdl (no download) and report the
test accuracy and the time it took.

    python examples/mlp_digits.py [--epochs 30] [--hidden 128 64] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import fastdl
from fastdl import nn
from fastdl.data import DataLoader, TensorDataset, load_digits, train_test_split_indices
from fastdl.models import MLP


def evaluate(model, X, y) -> float:
    model.eval()
    with fastdl.no_grad():
        predictions = model(X).data.argmax(axis=1)
    model.train()
    return float((predictions == y.data).mean())


def train(epochs: int = 30, hidden=(128, 64), lr: float = 2e-3, batch_size: int = 64,
          dropout: float = 0.1, seed: int = 0, verbose: bool = True) -> dict:
    fastdl.manual_seed(seed)
    X, y = load_digits()
    train_idx, test_idx = train_test_split_indices(len(X), test_fraction=0.2, seed=seed)
    X_train, y_train = fastdl.tensor(X[train_idx]), fastdl.tensor(y[train_idx])
    X_test, y_test = fastdl.tensor(X[test_idx]), fastdl.tensor(y[test_idx])
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True)

    model = MLP(X.shape[1], list(hidden), 10, activation="relu", dropout=dropout)
    optimizer = fastdl.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    for epoch in range(epochs):
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
        if verbose and (epoch + 1) % max(1, epochs // 5) == 0:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(train_idx):.4f}")
    seconds = time.perf_counter() - start
    result = {"test_accuracy": evaluate(model, X_test, y_test),
              "train_accuracy": evaluate(model, X_train, y_train), "seconds": seconds,
              "steps": epochs * len(loader)}
    if verbose:
        print(f"test accuracy {result['test_accuracy']:.4f} ({len(test_idx)} images), "
              f"train accuracy {result['train_accuracy']:.4f}, trained {result['steps']} steps "
              f"in {seconds:.2f} s")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return train(args.epochs, args.hidden, args.lr, args.batch_size, args.dropout, args.seed)


if __name__ == "__main__":
    main()
