"""Zachary's karate club (networkx's copy; `pip install fastdl[examples]`): a 2-layer GCN on
one-hot node ids learns which club each member joined from 4 labelled members (the two leaders
and one friend of each), then predicts the other 30. Prints the accuracy on those 30.

    python examples/gnn_karate.py [--epochs 100] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
from fastdl import nn
from fastdl.data.graphs import karate_club
from fastdl.models import GCN

LABELLED = np.array([0, 33, 1, 32])  # Mr. Hi, the officer, and one member of each side


def train(epochs=100, seed=0, lr=0.01, verbose=True):
    fastdl.manual_seed(seed)
    x_np, ei_np, y_np = karate_club()
    x, ei, y = fastdl.tensor(x_np), fastdl.tensor(ei_np), fastdl.tensor(y_np)
    model = GCN(34, 16, 2, 2, dropout=0.2)
    opt = fastdl.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(x, ei)[LABELLED], y[LABELLED])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with fastdl.no_grad():
        pred = model(x, ei).numpy().argmax(1)
    rest = np.setdiff1d(np.arange(34), LABELLED)
    acc = float((pred[rest] == y_np[rest]).mean())
    if verbose:
        print(f"karate club: accuracy {acc:.3f} on the 30 unlabelled members "
              f"({epochs} epochs, {seconds:.2f} s)")
    return {"accuracy": acc, "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return train(args.epochs, args.seed)


if __name__ == "__main__":
    main()
