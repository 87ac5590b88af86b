"""Denoising diffusion: DDPM (Ho et al. 2020) training and ancestral sampling, and DDIM
(Song et al. 2021) sampling with fewer steps, for any noise-prediction model ``model(x_t, t)``
(``fastdl.models.UNet``).

Notation: betas b_t (t = 0..T-1), alpha_t = 1 - b_t, abar_t = prod_{s<=t} alpha_s (abar_{-1} = 1).
- forward process: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps;
- training loss: mean squared error between eps and model(x_t, t), t uniform;
- DDPM step: x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t) (clipped to [-1, 1] when
  ``clip_denoised``), mean = c1 x0_hat + c2 x_t with c1 = b_t sqrt(abar_{t-1}) / (1 - abar_t),
  c2 = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t), variance b~_t = b_t (1 - abar_{t-1}) /
  (1 - abar_t) (the posterior's);
- DDIM step t -> s: sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s),
  mean = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat, with eps_hat recomputed from
  the clipped x0_hat; with s = t - 1 and eta = 1 this is exactly the DDPM step.
"""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl.nn import functional as F

__all__ = ["beta_schedule", "GaussianDiffusion"]


def beta_schedule(kind, timesteps):
    """float64 numpy betas (timesteps,): ``"linear"`` (Ho et al.: 1e-4 .. 0.02 at T = 1000,
    both ends scaled by 1000 / T so shorter chains still end near pure noise) or ``"cosine"``
    (Nichol & Dhariwal: abar(t) = cos^2((t/T + s) / (1 + s) * pi/2), s = 0.008, betas clipped at
    0.999).

    Example:
        >>> b = fastdl.models.beta_schedule("linear", 100)
        >>> b.shape, round(float(b[0]), 6), round(float(b[-1]), 6)
        ((100,), 0.001, 0.2)
        >>> round(float(fastdl.models.beta_schedule("cosine", 100)[-1]), 3)
        0.999
    """
    if timesteps < 1:
        raise ValueError(f"beta_schedule: timesteps must be >= 1, got {timesteps}")
    if kind == "linear":
        scale = 1000.0 / timesteps
        return np.linspace(scale * 1e-4, min(scale * 0.02, 0.999), timesteps, dtype=np.float64)
    if kind == "cosine":
        s = 0.008
        steps = np.arange(timesteps + 1, dtype=np.float64) / timesteps
        abar = np.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return np.clip(1 - abar[1:] / abar[:-1], 0.0, 0.999)
    raise ValueError(f"beta_schedule: kind must be 'linear' or 'cosine', got {kind!r}")


class GaussianDiffusion:
    """DDPM/DDIM around a noise-prediction ``model(x_t, t)`` with ``timesteps`` steps of the
    ``schedule`` (``"linear"``/``"cosine"``, or an array of betas). Images are expected in
    [-1, 1].

    Example:
        >>> net = fastdl.models.UNet(base=8)
        >>> diffusion = fastdl.models.GaussianDiffusion(net, timesteps=20)
        >>> loss = diffusion.loss(fastdl.rand(4, 1, 8, 8) * 2 - 1); loss.backward()
        >>> diffusion.sample(2, (1, 8, 8)).shape, diffusion.ddim_sample(2, (1, 8, 8), 5).shape
        ((2, 1, 8, 8), (2, 1, 8, 8))
    """

    def __init__(self, model, timesteps=200, schedule="linear", clip_denoised=True):
        self.model = model
        betas = (beta_schedule(schedule, timesteps) if isinstance(schedule, str)
                 else np.asarray(schedule, np.float64))
        if betas.ndim != 1 or not ((betas > 0) & (betas < 1)).all():
            raise ValueError("GaussianDiffusion: betas must be a 1-d array in (0, 1)")
        self.timesteps = len(betas)
        self.clip_denoised = clip_denoised
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(self.alphas)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        abar, abar_prev = self.alphas_cumprod, self.alphas_cumprod_prev
        self.posterior_variance = betas * (1 - abar_prev) / (1 - abar)
        self.posterior_mean_coef1 = betas * np.sqrt(abar_prev) / (1 - abar)
        self.posterior_mean_coef2 = (1 - abar_prev) * np.sqrt(self.alphas) / (1 - abar)

    # ---- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _at(values, t, like):
        """values[t] shaped (N, 1, ..., 1) as a tensor of ``like``'s dtype."""
        v = np.asarray(values)[np.asarray(t, np.int64)].reshape((-1,) + (1,) * (like.ndim - 1))
        return fastdl.tensor(v, device=like.device).to(like.dtype)

    @staticmethod
    def _steps(t, n):
        t = np.asarray(t.numpy() if isinstance(t, fastdl.Tensor) else t, np.int64)
        return np.broadcast_to(t, (n,)).copy()

    @staticmethod
    def _noise_like(x):
        return fastdl.randn(*x.shape, dtype=x.dtype, device=x.device)

    def _eps(self, x, t):
        return self.model(x, fastdl.tensor(t, device=x.device))

    # ---- training ---------------------------------------------------------------------------
    def q_sample(self, x0, t, noise=None):
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (noise drawn when not given)."""
        t = self._steps(t, x0.shape[0])
        noise = self._noise_like(x0) if noise is None else noise
        return (self._at(np.sqrt(self.alphas_cumprod), t, x0) * x0 +
                self._at(np.sqrt(1 - self.alphas_cumprod), t, x0) * noise)

    def loss(self, x0, t=None, noise=None):
        """The simple DDPM loss: mean squared error of the predicted noise at random t."""
        n = x0.shape[0]
        if t is None:
            t = fastdl.randint(0, self.timesteps, (n,)).numpy()
        t = self._steps(t, n)
        noise = self._noise_like(x0) if noise is None else noise
        return F.mse_loss(self._eps(self.q_sample(x0, t, noise), t), noise)

    # ---- sampling ---------------------------------------------------------------------------
    def _x0_and_eps(self, x, t, eps):
        abar = self._at(self.alphas_cumprod, t, x)
        x0 = (x - (1 - abar).sqrt() * eps) / abar.sqrt()
        if self.clip_denoised:
            x0 = x0.clamp(-1.0, 1.0)
            eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
        return x0, eps

    def p_mean_variance(self, x, t, eps=None):
        """(mean, variance, x0_hat) of the DDPM reverse step p(x_{t-1} | x_t); ``eps`` is the
        model's prediction (computed when not given)."""
        t = self._steps(t, x.shape[0])
        with fastdl.no_grad():
            eps = self._eps(x, t) if eps is None else eps
            x0, _ = self._x0_and_eps(x, t, eps)
            mean = (self._at(self.posterior_mean_coef1, t, x) * x0 +
                    self._at(self.posterior_mean_coef2, t, x) * x)
        return mean, self._at(self.posterior_variance, t, x), x0

    def ddim_step_params(self, x, t, t_prev, eta=0.0, eps=None):
        """(mean, std, x0_hat) of the DDIM step from t to t_prev (t_prev = -1: to x_0)."""
        t = self._steps(t, x.shape[0])
        t_prev = self._steps(t_prev, x.shape[0])
        abar_prev_all = np.append(self.alphas_cumprod, 1.0)  # index -1 -> abar = 1
        with fastdl.no_grad():
            eps = self._eps(x, t) if eps is None else eps
            x0, eps = self._x0_and_eps(x, t, eps)
            abar_t, abar_s = self.alphas_cumprod[t], abar_prev_all[t_prev]
            sigma = eta * np.sqrt((1 - abar_s) / (1 - abar_t)) * np.sqrt(1 - abar_t / abar_s)
            direction = np.sqrt(np.maximum(1 - abar_s - sigma ** 2, 0.0))
            idx = np.arange(x.shape[0])
            mean = (self._at(np.sqrt(abar_s), idx, x) * x0 +
                    self._at(direction, idx, x) * eps)
        return mean, self._at(sigma, idx, x), x0

    def _start(self, n, shape, noise, dtype):
        if noise is not None:
            return noise
        device = next(iter(self.model.parameters()), fastdl.zeros(1)).device
        return fastdl.randn(n, *shape, dtype=dtype, device=device)

    def _run(self, steps_fn, model_was_training):
        try:
            return steps_fn()
        finally:
            self.model.train(model_was_training)

    def sample(self, n, shape, noise=None, dtype=fastdl.float32):
        """Ancestral (DDPM) sampling: T reverse steps from x_T ~ N(0, I); (n, *shape)."""
        was_training = self.model.training
        self.model.eval()

        def steps():
            x = self._start(n, shape, noise, dtype)
            for t in reversed(range(self.timesteps)):
                mean, var, _ = self.p_mean_variance(x, t)
                x = mean if t == 0 else mean + var.sqrt() * self._noise_like(x)
            return x
        return self._run(steps, was_training)

    def ddim_sample(self, n, shape, steps=50, eta=0.0, noise=None, dtype=fastdl.float32):
        """DDIM sampling with ``steps`` evenly spaced timesteps (``steps`` = T and ``eta`` = 1
        is ancestral sampling; ``eta`` = 0 is deterministic given the start noise)."""
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"ddim_sample: steps must be in [1, {self.timesteps}], got {steps}")
        # evenly spaced, always starting at T - 1 (one step: straight from x_{T-1} to x0_hat)
        times = np.unique(np.round(np.linspace(self.timesteps - 1, 0, steps)).astype(np.int64))
        was_training = self.model.training
        self.model.eval()

        def run():
            x = self._start(n, shape, noise, dtype)
            for i in reversed(range(len(times))):
                t, t_prev = int(times[i]), int(times[i - 1]) if i > 0 else -1
                mean, std, _ = self.ddim_step_params(x, t, t_prev, eta)
                x = mean if t_prev < 0 or eta == 0 else mean + std * self._noise_like(x)
            return x
        return self._run(run, was_training)
