"""Data-parallel training of an MLP on the digits shipped with fastdl, one process per MPI rank.

    pip install ".[mpi]"
    mpirun -n 2 python examples/mpi_data_parallel.py [--epochs 10] [--batch-size 32]

Each rank reads its own shard of the training set (DistributedSampler) and
DistributedDataParallel averages the gradients, so the ranks step as one model trained on
batches of ranks x batch-size images. At the end every rank checks that its parameters are
identical to every other rank's.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import fastdl
from fastdl import distributed as dist
from fastdl import nn
from fastdl.data import (DataLoader, DistributedSampler, TensorDataset, load_digits,
                         train_test_split_indices)
from fastdl.models import MLP
from fastdl.nn.parallel import DistributedDataParallel


def report(line: str) -> None:
    """One write per line: mpirun merges the ranks' output, and print's separate write of the
    newline can land after another rank's text."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def accuracy(model, X, y) -> float:
    model.eval()
    with fastdl.no_grad():
        predictions = model(X).data.argmax(axis=1)
    model.train()
    return float((predictions == y.data).mean())


def parameters_match_across_ranks(model) -> bool:
    """Gather every rank's flattened parameters and compare them bit for bit."""
    flat = fastdl.cat([p.detach().reshape(-1) for p in model.parameters()])
    everyone = fastdl.zeros(dist.get_world_size() * flat.numel(), dtype=flat.dtype)
    dist.all_gather_into_tensor(everyone, flat)
    return all(np.array_equal(row, flat.numpy())
               for row in everyone.numpy().reshape(dist.get_world_size(), -1))


def train(epochs: int = 10, batch_size: int = 32, lr: float = 2e-3, seed: int = 0) -> dict:
    dist.init_process_group("mpi")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    X, y = load_digits()
    train_idx, test_idx = train_test_split_indices(len(X), test_fraction=0.2, seed=seed)
    train_set = TensorDataset(fastdl.tensor(X[train_idx]), fastdl.tensor(y[train_idx]))
    sampler = DistributedSampler(train_set, shuffle=True, seed=seed)
    loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)

    fastdl.manual_seed(seed + rank)  # different initial weights: DDP starts all from rank 0's
    model = DistributedDataParallel(MLP(X.shape[1], [128, 64], 10, activation="relu"))
    optimizer = fastdl.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()  # the gradients are averaged across ranks when this returns
            optimizer.step()
            total += loss.item() * len(targets)
        report(f"rank {rank}/{world_size} epoch {epoch + 1:2d}  loss on its shard "
               f"{total / len(sampler):.4f}")

    test_accuracy = accuracy(model, fastdl.tensor(X[test_idx]), fastdl.tensor(y[test_idx]))
    in_sync = parameters_match_across_ranks(model.module)
    report(f"rank {rank}: test accuracy {test_accuracy:.4f}, parameters identical on all "
           f"{world_size} ranks: {in_sync}")
    dist.destroy_process_group()
    if not in_sync:
        raise SystemExit(f"rank {rank}: parameters diverged across ranks")
    return {"test_accuracy": test_accuracy, "in_sync": in_sync}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return train(args.epochs, args.batch_size, args.lr, args.seed)


if __name__ == "__main__":
    main()
