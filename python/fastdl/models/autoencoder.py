"""Autoencoders: an MLP one (``Autoencoder``) and a convolutional one (``ConvAutoencoder``), both
optionally denoising (the input is corrupted in training mode only) and sparse (an L1 activity
or a KL sparsity penalty on the code, see ``Autoencoder.loss``), plus ``roc_auc_score`` for
anomaly detection by reconstruction error.

The penalties follow the usual definitions: the L1 activity penalty is the batch mean of
``sum_j |h_j|``; the KL sparsity penalty (Ng's sparse autoencoder notes) is
``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the batch mean of code unit ``j`` (codes in
(0, 1), so use ``latent_activation="sigmoid"``).
"""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models.mlp import MLP, _activation_factory

__all__ = ["Autoencoder", "ConvAutoencoder", "add_noise", "kl_sparsity_penalty",
           "l1_activity_penalty", "roc_auc_score"]

_NOISE_KINDS = ("gaussian", "masking")


def add_noise(x, kind: str = "gaussian", level: float = 0.1):
    """Corrupt ``x`` for a denoising autoencoder: ``"gaussian"`` adds N(0, level^2) noise,
    ``"masking"`` zeroes each entry with probability ``level`` (uses fastdl's random stream).

    Example:
        >>> x = fastdl.ones(2, 4)
        >>> fastdl.models.add_noise(x, "masking", 0.0).tolist()
        [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
        >>> fastdl.models.add_noise(x, "gaussian", 0.5).shape
        (2, 4)
    """
    if kind not in _NOISE_KINDS:
        raise ValueError(f"add_noise: kind must be one of {_NOISE_KINDS}, got {kind!r}")
    level = float(level)
    if level < 0 or (kind == "masking" and level >= 1):
        raise ValueError(f"add_noise: level must be >= 0 (and < 1 for masking), got {level}")
    if level == 0:
        return x
    if kind == "gaussian":
        return x + level * fastdl.randn_like(x)
    keep = (fastdl.rand_like(x) >= level).to(x.dtype)
    return x * keep


def l1_activity_penalty(code):
    """Batch mean of the L1 norm of each code row: ``mean_i sum_j |code[i, j]|``.

    Example:
        >>> fastdl.models.l1_activity_penalty(fastdl.tensor([[1.0, -2.0], [0.0, 3.0]])).item()
        3.0
    """
    if code.ndim < 2:
        raise ValueError(f"l1_activity_penalty: code must be (N, ...), got shape "
                         f"{tuple(code.shape)}")
    return code.abs().reshape(code.shape[0], -1).sum(1).mean()


def kl_sparsity_penalty(code, rho: float = 0.05, eps: float = 1e-6):
    """``sum_j KL(rho || rho_hat_j)`` where ``rho_hat_j`` is the batch mean of code unit ``j``
    (code values must lie in [0, 1], e.g. after a sigmoid); zero when every unit's mean
    activation is ``rho``.

    Example:
        >>> code = fastdl.tensor([[0.1, 0.1], [0.1, 0.1]])
        >>> round(fastdl.models.kl_sparsity_penalty(code, rho=0.1).item(), 6)
        0.0
        >>> fastdl.models.kl_sparsity_penalty(fastdl.full((4, 3), 0.5), rho=0.05).item() > 0
        True
    """
    if not 0.0 < rho < 1.0:
        raise ValueError(f"kl_sparsity_penalty: rho must be in (0, 1), got {rho}")
    if code.ndim != 2:
        raise ValueError(f"kl_sparsity_penalty: code must be (N, units), got shape "
                         f"{tuple(code.shape)}")
    values = _host(code)
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(f"kl_sparsity_penalty: code values must lie in [0, 1] (use a sigmoid "
                         f"code), got range [{values.min():.3g}, {values.max():.3g}]")
    rho_hat = code.mean(0).clamp(eps, 1.0 - eps)
    kl = rho * (rho / rho_hat).log() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rho_hat)).log()
    return kl.sum()


def _host(x):
    """A numpy copy of a Tensor (CPU or GPU), a cupy array or anything array-like."""
    if isinstance(x, fastdl.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x.get() if hasattr(x, "get") and not isinstance(x, dict) else x)


def roc_auc_score(labels, scores) -> float:
    """Area under the ROC curve for binary ``labels`` (1 = positive, e.g. anomaly) and
    real-valued ``scores`` (higher = more positive), with tied scores counted as half (the
    Mann-Whitney U statistic, same value as ``sklearn.metrics.roc_auc_score``). Plain numpy.

    Example:
        >>> fastdl.models.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    labels = _host(labels).reshape(-1)
    scores = _host(scores).astype(np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"roc_auc_score: labels {labels.shape} and scores {scores.shape} "
                         f"differ in length")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("roc_auc_score: labels must be 0 or 1 (or booleans)")
    positive = labels.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc_score: needs both positive and negative labels")
    if not np.isfinite(scores).all():
        raise ValueError("roc_auc_score: scores must be finite")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # mid-ranks over groups of tied scores (1-based)
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    mid = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mid, ends - starts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


class _AutoencoderBase(nn.Module):
    """Shared logic: corruption in training, the loss with penalties, per-sample errors."""

    def _setup_noise(self, noise, noise_level):
        if noise is not None and noise not in _NOISE_KINDS:
            raise ValueError(f"{type(self).__name__}: noise must be None or one of "
                             f"{_NOISE_KINDS}, got {noise!r}")
        self.noise = noise
        self.noise_level = float(noise_level)
        if noise is not None:
            add_noise(fastdl.zeros(1), noise, noise_level)  # validates the level

    def _check_input(self, x):
        raise NotImplementedError

    def encode(self, x):
        """The code (N, latent) of a clean or already corrupted input."""
        self._check_input(x)
        return self.encoder(x)

    def decode(self, code):
        """The reconstruction from a code (N, latent)."""
        if code.ndim != 2 or code.shape[1] != self.latent:
            raise ValueError(f"{type(self).__name__}.decode: expected a code of shape "
                             f"(N, {self.latent}), got {tuple(code.shape)}")
        return self.decoder(code)

    def forward(self, x, return_code: bool = False):
        self._check_input(x)
        corrupted = x
        if self.training and self.noise is not None:
            corrupted = add_noise(x, self.noise, self.noise_level)
        code = self.encoder(corrupted)
        reconstruction = self.decoder(code)
        return (reconstruction, code) if return_code else reconstruction

    def loss(self, x, l1: float = 0.0, kl: float = 0.0, rho: float = 0.05):
        """Mean squared reconstruction error of the clean ``x`` (the input is corrupted first when
        the model is denoising and in training mode) plus ``l1 * l1_activity_penalty(code)`` plus
        ``kl * kl_sparsity_penalty(code, rho)``."""
        reconstruction, code = self(x, return_code=True)
        total = ((reconstruction - x) ** 2).mean()
        if l1:
            total = total + l1 * l1_activity_penalty(code)
        if kl:
            total = total + kl * kl_sparsity_penalty(code, rho)
        return total

    def reconstruction_error(self, x):
        """Per-sample mean squared reconstruction error, shape (N,), without noise or
        gradients (the anomaly score)."""
        was_training = self.training
        self.eval()
        try:
            with fastdl.no_grad():
                reconstruction = self(x)
                error = ((reconstruction - x) ** 2).reshape(x.shape[0], -1).mean(1)
        finally:
            self.train(was_training)
        return error


def _latent_activation(name):
    if name is None:
        return nn.Identity()
    return _activation_factory(name)()


class Autoencoder(_AutoencoderBase):
    """MLP autoencoder: ``encoder`` = MLP(in_features -> hidden -> latent) (+
    ``latent_activation``), ``decoder`` = MLP(latent -> reversed(hidden) -> in_features) (+
    ``output_activation``, default sigmoid for data in [0, 1]).

    ``noise="gaussian"|"masking"`` with ``noise_level`` makes it a denoising autoencoder (the
    input is corrupted in training mode only, the loss compares with the clean input). For a
    sparse autoencoder pass ``l1=`` or ``kl=`` to ``loss`` (``kl`` needs
    ``latent_activation="sigmoid"``).

    Shape: (N, in_features) -> (N, in_features); ``forward(x, return_code=True)`` also returns
    the code (N, latent).

    Example:
        >>> _ = fastdl.manual_seed(0)
        >>> model = fastdl.models.Autoencoder(64, hidden=[32], latent=8)
        >>> x = fastdl.rand(5, 64)
        >>> model(x).shape, model.encode(x).shape
        ((5, 64), (5, 8))
        >>> model.loss(x, l1=1e-3).backward()
        >>> model.reconstruction_error(x).shape
        (5,)
    """

    def __init__(self, in_features: int = 64, hidden=(128,), latent: int = 16,
                 activation="relu", latent_activation=None, output_activation="sigmoid",
                 noise=None, noise_level: float = 0.1):
        super().__init__()
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        if in_features < 1 or latent < 1:
            raise ValueError(f"Autoencoder: in_features and latent must be >= 1, got "
                             f"{in_features}, {latent}")
        self.in_features, self.latent = in_features, latent
        self.encoder = nn.Sequential(MLP(in_features, widths, latent, activation=activation),
                                     _latent_activation(latent_activation))
        self.decoder = nn.Sequential(MLP(latent, widths[::-1], in_features,
                                         activation=activation),
                                     _latent_activation(output_activation))
        self._setup_noise(noise, noise_level)

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Autoencoder: expected input of shape (N, {self.in_features}), "
                             f"got {tuple(x.shape)}")


class ConvAutoencoder(_AutoencoderBase):
    """Convolutional autoencoder for (N, C, H, W) images: each entry of ``channels`` is a 3x3
    stride-2 Conv2d + activation (halving H and W), then a Linear to ``latent``; the decoder
    mirrors it with a Linear and 3x3 stride-2 ConvTranspose2d layers (output_padding 1), ending
    in ``output_activation`` (sigmoid by default). H and W must be divisible by
    ``2 ** len(channels)``. Denoising and sparsity options as in ``Autoencoder``.

    Example:
        >>> _ = fastdl.manual_seed(0)
        >>> model = fastdl.models.ConvAutoencoder(1, image_size=8, channels=(4, 8), latent=6)
        >>> x = fastdl.rand(3, 1, 8, 8)
        >>> model(x).shape, model.encode(x).shape
        ((3, 1, 8, 8), (3, 6))
        >>> model.loss(x).backward()
    """

    def __init__(self, in_channels: int = 1, image_size=8, channels=(16, 32), latent: int = 16,
                 activation="relu", latent_activation=None, output_activation="sigmoid",
                 noise=None, noise_level: float = 0.1):
        super().__init__()
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        channels = list(channels)
        factor = 2 ** len(channels)
        if not channels or any(c < 1 for c in channels):
            raise ValueError(f"ConvAutoencoder: channels must be a non-empty list of positive "
                             f"ints, got {channels}")
        if height % factor or width % factor:
            raise ValueError(f"ConvAutoencoder: image size {height}x{width} must be divisible "
                             f"by 2**len(channels) = {factor}")
        act = _activation_factory(activation)
        self.in_channels, self.image_size, self.latent = in_channels, (height, width), latent
        small = (channels[-1], height // factor, width // factor)
        flat = small[0] * small[1] * small[2]
        layers, previous = [], in_channels
        for c in channels:
            layers += [nn.Conv2d(previous, c, 3, stride=2, padding=1), act()]
            previous = c
        layers += [nn.Flatten(), nn.Linear(flat, latent), _latent_activation(latent_activation)]
        self.encoder = nn.Sequential(*layers)
        layers = [nn.Linear(latent, flat), act(), nn.Unflatten(1, small)]
        outs = channels[-2::-1] + [in_channels]
        for i, c in enumerate(outs):
            layers.append(nn.ConvTranspose2d(previous, c, 3, stride=2, padding=1,
                                             output_padding=1))
            if i < len(outs) - 1:
                layers.append(act())
            previous = c
        layers.append(_latent_activation(output_activation))
        self.decoder = nn.Sequential(*layers)
        self._setup_noise(noise, noise_level)

    def _check_input(self, x):
        expected = (self.in_channels, *self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"ConvAutoencoder: expected input of shape (N, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}), got {tuple(x.shape)}")
