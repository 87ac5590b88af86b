"""Numbers for generated 8x8 digits (shared by dcgan_digits.py and ddpm_digits.py).

- ``DigitJudge``: a small MLP classifier trained on the real digits in a second or two (~97%
  held-out accuracy); on generated images it reports the mean top-class confidence (~0.97 on
  real test digits, ~0.12 on an untrained generator's near-constant images, but ~0.6 on clipped
  Gaussian noise: pair it with ``pixel_stats``), how many classes the samples cover, and for a
  conditional model the accuracy of the requested labels.
- ``pixel_stats``: the samples' mean image and per-pixel spread against the data's (RMS
  differences; 0 for a perfect match).

Images are in [-1, 1] (the generative models' scale): ``to_model_scale`` maps the data there.
"""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl import nn
from fastdl.data import load_digits, train_test_split_indices


def to_model_scale(images01):
    return images01 * 2.0 - 1.0


def digits_in_model_scale():
    """(X, y): the 1,797 digits as (N, 1, 8, 8) float32 in [-1, 1], labels int64."""
    X, y = load_digits(flatten=False)
    return to_model_scale(X[:, None]).astype(np.float32), y


class DigitJudge:
    def __init__(self, steps=400, seed=0):
        X, y = digits_in_model_scale()
        train, test = train_test_split_indices(len(X), 0.2, seed=seed)
        rng = np.random.default_rng(seed)
        fastdl.manual_seed(seed)
        self.model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = fastdl.optim.Adam(self.model.parameters(), lr=3e-3)
        for _ in range(steps):
            idx = rng.choice(train, 64)
            loss = nn.functional.cross_entropy(self.model(fastdl.tensor(X[idx])),
                                               fastdl.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.test_accuracy = float((self.predict(X[test])[0] == y[test]).mean())
        self.real_confidence = float(self.predict(X[test])[1].mean())

    def predict(self, images):
        """(labels, confidences) for (N, 1, 8, 8) images in [-1, 1]."""
        with fastdl.no_grad():
            logits = self.model(fastdl.tensor(np.asarray(images, np.float32))).numpy()
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return p.argmax(1), p.max(1)

    def score(self, images, labels=None):
        """mean confidence, number of classes predicted, and (with labels) label accuracy."""
        predicted, confidence = self.predict(images)
        out = {"confidence": float(confidence.mean()),
               "classes": int(len(np.unique(predicted)))}
        if labels is not None:
            out["label_accuracy"] = float((predicted == np.asarray(labels)).mean())
        return out


def pixel_stats(samples, data):
    """RMS difference of the per-pixel mean and of the per-pixel std (samples vs data)."""
    samples, data = np.asarray(samples, np.float64), np.asarray(data, np.float64)
    return {"mean_rms": float(np.sqrt(((samples.mean(0) - data.mean(0)) ** 2).mean())),
            "std_rms": float(np.sqrt(((samples.std(0) - data.std(0)) ** 2).mean()))}


def fmt(metrics):
    """'name value' pairs on one line (floats to 3 decimals)."""
    return "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in metrics.items())


def add_common_arguments(parser, base, lr, base_help):
    """--base, --batch-size, --lr, --seed, --threads, --out and --quick (shared by the
    generative examples)."""
    parser.add_argument("--base", type=int, default=base, help=base_help)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="fastdl threads")
    parser.add_argument("--out", default="samples", help="folder for the PNGs ('' = none)")
    parser.add_argument("--quick", action="store_true", help="tiny and short (for tests)")


def parse(parser, argv):
    """The parsed arguments, with --threads applied."""
    args = parser.parse_args(argv)
    if args.threads:
        fastdl.set_num_threads(args.threads)
    return args


def save_grid(images, path, nrow=10):
    """Save (N, 1, 8, 8) images in [-1, 1] as a PNG grid; a message instead without Pillow."""
    from fastdl.utils.image import save_image
    try:
        save_image((np.asarray(images) + 1) / 2, path, nrow=nrow, scale=4)
    except ImportError as error:
        print(f"not saving {path}: {error}")
        return False
    print(f"saved {path}")
    return True
