"""The 8x8 handwritten digits shipped inside the package (no download at run time).

Origin: the UCI "Optical Recognition of Handwritten Digits" test set (optdigits; E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0), as redistributed by scikit-learn (BSD-3-Clause) in
``sklearn/datasets/data/digits.csv.gz``. ``digits.npz`` was extracted once from that copy:
``images`` (1797, 8, 8) uint8 with pixel counts 0..16, ``target`` (1797,) uint8 with labels 0..9.
"""
from __future__ import annotations

import os

import numpy as np

_DIGITS_PATH = os.path.join(os.path.dirname(__file__), "digits.npz")
_MAX_PIXEL = 16.0


def load_digits(flatten: bool = True):
    """``(X, y)``: X float32 in [0, 1], shape (1797, 64) (or (1797, 8, 8) with
    ``flatten=False``); y int64 labels 0..9, shape (1797,)."""
    with np.load(_DIGITS_PATH) as archive:
        images = archive["images"]
        target = archive["target"]
    X = images.astype(np.float32) / np.float32(_MAX_PIXEL)
    if flatten:
        X = X.reshape(len(X), -1)
    return X, target.astype(np.int64)


def train_test_split_indices(n: int, test_fraction: float = 0.2, seed: int = 0):
    """A reproducible shuffled split of ``range(n)`` into (train, test) index arrays."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return order[n_test:], order[:n_test]
