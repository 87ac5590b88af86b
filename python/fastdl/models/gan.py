"""GANs for small images: DCGAN (Radford et al. 2015), conditional GAN (Mirza & Osindero 2014),
WGAN with weight clipping (Arjovsky et al. 2017) and WGAN-GP (Gulrajani et al. 2017).

- ``DCGANGenerator``: latent (N, latent_dim) -> ConvTranspose2d stack (BatchNorm + ReLU) ->
  tanh image (N, C, S, S), S a power of two >= 4 (8 for the digits). With ``num_classes`` the
  one-hot label is appended to the latent (a conditional generator).
- ``DCGANDiscriminator``: strided 4x4 convolutions with LeakyReLU(0.2) and a normalization
  (``norm="batch"`` for DCGAN; ``"layer"``/``"instance"``/``None`` for a WGAN-GP critic, where
  BatchNorm would couple the samples the penalty treats one by one) -> one logit/score per
  image. With ``num_classes`` the one-hot label is appended as constant image planes.
- ``gradient_penalty(critic, real, fake)``: E[(||d critic(x_hat) / d x_hat||_2 - 1)^2] at random
  interpolates, differentiable w.r.t. the critic's parameters (``autograd.grad`` with
  ``create_graph=True``: a double backward through every op of the critic).
- ``GANTrainer``: one training step per call for the three losses (``"dcgan"``, ``"wgan"``,
  ``"wgan-gp"``; conditional when the models take labels), with the papers' optimizers.
"""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl import nn, optim
from fastdl.autograd import grad as _autograd_grad
from fastdl.nn import functional as F

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "gradient_penalty", "GANTrainer"]


def _check_size(image_size, who):
    if image_size < 4 or image_size & (image_size - 1):
        raise ValueError(f"{who}: image_size must be a power of two >= 4, got {image_size}")
    return int(math.log2(image_size))


def _one_hot(labels, num_classes, dtype):
    if labels is None:
        raise ValueError(f"this model is conditional ({num_classes} classes): pass labels")
    labels = labels if isinstance(labels, fastdl.Tensor) else fastdl.tensor(np.asarray(labels))
    return F.one_hot(labels.long(), num_classes).to(dtype)


class DCGANGenerator(nn.Module):
    """DCGAN generator: (N, latent_dim) noise [+ labels] -> (N, out_channels, S, S) in (-1, 1).

    The latent is a 1x1 image; a 2x2 transposed convolution makes it 2x2, then each stride-2
    4x4 transposed convolution doubles the size (BatchNorm + ReLU between), the last one to
    ``out_channels`` with tanh. Widths: ``base * 2**k`` halving toward the output.

    Example:
        >>> g = fastdl.models.DCGANGenerator(latent_dim=16, base=8, image_size=8)
        >>> g(fastdl.randn(4, 16)).shape
        (4, 1, 8, 8)
        >>> cg = fastdl.models.DCGANGenerator(latent_dim=16, base=8, num_classes=10)
        >>> cg(fastdl.randn(2, 16), fastdl.tensor([3, 7])).shape
        (2, 1, 8, 8)
    """

    def __init__(self, latent_dim=32, base=32, out_channels=1, image_size=8, num_classes=0):
        super().__init__()
        doublings = _check_size(image_size, "DCGANGenerator") - 1  # 2x2 -> S
        self.latent_dim, self.num_classes, self.image_size = latent_dim, num_classes, image_size
        width = base * 2 ** doublings
        layers = [nn.ConvTranspose2d(latent_dim + num_classes, width, 2, 1, 0, bias=False),
                  nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(doublings - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, out_channels, 4, 2, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, z, labels=None):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"DCGANGenerator: expected noise (N, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        if self.num_classes:
            z = fastdl.cat([z, _one_hot(labels, self.num_classes, z.dtype)], dim=1)
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


def _norm(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # over (C, H, W) of each sample, per-channel affine
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind is None:
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'layer', 'instance' or None, got {kind!r}")


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator / WGAN critic: (N, in_channels, S, S) [+ labels] -> (N,) scores.

    Stride-2 4x4 convolutions halve the image to 2x2 (LeakyReLU(0.2); ``norm`` after all but the
    first), then a 2x2 convolution gives one logit (DCGAN, with BCE-with-logits) or critic value
    (WGAN) per image. Conditional: the one-hot label enters as ``num_classes`` constant planes.

    Example:
        >>> d = fastdl.models.DCGANDiscriminator(base=8, image_size=8)
        >>> d(fastdl.randn(4, 1, 8, 8)).shape
        (4,)
        >>> critic = fastdl.models.DCGANDiscriminator(base=8, norm="layer", num_classes=10)
        >>> critic(fastdl.randn(2, 1, 8, 8), fastdl.tensor([0, 9])).shape
        (2,)
    """

    def __init__(self, base=32, in_channels=1, image_size=8, num_classes=0, norm="batch"):
        super().__init__()
        halvings = _check_size(image_size, "DCGANDiscriminator") - 1  # S -> 2x2
        self.num_classes, self.image_size, self.in_channels = num_classes, image_size, in_channels
        layers = [nn.Conv2d(in_channels + num_classes, base, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = base
        for _ in range(halvings - 1):
            layers += [nn.Conv2d(width, 2 * width, 4, 2, 1, bias=norm is None),
                       _norm(norm, 2 * width), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 2, 1, 0), nn.Flatten(0)]
        self.main = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, x, labels=None):
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"DCGANDiscriminator: expected images (N, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}), got {tuple(x.shape)}")
        if self.num_classes:
            planes = _one_hot(labels, self.num_classes, x.dtype).reshape(x.shape[0], -1, 1, 1)
            x = fastdl.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
        return self.main(x)


def _dcgan_init(model):
    """DCGAN's initialisation: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif (isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d))
              and m.weight is not None):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def gradient_penalty(critic, real, fake, labels=None, eps=None):
    """WGAN-GP's penalty: mean over the batch of (||grad_x critic(x)||_2 - 1)^2 at
    x = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per sample (or the given (N,) / (N, 1, 1, 1)
    ``eps``). The result is differentiable w.r.t. the critic's parameters (``create_graph=True``);
    ``fake`` is detached.

    Example:
        >>> critic = fastdl.models.DCGANDiscriminator(base=8, norm="layer")
        >>> gp = fastdl.models.gradient_penalty(critic, fastdl.randn(4, 1, 8, 8),
        ...                                     fastdl.randn(4, 1, 8, 8))
        >>> gp.backward(); gp.ndim, critic.main[0].weight.grad.shape
        (0, (8, 1, 4, 4))
    """
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake "
                         f"{tuple(fake.shape)} must have the same shape")
    n = real.shape[0]
    shape = (n,) + (1,) * (real.ndim - 1)
    if eps is None:
        eps = fastdl.rand(*shape, dtype=real.dtype, device=real.device)
    else:
        eps = (eps if isinstance(eps, fastdl.Tensor) else fastdl.tensor(np.asarray(eps)))
        eps = eps.to(real.dtype).reshape(shape)
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_()
    scores = critic(x) if labels is None else critic(x, labels)
    (g,) = _autograd_grad(scores.sum(), [x], create_graph=True)
    norms = (g.reshape(n, -1).square().sum(dim=1) + 1e-12).sqrt()
    return (norms - 1).square().mean()


class GANTrainer:
    """One GAN training step per ``step(real[, labels])`` call, for ``loss`` in
    ``"dcgan"`` (non-saturating BCE; Adam 2e-4, betas (0.5, 0.999)), ``"wgan"`` (critic
    E[D(fake)] - E[D(real)], weights clipped to [-clip_value, clip_value]; RMSprop 5e-5) and
    ``"wgan-gp"`` (the same plus ``gp_weight`` * ``gradient_penalty``; Adam 1e-4, betas
    (0.0, 0.9)). Each call updates the discriminator/critic once; the generator is updated every
    ``n_critic`` calls (default 1 for DCGAN, 5 for the WGANs). ``lr``/``betas`` override the
    defaults. The models are conditional when they were built with ``num_classes``.

    ``step`` returns a dict of floats: ``d_loss``, ``g_loss`` (last generator loss), and for the
    WGANs ``wasserstein`` (E[D(real)] - E[D(fake)], the critic's estimate) and ``gp``.

    Example:
        >>> g = fastdl.models.DCGANGenerator(latent_dim=8, base=8)
        >>> d = fastdl.models.DCGANDiscriminator(base=8)
        >>> trainer = fastdl.models.GANTrainer(g, d, loss="dcgan")
        >>> stats = trainer.step(fastdl.rand(16, 1, 8, 8) * 2 - 1)
        >>> sorted(stats), trainer.sample(3).shape
        (['d_loss', 'g_loss'], (3, 1, 8, 8))
    """

    _DEFAULTS = {"dcgan": (2e-4, (0.5, 0.999), 1), "wgan": (5e-5, None, 5),
                 "wgan-gp": (1e-4, (0.0, 0.9), 5)}

    def __init__(self, generator, discriminator, loss="dcgan", lr=None, betas=None,
                 n_critic=None, clip_value=0.01, gp_weight=10.0, g_lr=None):
        if loss not in self._DEFAULTS:
            raise ValueError(f"GANTrainer: loss must be one of {sorted(self._DEFAULTS)}, "
                             f"got {loss!r}")
        default_lr, default_betas, default_n = self._DEFAULTS[loss]
        self.generator, self.discriminator, self.loss = generator, discriminator, loss
        self.num_classes = getattr(generator, "num_classes", 0)
        self.n_critic = default_n if n_critic is None else int(n_critic)
        self.clip_value, self.gp_weight = clip_value, gp_weight
        lr = default_lr if lr is None else lr
        g_lr = lr if g_lr is None else g_lr
        if loss == "wgan":
            self.opt_d = optim.RMSprop(discriminator.parameters(), lr=lr)
            self.opt_g = optim.RMSprop(generator.parameters(), lr=g_lr)
        else:
            betas = default_betas if betas is None else betas
            self.opt_d = optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
            self.opt_g = optim.Adam(generator.parameters(), lr=g_lr, betas=betas)
        self.steps = 0
        self._g_loss = float("nan")

    def _device(self):
        return next(iter(self.generator.parameters())).device

    def latent(self, n):
        """Standard normal noise (n, latent_dim) on the generator's device."""
        return fastdl.randn(n, self.generator.latent_dim, device=self._device())

    def _labels(self, labels, n):
        if not self.num_classes:
            return None
        if labels is None:
            return fastdl.randint(0, self.num_classes, (n,), device=self._device())
        if not isinstance(labels, fastdl.Tensor):
            labels = fastdl.tensor(np.asarray(labels), device=self._device())
        if tuple(labels.shape) != (n,):
            raise ValueError(f"GANTrainer: expected {n} labels, got shape {tuple(labels.shape)}")
        return labels

    def _d(self, x, labels):
        return self.discriminator(x) if labels is None else self.discriminator(x, labels)

    def _g(self, z, labels):
        return self.generator(z) if labels is None else self.generator(z, labels)

    def step(self, real, labels=None):
        """One discriminator/critic update on ``real`` (N, C, S, S) images in [-1, 1] (and
        their labels for conditional models) against as many fakes; a generator update every
        ``n_critic`` calls. Returns the step's numbers (see the class docstring)."""
        n = real.shape[0]
        if self.num_classes and labels is None:
            raise ValueError("GANTrainer: conditional models need the real images' labels")
        labels = self._labels(labels, n)
        stats = {}  # fakes for the critic take the real images' labels (conditional models)
        with fastdl.no_grad():
            fake = self._g(self.latent(n), labels)
        d_real, d_fake = self._d(real, labels), self._d(fake, labels)
        if self.loss == "dcgan":
            d_loss = (F.binary_cross_entropy_with_logits(d_real, fastdl.ones_like(d_real)) +
                      F.binary_cross_entropy_with_logits(d_fake, fastdl.zeros_like(d_fake)))
        else:
            w = d_real.mean() - d_fake.mean()
            d_loss = -w
            stats["wasserstein"] = w.item()
            if self.loss == "wgan-gp":
                gp = gradient_penalty(self.discriminator, real, fake, labels=labels)
                d_loss = d_loss + self.gp_weight * gp
                stats["gp"] = gp.item()
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        if self.loss == "wgan":
            with fastdl.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-self.clip_value, self.clip_value)
        stats["d_loss"] = d_loss.item()
        self.steps += 1
        if self.steps % self.n_critic == 0:
            self._g_loss = self._generator_step(n)
        stats["g_loss"] = self._g_loss
        return stats

    def _generator_step(self, n):
        labels = self._labels(None, n)
        scores = self._d(self._g(self.latent(n), labels), labels)
        if self.loss == "dcgan":
            g_loss = F.binary_cross_entropy_with_logits(scores, fastdl.ones_like(scores))
        else:
            g_loss = -scores.mean()
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        return g_loss.item()

    def sample(self, n, labels=None):
        """``n`` generated images (eval mode, no gradient), labels drawn at random for a
        conditional generator unless given."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            with fastdl.no_grad():
                return self._g(self.latent(n), self._labels(labels, n))
        finally:
            self.generator.train(was_training)
