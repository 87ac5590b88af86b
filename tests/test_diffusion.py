"""Diffusion (fastdl.models.diffusion / unet): the schedules, the sinusoidal embedding and one
DDPM/DDIM reverse step against numpy implementations of the formulas, U-Net shapes for odd
sizes, and DDPM learning the digits at a tiny size."""
import math

import numpy as np
import pytest

import fastdl
from fastdl.data import load_digits
from fastdl.models import GaussianDiffusion, UNet, beta_schedule, sinusoidal_embedding
from generative_fixtures import one_thread  # noqa: F401 (autouse pytest fixture)


@pytest.mark.parametrize("dim", [8, 7, 2])
def test_sinusoidal_embedding_matches_the_formula(dim):
    t = np.array([0, 1, 17, 99, 999])
    half = dim // 2
    freqs = 10000.0 ** (-np.arange(half) / half)
    expected = np.concatenate([np.cos(t[:, None] * freqs), np.sin(t[:, None] * freqs)], 1)
    if dim % 2:
        expected = np.concatenate([expected, np.zeros((len(t), 1))], 1)
    got = sinusoidal_embedding(fastdl.tensor(t.astype(np.float64)), dim).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    got32 = sinusoidal_embedding(fastdl.tensor(t), dim)  # integer steps -> float32
    assert got32.dtype == fastdl.float32
    np.testing.assert_allclose(got32.numpy(), expected, atol=2e-4)


def test_beta_schedules_match_the_papers():
    np.testing.assert_allclose(beta_schedule("linear", 1000), np.linspace(1e-4, 0.02, 1000))
    T, s = 50, 0.008
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    expected = np.minimum(1 - abar[1:] / abar[:-1], 0.999)
    np.testing.assert_allclose(beta_schedule("cosine", T), expected, rtol=1e-12)
    # abar of the cosine schedule follows f(t) / f(0)
    np.testing.assert_allclose(np.cumprod(1 - beta_schedule("cosine", T))[:-1], abar[1:-1],
                               rtol=1e-10)
    with pytest.raises(ValueError, match="linear.*cosine"):
        beta_schedule("quadratic", 10)


class _FixedEps(fastdl.nn.Module):
    """A stand-in noise predictor with a known, t-dependent output."""

    def forward(self, x, t):
        return (x * 0.3 + t.to(x.dtype).reshape(-1, 1, 1, 1) * 0.01).tanh()


def _numpy_eps(x, t):
    return np.tanh(x * 0.3 + t.reshape(-1, 1, 1, 1) * 0.01)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("clip", [False, True])
def test_ddim_with_every_step_and_eta_1_is_the_ddpm_step(schedule, clip):
    T = 40
    diffusion = GaussianDiffusion(_FixedEps(), timesteps=T, schedule=schedule,
                                  clip_denoised=clip)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 5, 5)) * 1.5
    betas = beta_schedule(schedule, T)
    alphas = 1 - betas
    abar = np.cumprod(alphas)
    for t in (T - 1, 17, 1):
        ts = np.full(4, t)
        # numpy DDPM posterior q(x_{t-1} | x_t, x0_hat)
        eps = _numpy_eps(x, ts)
        x0 = (x - np.sqrt(1 - abar[t]) * eps) / np.sqrt(abar[t])
        if clip:
            x0 = np.clip(x0, -1, 1)
        mean = (betas[t] * np.sqrt(abar[t - 1]) / (1 - abar[t]) * x0 +
                (1 - abar[t - 1]) * np.sqrt(alphas[t]) / (1 - abar[t]) * x)
        var = betas[t] * (1 - abar[t - 1]) / (1 - abar[t])
        m, v, x0_ours = diffusion.p_mean_variance(fastdl.tensor(x), t)
        np.testing.assert_allclose(m.numpy(), mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(v.numpy().ravel(), np.full(4, var), rtol=1e-10)
        np.testing.assert_allclose(x0_ours.numpy(), x0, rtol=1e-10, atol=1e-12)
        m2, std, _ = diffusion.ddim_step_params(fastdl.tensor(x), t, t - 1, eta=1.0)
        np.testing.assert_allclose(m2.numpy(), mean, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(std.numpy().ravel() ** 2, np.full(4, var), rtol=1e-9)


def test_ddim_sampling_with_every_step_and_eta_1_retraces_ddpm_sampling():
    """Same seed, same draws in the same order: the two samplers give the same chain."""
    diffusion = GaussianDiffusion(_FixedEps(), timesteps=12, schedule="cosine")
    fastdl.manual_seed(3)
    a = diffusion.sample(3, (1, 4, 5), dtype=fastdl.float64).numpy()
    fastdl.manual_seed(3)
    b = diffusion.ddim_sample(3, (1, 4, 5), steps=12, eta=1.0, dtype=fastdl.float64).numpy()
    fastdl.manual_seed(3)
    c = diffusion.ddim_sample(3, (1, 4, 5), steps=12, eta=0.0, dtype=fastdl.float64).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    assert np.abs(a - c).max() > 1e-3  # eta = 0 is a different (deterministic) chain


def test_ddim_skipping_steps_matches_the_formula():
    T, t, s, eta = 50, 37, 12, 0.5
    diffusion = GaussianDiffusion(_FixedEps(), timesteps=T, schedule="linear",
                                  clip_denoised=False)
    x = np.random.default_rng(1).standard_normal((3, 2, 4, 6))
    abar = np.cumprod(1 - beta_schedule("linear", T))
    eps = _numpy_eps(x, np.full(3, t))
    x0 = (x - np.sqrt(1 - abar[t]) * eps) / np.sqrt(abar[t])
    sigma = eta * np.sqrt((1 - abar[s]) / (1 - abar[t]) * (1 - abar[t] / abar[s]))
    mean = np.sqrt(abar[s]) * x0 + np.sqrt(1 - abar[s] - sigma ** 2) * eps
    m, std, _ = diffusion.ddim_step_params(fastdl.tensor(x), t, s, eta=eta)
    np.testing.assert_allclose(m.numpy(), mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(std.numpy().ravel(), np.full(3, sigma), rtol=1e-10)
    # one DDIM step goes from T - 1 straight to x0_hat
    one = diffusion.ddim_sample(3, (2, 4, 6), steps=1, noise=fastdl.tensor(x)).numpy()
    eps_last = _numpy_eps(x, np.full(3, T - 1))
    np.testing.assert_allclose(one, (x - np.sqrt(1 - abar[-1]) * eps_last) / np.sqrt(abar[-1]),
                               rtol=1e-10, atol=1e-12)
    # the last step (to t = -1) lands on x0_hat with no noise
    m, std, x0_hat = diffusion.ddim_step_params(fastdl.tensor(x), 0, -1, eta=1.0)
    np.testing.assert_allclose(m.numpy(), x0_hat.numpy(), atol=1e-12)
    assert float(np.abs(std.numpy()).max()) == 0.0


def test_ddim_eta0_is_deterministic_and_samplers_keep_shapes():
    fastdl.manual_seed(0)
    diffusion = GaussianDiffusion(UNet(base=8), timesteps=10)
    noise = fastdl.randn(2, 1, 5, 7)
    a = diffusion.ddim_sample(2, (1, 5, 7), steps=4, eta=0.0, noise=noise)
    b = diffusion.ddim_sample(2, (1, 5, 7), steps=4, eta=0.0, noise=noise)
    assert a.shape == (2, 1, 5, 7) and np.array_equal(a.numpy(), b.numpy())
    assert float(np.abs(a.numpy()).max()) <= 1.0  # clipped x0_hat at the last step
    assert diffusion.sample(3, (1, 5, 7)).shape == (3, 1, 5, 7)
    with pytest.raises(ValueError, match=r"steps must be in \[1, 10\]"):
        diffusion.ddim_sample(1, (1, 4, 4), steps=11)


@pytest.mark.parametrize("size,mults", [((7, 9), (1, 2)), ((5, 5), (1, 2, 2)),
                                        ((9, 11), (1, 1, 2)), ((1, 1), (1, 2))])
def test_unet_keeps_odd_sizes_and_every_parameter_learns(size, mults):
    fastdl.manual_seed(0)
    net = UNet(in_channels=2, out_channels=3, base=8, channel_mults=mults, heads=2)
    x = fastdl.randn(2, 2, *size)
    out = net(x, fastdl.tensor([0, 7]))
    assert out.shape == (2, 3) + size
    out.square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing, missing


def test_unet_bad_input():
    net = UNet(base=8)
    with pytest.raises(ValueError, match=r"timesteps of shape \(2,\)"):
        net(fastdl.randn(2, 1, 8, 8), fastdl.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        net(fastdl.randn(1, 8, 8), fastdl.tensor([1]))


def test_ddpm_learns_to_denoise_digits():
    """A zero predictor's loss is E[eps^2] = 1; a tiny U-Net gets under 0.45 in 50 steps
    (measured over seeds 0-4: 0.91-1.01 over the first 3 steps, 0.31-0.33 over the last 10)."""
    X, _ = load_digits(flatten=False)
    X = (X[:, None] * 2 - 1).astype(np.float32)
    fastdl.manual_seed(0)
    rng = np.random.default_rng(0)
    diffusion = GaussianDiffusion(UNet(base=8), timesteps=50, schedule="cosine")
    opt = fastdl.optim.Adam(diffusion.model.parameters(), lr=5e-3)
    losses = []
    for _ in range(STEPS):
        loss = diffusion.loss(fastdl.tensor(X[rng.choice(len(X), 32)]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[:3]) > 0.6 and np.mean(losses[-10:]) < THRESHOLD, losses[::10]


STEPS, THRESHOLD = 50, 0.45
