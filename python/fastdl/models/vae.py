"""Variational autoencoders (Kingma and Welling 2014): ``VAE`` with a diagonal Gaussian encoder
q(z|x) = N(mu, exp(logvar)), the reparameterisation z = mu + exp(logvar / 2) * eps, a standard
normal prior and a Bernoulli (data in [0, 1]) or unit-variance Gaussian decoder; and
``ConditionalVAE`` (Sohn et al. 2015), where encoder and decoder also see the one-hot label.

``loss`` is the negative ELBO per sample (reconstruction negative log-likelihood summed over
features plus ``beta`` times the KL term), averaged over the batch.
"""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models.autoencoder import _host
from fastdl.models.mlp import MLP
from fastdl.nn import functional as F

__all__ = ["ConditionalVAE", "VAE", "gaussian_kl_divergence"]

_LIKELIHOODS = ("bernoulli", "gaussian")


def gaussian_kl_divergence(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per sample:
    ``0.5 * sum_j (mu_j^2 + exp(logvar_j) - logvar_j - 1)``, shape (N,) for (N, latent) inputs.

    Example:
        >>> mu, logvar = fastdl.zeros(2, 3), fastdl.zeros(2, 3)
        >>> fastdl.models.gaussian_kl_divergence(mu, logvar).tolist()
        [0.0, 0.0]
        >>> fastdl.models.gaussian_kl_divergence(fastdl.ones(1, 2), fastdl.zeros(1, 2)).tolist()
        [1.0]
    """
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise ValueError(f"gaussian_kl_divergence: mu and logvar must both be (N, latent), got "
                         f"{tuple(mu.shape)} and {tuple(logvar.shape)}")
    return 0.5 * (mu * mu + logvar.exp() - logvar - 1.0).sum(1)


class VAE(nn.Module):
    """MLP variational autoencoder: ``encoder`` = MLP(in_features -> hidden -> 2 * latent) giving
    (mu, logvar); ``decoder`` = MLP(latent -> reversed(hidden) -> in_features) giving logits
    (``likelihood="bernoulli"``, data in [0, 1]) or means (``"gaussian"``, unit variance).

    ``forward(x)`` returns ``(decoder_output, mu, logvar)`` with z drawn by the
    reparameterisation; ``loss(x)`` is the batch mean of the negative ELBO
    (reconstruction NLL + ``beta`` * KL); ``sample(n)`` decodes prior draws;
    ``interpolate(a, b, steps)`` decodes the straight line between the posterior means of two
    inputs. ``sample``, ``reconstruct`` and ``interpolate`` return data-space values (sigmoid of
    the logits for Bernoulli) without gradients.

    Example:
        >>> _ = fastdl.manual_seed(0)
        >>> vae = fastdl.models.VAE(64, hidden=[32], latent=4)
        >>> x = fastdl.rand(5, 64)
        >>> out, mu, logvar = vae(x)
        >>> out.shape, mu.shape, logvar.shape
        ((5, 64), (5, 4), (5, 4))
        >>> vae.loss(x).backward()
        >>> vae.sample(3).shape, vae.interpolate(x[0], x[1], steps=4).shape
        ((3, 64), (4, 64))
    """

    def __init__(self, in_features: int = 64, hidden=(128,), latent: int = 8,
                 activation="relu", likelihood: str = "bernoulli", beta: float = 1.0):
        super().__init__()
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"{type(self).__name__}: likelihood must be one of {_LIKELIHOODS}, "
                             f"got {likelihood!r}")
        if in_features < 1 or latent < 1:
            raise ValueError(f"{type(self).__name__}: in_features and latent must be >= 1, got "
                             f"{in_features}, {latent}")
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        self.in_features, self.latent = in_features, latent
        self.likelihood, self.beta = likelihood, float(beta)
        extra = self._condition_width()
        self.encoder = MLP(in_features + extra, widths, 2 * latent, activation=activation)
        self.decoder = MLP(latent + extra, widths[::-1], in_features, activation=activation)

    # conditioning hooks (ConditionalVAE overrides them)
    def _condition_width(self) -> int:
        return 0

    def _with_condition(self, t, y):
        return t

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{type(self).__name__}: expected input of shape "
                             f"(N, {self.in_features}), got {tuple(x.shape)}")

    def _encode(self, x, y=None):
        self._check_input(x)
        stats = self.encoder(self._with_condition(x, y))
        mu, logvar = fastdl.chunk(stats, 2, 1)
        return mu, logvar

    def _decode(self, z, y=None):
        if z.ndim != 2 or z.shape[1] != self.latent:
            raise ValueError(f"{type(self).__name__}.decode: expected z of shape "
                             f"(N, {self.latent}), got {tuple(z.shape)}")
        return self.decoder(self._with_condition(z, y))

    def encode(self, x):
        """``(mu, logvar)`` of q(z|x), each (N, latent)."""
        return self._encode(x)

    def decode(self, z):
        """Decoder output for z (N, latent): logits (Bernoulli) or means (Gaussian)."""
        return self._decode(z)

    @staticmethod
    def reparameterize(mu, logvar):
        """``mu + exp(logvar / 2) * eps`` with eps ~ N(0, I): a sample of q(z|x) that is
        differentiable in mu and logvar."""
        return mu + (0.5 * logvar).exp() * fastdl.randn_like(mu)

    def _forward(self, x, y=None):
        mu, logvar = self._encode(x, y)
        z = self.reparameterize(mu, logvar)
        return self._decode(z, y), mu, logvar

    def forward(self, x):
        return self._forward(x)

    def _nll(self, output, x):
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(output, x, reduction="none")
        else:
            nll = 0.5 * (output - x) ** 2
        return nll.sum(1)

    def _loss_terms(self, x, y=None):
        output, mu, logvar = self._forward(x, y)
        return self._nll(output, x).mean(), gaussian_kl_divergence(mu, logvar).mean()

    def loss_terms(self, x):
        """``(reconstruction_nll, kl)``: batch means of the per-sample terms of the ELBO (the
        Gaussian NLL drops its constant)."""
        return self._loss_terms(x)

    def loss(self, x):
        """Negative ELBO, batch mean: reconstruction NLL + ``beta`` * KL."""
        nll, kl = self._loss_terms(x)
        return nll + self.beta * kl

    def _to_data(self, output):
        return output.sigmoid() if self.likelihood == "bernoulli" else output

    def _generate(self, fn):
        was_training = self.training
        self.eval()
        try:
            with fastdl.no_grad():
                return fn()
        finally:
            self.train(was_training)

    def sample(self, n: int):
        """``n`` samples in data space (N, in_features): decoder means of z ~ N(0, I)."""
        if int(n) < 1:
            raise ValueError(f"{type(self).__name__}.sample: n must be >= 1, got {n}")
        return self._generate(lambda: self._to_data(self._decode(self._prior(int(n)))))

    def _prior(self, n):
        p = next(self.parameters())
        return fastdl.randn(n, self.latent, dtype=p.dtype, device=p.device)

    def reconstruct(self, x):
        """Decoder means at the posterior means: the deterministic reconstruction of x."""
        return self._generate(lambda: self._to_data(self._decode(self._encode(x)[0])))

    def interpolate(self, a, b, steps: int = 8):
        """Decode ``steps`` evenly spaced points from the posterior mean of ``a`` to that of
        ``b`` (each (in_features,) or (1, in_features)); returns (steps, in_features)."""
        return self._generate(lambda: self._interpolate(a, b, steps))

    def _line(self, a, b, steps, labels=None):
        if int(steps) < 2:
            raise ValueError(f"{type(self).__name__}.interpolate: steps must be >= 2, got "
                             f"{steps}")
        ends = fastdl.stack([a.reshape(-1), b.reshape(-1)])
        mu = self._encode(ends, labels)[0]
        p = next(self.parameters())
        t = fastdl.tensor(np.linspace(0.0, 1.0, int(steps)).reshape(-1, 1), dtype=p.dtype,
                          device=p.device)
        return mu[0:1] * (1.0 - t) + mu[1:2] * t

    def _interpolate(self, a, b, steps):
        return self._to_data(self._decode(self._line(a, b, steps)))


class ConditionalVAE(VAE):
    """VAE conditioned on a class label: the one-hot label is concatenated to the encoder input
    and to z for the decoder, so ``sample(labels)`` draws images of chosen classes.

    ``forward(x, labels)``, ``loss(x, labels)``, ``encode(x, labels)``, ``decode(z, labels)``;
    labels are int64 class indices (N,) in [0, num_classes).

    Example:
        >>> _ = fastdl.manual_seed(0)
        >>> cvae = fastdl.models.ConditionalVAE(64, num_classes=10, hidden=[32], latent=4)
        >>> x, labels = fastdl.rand(6, 64), fastdl.tensor([0, 1, 2, 3, 4, 5])
        >>> cvae(x, labels)[0].shape
        (6, 64)
        >>> cvae.loss(x, labels).backward()
        >>> cvae.sample(fastdl.tensor([7, 7, 3])).shape
        (3, 64)
    """

    def __init__(self, in_features: int = 64, num_classes: int = 10, hidden=(128,),
                 latent: int = 8, activation="relu", likelihood: str = "bernoulli",
                 beta: float = 1.0):
        if num_classes < 1:
            raise ValueError(f"ConditionalVAE: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        super().__init__(in_features, hidden, latent, activation, likelihood, beta)

    def _condition_width(self) -> int:
        return self.num_classes

    def _one_hot(self, t, y):
        if y is None:
            raise TypeError("ConditionalVAE: labels are required")
        labels = y if isinstance(y, fastdl.Tensor) else fastdl.tensor(np.asarray(y),
                                                                      device=t.device)
        values = _host(labels)
        if labels.ndim != 1 or labels.shape[0] != t.shape[0]:
            raise ValueError(f"ConditionalVAE: labels must be (N,) with N = {t.shape[0]}, got "
                             f"shape {tuple(labels.shape)}")
        if not np.issubdtype(values.dtype, np.integer):
            raise TypeError(f"ConditionalVAE: labels must be integer class indices, got "
                            f"{values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= self.num_classes):
            raise ValueError(f"ConditionalVAE: labels must lie in [0, {self.num_classes}), got "
                             f"range [{values.min()}, {values.max()}]")
        return F.one_hot(labels, self.num_classes).to(t.dtype)

    def _with_condition(self, t, y):
        return fastdl.cat([t, self._one_hot(t, y)], 1)

    def encode(self, x, labels):
        """``(mu, logvar)`` of q(z|x, label)."""
        return self._encode(x, labels)

    def decode(self, z, labels):
        """Decoder output for z given the labels."""
        return self._decode(z, labels)

    def forward(self, x, labels):
        return self._forward(x, labels)

    def loss_terms(self, x, labels):
        """``(reconstruction_nll, kl)`` batch means."""
        return self._loss_terms(x, labels)

    def loss(self, x, labels):
        """Negative ELBO, batch mean."""
        nll, kl = self._loss_terms(x, labels)
        return nll + self.beta * kl

    def sample(self, labels):
        """One sample in data space per label (N,)."""
        if not isinstance(labels, fastdl.Tensor):
            labels = fastdl.tensor(np.asarray(labels, dtype=np.int64),
                                   device=next(self.parameters()).device)
        if labels.ndim != 1 or labels.shape[0] < 1:
            raise ValueError(f"ConditionalVAE.sample: labels must be a non-empty (N,) vector, "
                             f"got shape {tuple(labels.shape)}")
        return self._generate(
            lambda: self._to_data(self._decode(self._prior(labels.shape[0]), labels)))

    def reconstruct(self, x, labels):
        """Decoder means at the posterior means."""
        return self._generate(
            lambda: self._to_data(self._decode(self._encode(x, labels)[0], labels)))

    def interpolate(self, a, b, label_a, label_b=None, steps: int = 8):
        """Decode ``steps`` points on the line between the posterior means of ``a`` (with
        ``label_a``) and ``b`` (with ``label_b``, default ``label_a``); when the labels differ
        the decoder's one-hot condition moves linearly from one to the other as well."""
        label_b = label_a if label_b is None else label_b
        return self._generate(lambda: self._interpolate_cond(a, b, int(label_a), int(label_b),
                                                             steps))

    def _interpolate_cond(self, a, b, label_a, label_b, steps):
        ends = fastdl.tensor(np.array([label_a, label_b], dtype=np.int64), device=a.device)
        z = self._line(a, b, steps, ends)
        p = next(self.parameters())
        t = np.linspace(0.0, 1.0, int(steps)).reshape(-1, 1)
        eye = np.eye(self.num_classes)
        onehot = fastdl.tensor((1 - t) * eye[label_a] + t * eye[label_b], dtype=p.dtype,
                               device=p.device)
        return self._to_data(self.decoder(fastdl.cat([z, onehot], 1)))
