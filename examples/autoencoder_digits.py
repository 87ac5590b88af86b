"""Train an autoencoder (MLP or convolutional; optionally denoising or sparse) on the 8x8 digits
with one digit class held out, then use the reconstruction error to detect that class as an
anomaly (ROC-AUC).

    python examples/autoencoder_digits.py [--model mlp|conv] [--anomaly-digit 0|...|9|all]
        [--noise gaussian|masking --noise-level 0.2] [--l1 1e-3 | --kl 0.1 --rho 0.05]
        [--epochs 40] [--png recon.png] [--quick]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
from fastdl.data import DataLoader, TensorDataset, load_digits, train_test_split_indices
from fastdl.models import Autoencoder, ConvAutoencoder, roc_auc_score


def build(model: str, latent: int, hidden, channels, noise, noise_level, latent_activation):
    if model == "mlp":
        return Autoencoder(64, hidden=hidden, latent=latent, noise=noise,
                           noise_level=noise_level, latent_activation=latent_activation)
    if model == "conv":
        return ConvAutoencoder(1, image_size=8, channels=channels, latent=latent, noise=noise,
                               noise_level=noise_level, latent_activation=latent_activation)
    raise ValueError(f"unknown model {model!r} (mlp or conv)")


def train(model: str = "mlp", anomaly_digit: int = 0, epochs: int = 40, latent: int = 8,
          hidden=(64,), channels=(16, 32), noise=None, noise_level: float = 0.2,
          l1: float = 0.0, kl: float = 0.0, rho: float = 0.05, lr: float = 3e-3,
          batch_size: int = 64, seed: int = 0, png=None, verbose: bool = True) -> dict:
    fastdl.manual_seed(seed)
    X, y = load_digits()
    if model == "conv":
        X = X.reshape(-1, 1, 8, 8)
    train_idx, test_idx = train_test_split_indices(len(X), test_fraction=0.25, seed=seed)
    train_idx = train_idx[y[train_idx] != anomaly_digit]  # the held-out class is never seen
    # test: normal digits of the test split plus every image of the held-out digit
    test_idx = np.concatenate([test_idx[y[test_idx] != anomaly_digit],
                               np.flatnonzero(y == anomaly_digit)])
    is_anomaly = (y[test_idx] == anomaly_digit).astype(np.int64)
    X_train, X_test = fastdl.tensor(X[train_idx]), fastdl.tensor(X[test_idx])

    latent_activation = "sigmoid" if kl else None
    net = build(model, latent, list(hidden), list(channels), noise, noise_level,
                latent_activation)
    optimizer = fastdl.optim.Adam(net.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X_train), batch_size=batch_size, shuffle=True)

    start = time.perf_counter()
    for epoch in range(epochs):
        total = 0.0
        for (inputs,) in loader:
            optimizer.zero_grad()
            loss = net.loss(inputs, l1=l1, kl=kl, rho=rho)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(inputs)
        if verbose and (epoch + 1) % max(1, epochs // 5) == 0:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(train_idx):.5f}")
    seconds = time.perf_counter() - start

    errors = net.reconstruction_error(X_test).numpy()
    net.eval()
    with fastdl.no_grad():
        codes = net.encode(X_test).numpy()
    normal = is_anomaly == 0
    result = {"test_mse_normal": float(errors[normal].mean()),
              "test_mse_anomaly": float(errors[~normal].mean()),
              "roc_auc": roc_auc_score(is_anomaly, errors),
              "mean_abs_code": float(np.abs(codes).mean()),
              "seconds": seconds, "epochs": epochs, "model": net}
    if verbose:
        print(f"{model} autoencoder, digit {anomaly_digit} held out: test reconstruction MSE "
              f"{result['test_mse_normal']:.4f} (normal digits) vs "
              f"{result['test_mse_anomaly']:.4f} (digit {anomaly_digit}); anomaly ROC-AUC "
              f"{result['roc_auc']:.3f}; mean |code| {result['mean_abs_code']:.3f}; trained "
              f"{epochs} epochs in {seconds:.1f} s")
    if png:
        save_reconstructions(net, X_test[:8], png, noise, noise_level, verbose)
    return result


def save_reconstructions(net, images, path, noise, noise_level, verbose=True):
    """Rows: originals, (corrupted inputs and their reconstructions when denoising),
    reconstructions of the clean images."""
    from fastdl.models import add_noise
    from fastdl.utils.image import save_image
    rows = [images.reshape(-1, 1, 8, 8)]
    net.eval()
    with fastdl.no_grad():
        if noise:
            corrupted = add_noise(images, noise, noise_level).clamp(0.0, 1.0)
            rows += [corrupted.reshape(-1, 1, 8, 8), net(corrupted).reshape(-1, 1, 8, 8)]
        rows.append(net(images).reshape(-1, 1, 8, 8))
    try:
        save_image(fastdl.cat(rows, 0), path, nrow=len(images), scale=4)
    except ImportError as error:
        print(f"skipping {path}: {error}")
        return
    if verbose:
        print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "conv"], default="mlp")
    parser.add_argument("--anomaly-digit", default="0", choices=[str(d) for d in range(10)] + ["all"],
                        help="the class held out of training ('all': each in turn)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--noise", choices=["gaussian", "masking"], default=None,
                        help="denoising autoencoder: corrupt inputs in training")
    parser.add_argument("--noise-level", type=float, default=0.2)
    parser.add_argument("--l1", type=float, default=0.0, help="L1 activity penalty weight")
    parser.add_argument("--kl", type=float, default=0.0,
                        help="KL sparsity penalty weight (uses a sigmoid code)")
    parser.add_argument("--rho", type=float, default=0.05, help="KL sparsity target")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", default=None, help="save originals/reconstructions here")
    parser.add_argument("--quick", action="store_true", help="a few seconds (for tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 3
    digits = range(10) if args.anomaly_digit == "all" else [int(args.anomaly_digit)]
    results = [train(args.model, digit, args.epochs, args.latent, args.hidden, args.channels,
                     args.noise, args.noise_level, args.l1, args.kl, args.rho, args.lr,
                     args.batch_size, args.seed, args.png) for digit in digits]
    if len(results) > 1:
        aucs = [r["roc_auc"] for r in results]
        print(f"ROC-AUC over the 10 held-out digits: mean {np.mean(aucs):.3f}, min "
              f"{min(aucs):.3f} (digit {int(np.argmin(aucs))}), max {max(aucs):.3f}")
    return results[0] if len(results) == 1 else results


if __name__ == "__main__":
    main()
