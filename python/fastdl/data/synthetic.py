"""Small synthetic data sets generated with numpy (no download, no scikit-learn needed)."""
from __future__ import annotations

import numpy as np


def make_moons(n_samples: int = 1000, noise: float = 0.1, seed=None, shuffle: bool = True):
    """Two interleaving half circles in 2-D (the layout of ``sklearn.datasets.make_moons``):
    the upper moon (label 0) is ``(cos t, sin t)``, the lower one (label 1) is
    ``(1 - cos t, 0.5 - sin t)`` for t in [0, pi], plus N(0, noise^2) noise.

    Returns ``(X, y)``: X float32 (n_samples, 2), y int64 (n_samples,).

    Example:
        >>> X, y = fastdl.data.make_moons(100, noise=0.05, seed=0)
        >>> X.shape, X.dtype.name, sorted(set(y.tolist()))
        ((100, 2), 'float32', [0, 1])
    """
    n_samples = int(n_samples)
    if n_samples < 2:
        raise ValueError(f"make_moons: n_samples must be >= 2, got {n_samples}")
    if noise < 0:
        raise ValueError(f"make_moons: noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X.astype(np.float32), y
