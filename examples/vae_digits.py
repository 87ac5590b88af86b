"""Train a variational autoencoder (or a conditional one) on the 8x8 digits, report the test
negative ELBO, and save PNG grids of samples and of a latent interpolation.

    python examples/vae_digits.py [--conditional] [--epochs 60] [--latent 8]
        [--samples samples.png] [--interpolation interp.png] [--quick]

Saving PNGs needs Pillow (``pip install "fastdl[examples]"``); without it the grids are skipped
with a message.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
from fastdl.data import DataLoader, TensorDataset, load_digits, train_test_split_indices
from fastdl.models import VAE, ConditionalVAE


def _save(images, path, nrow, verbose):
    from fastdl.utils.image import save_image
    try:
        save_image(images.reshape(-1, 1, 8, 8), path, nrow=nrow, scale=4)
    except ImportError as error:
        print(f"skipping {path}: {error}")
        return
    if verbose:
        print(f"saved {path}")


def independent_pixel_nll(train: np.ndarray, test: np.ndarray) -> float:
    """Baseline: test NLL (nats per image) of independent Bernoulli pixels with the training
    means, with the same soft-target cross-entropy the VAE's likelihood uses."""
    p = np.clip(train.mean(0), 1e-4, 1 - 1e-4)
    return float(-(test * np.log(p) + (1 - test) * np.log(1 - p)).sum(1).mean())


def train(conditional: bool = False, epochs: int = 60, latent: int = 8, hidden=(128,),
          lr: float = 2e-3, batch_size: int = 64, beta: float = 1.0, seed: int = 0,
          samples_png=None, interpolation_png=None, verbose: bool = True) -> dict:
    fastdl.manual_seed(seed)
    X, y = load_digits()
    train_idx, test_idx = train_test_split_indices(len(X), test_fraction=0.2, seed=seed)
    X_train, y_train = fastdl.tensor(X[train_idx]), fastdl.tensor(y[train_idx])
    X_test, y_test = fastdl.tensor(X[test_idx]), fastdl.tensor(y[test_idx])
    kind = ConditionalVAE if conditional else VAE
    extra = {"num_classes": 10} if conditional else {}
    model = kind(64, hidden=list(hidden), latent=latent, beta=beta, **extra)
    optimizer = fastdl.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True)

    def terms(inputs, labels):
        return model.loss_terms(inputs, labels) if conditional else model.loss_terms(inputs)

    start = time.perf_counter()
    for epoch in range(epochs):
        total = 0.0
        for inputs, labels in loader:
            optimizer.zero_grad()
            nll, kl = terms(inputs, labels)
            loss = nll + model.beta * kl
            loss.backward()
            optimizer.step()
            total += loss.item() * len(inputs)
        if verbose and (epoch + 1) % max(1, epochs // 5) == 0:
            print(f"epoch {epoch + 1:3d}  train negative ELBO {total / len(train_idx):.3f}")
    seconds = time.perf_counter() - start

    model.eval()
    with fastdl.no_grad():
        nll, kl = terms(X_test, y_test)
    result = {"test_nll": float(nll.item()), "test_kl": float(kl.item()),
              "test_neg_elbo": float(nll.item() + kl.item()),
              "pixel_baseline_nll": independent_pixel_nll(X[train_idx], X[test_idx]),
              "seconds": seconds, "epochs": epochs, "model": model}
    if verbose:
        name = "conditional VAE" if conditional else "VAE"
        print(f"{name}: test negative ELBO {result['test_neg_elbo']:.2f} nats per image "
              f"(reconstruction {result['test_nll']:.2f} + KL {result['test_kl']:.2f}) vs "
              f"{result['pixel_baseline_nll']:.2f} for independent per-pixel Bernoullis; "
              f"trained {epochs} epochs in {seconds:.1f} s")

    rows = 8
    if conditional:  # one row per digit, 0..9
        labels = np.repeat(np.arange(10), rows)
        samples = model.sample(fastdl.tensor(labels))
    else:
        samples = model.sample(rows * rows)
    result["samples"] = samples
    # interpolate between test images of different classes (rows of `rows` steps)
    firsts = [int(np.flatnonzero(y[test_idx] == d)[0]) for d in range(10)]
    lines = []
    for a, b in zip(firsts[:-1:2], firsts[1::2]):
        if conditional:
            lines.append(model.interpolate(X_test[a], X_test[b], int(y[test_idx][a]),
                                           int(y[test_idx][b]), steps=rows))
        else:
            lines.append(model.interpolate(X_test[a], X_test[b], steps=rows))
    result["interpolation"] = fastdl.cat(lines, 0)
    if samples_png:
        _save(samples, samples_png, rows if not conditional else rows, verbose)
    if interpolation_png:
        _save(result["interpolation"], interpolation_png, rows, verbose)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditional", action="store_true", help="a conditional VAE")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128])
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", default=None, help="PNG grid of samples")
    parser.add_argument("--interpolation", default=None, help="PNG grid of interpolations")
    parser.add_argument("--quick", action="store_true", help="a few seconds (for tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 3
    return train(args.conditional, args.epochs, args.latent, args.hidden, args.lr,
                 args.batch_size, args.beta, args.seed, args.samples, args.interpolation)


if __name__ == "__main__":
    main()
