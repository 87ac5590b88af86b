"""GANs (fastdl.models.gan): WGAN-GP's gradient penalty and its gradient w.r.t. the critic's
parameters against PyTorch on the same weights (a double backward through conv, LeakyReLU,
GroupNorm/InstanceNorm, one-hot concatenation), and each GAN flavour learning the digits' pixel
statistics at a tiny size."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.data import load_digits
from fastdl.models import DCGANDiscriminator, DCGANGenerator, GANTrainer, gradient_penalty
from generative_fixtures import one_thread  # noqa: F401 (autouse pytest fixture)

torch = pytest.importorskip("torch")


def _torch_mirror(module):
    """The same network in torch (layer by layer), with fastdl's weights copied."""
    layers = []
    seq = module.main if isinstance(module, DCGANDiscriminator) else module
    for m in seq:
        if isinstance(m, nn.Conv2d):
            t = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                m.padding, bias=m.bias is not None)
        elif isinstance(m, nn.ConvTranspose2d):
            t = torch.nn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                         m.padding, bias=m.bias is not None)
        elif isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features)
        elif isinstance(m, nn.LayerNorm):
            t = torch.nn.LayerNorm(m.normalized_shape, m.eps)
        elif isinstance(m, nn.LeakyReLU):
            t = torch.nn.LeakyReLU(m.negative_slope)
        elif isinstance(m, nn.GroupNorm):
            t = torch.nn.GroupNorm(m.num_groups, m.num_channels, m.eps)
        elif isinstance(m, nn.InstanceNorm2d):
            t = torch.nn.InstanceNorm2d(m.num_features, m.eps, affine=True)
        elif isinstance(m, nn.BatchNorm2d):
            t = torch.nn.BatchNorm2d(m.num_features, m.eps)
        elif isinstance(m, nn.Flatten):
            t = torch.nn.Flatten(m.start_dim, m.end_dim)
        elif isinstance(m, nn.Identity):
            t = torch.nn.Identity()
        else:
            raise AssertionError(f"no torch mirror for {m}")
        layers.append(t)
    mirror = torch.nn.Sequential(*layers).double()
    state = {k: torch.tensor(v.numpy()) for k, v in seq.state_dict().items()}
    mirror.load_state_dict(state)
    return mirror


def _torch_penalty(mirror, real, fake, eps, labels, num_classes):
    x = torch.tensor(eps * real + (1 - eps) * fake, requires_grad=True)
    inputs = x
    if num_classes:
        planes = torch.nn.functional.one_hot(torch.tensor(labels), num_classes).double()
        inputs = torch.cat([x, planes[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
    (g,) = torch.autograd.grad(mirror(inputs).sum(), [x], create_graph=True)
    return ((g.reshape(len(x), -1).norm(dim=1) - 1) ** 2).mean()


def _other_critic():
    """Transposed conv, LayerNorm and Linear on the penalty's path as well."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.LeakyReLU(0.2),
                         nn.ConvTranspose2d(4, 4, 4, 2, 1), nn.LayerNorm([4, 16, 16]),
                         nn.LeakyReLU(0.1), nn.Conv2d(4, 4, 4, 4, 0), nn.Flatten(),
                         nn.Linear(64, 1), nn.Flatten(0))


@pytest.mark.parametrize("norm,num_classes,size", [("layer", 0, 8), ("instance", 0, 16),
                                                   (None, 10, 8), ("other", 0, 8)])
def test_gradient_penalty_and_its_parameter_gradient_match_torch(norm, num_classes, size):
    fastdl.manual_seed(1)
    critic = (_other_critic() if norm == "other" else
              DCGANDiscriminator(base=4, image_size=size, num_classes=num_classes, norm=norm))
    critic = critic.double()
    for p in critic.parameters():  # DCGAN's init is N(0, 0.02): make the weights O(1)
        p.data = p.data * 0 + fastdl.randn(*p.shape, dtype=fastdl.float64) * 0.5
    mirror = _torch_mirror(critic)
    rng = np.random.default_rng(0)
    real = rng.standard_normal((3, 1, size, size))
    fake = rng.standard_normal((3, 1, size, size))
    eps = rng.random((3, 1, 1, 1))
    labels = np.array([1, 7, 3]) if num_classes else None
    ours = gradient_penalty(critic, fastdl.tensor(real), fastdl.tensor(fake),
                            labels=None if labels is None else fastdl.tensor(labels),
                            eps=fastdl.tensor(eps))
    theirs = _torch_penalty(mirror, real, fake, eps, labels, num_classes)
    assert abs(ours.item() - theirs.item()) <= 1e-10 * max(1.0, abs(theirs.item()))
    assert theirs.item() > 1e-3  # a penalty that is not trivially zero
    ours.backward()
    theirs.backward()
    ours_grads = dict(getattr(critic, "main", critic).named_parameters())
    checked = 0
    for name, tp in mirror.named_parameters():
        g_ours = ours_grads[name].grad
        g_ours = np.zeros(tp.shape) if g_ours is None else g_ours.numpy()
        g_theirs = np.zeros(tp.shape) if tp.grad is None else tp.grad.numpy()
        np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-8, atol=1e-11, err_msg=name)
        checked += np.abs(g_theirs).max() > 1e-6
    assert checked >= 3  # the conv weights and norm scales get real gradients


def test_gradient_penalty_bad_input():
    critic = DCGANDiscriminator(base=4, norm="layer")
    with pytest.raises(ValueError, match=r"\(2, 1, 8, 8\).*\(3, 1, 8, 8\)"):
        gradient_penalty(critic, fastdl.randn(2, 1, 8, 8), fastdl.randn(3, 1, 8, 8))
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(image_size=12)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        critic(fastdl.randn(2, 1, 7, 7))
    with pytest.raises(ValueError, match="pass labels"):
        DCGANGenerator(latent_dim=4, num_classes=10)(fastdl.randn(2, 4))
    with pytest.raises(ValueError, match="loss must be one of"):
        GANTrainer(DCGANGenerator(), critic, loss="lsgan")
    conditional = GANTrainer(DCGANGenerator(latent_dim=4, base=4, num_classes=10),
                             DCGANDiscriminator(base=4, num_classes=10))
    with pytest.raises(ValueError, match="need the real images' labels"):
        conditional.step(fastdl.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"expected 2 labels, got shape \(3,\)"):
        conditional.step(fastdl.randn(2, 1, 8, 8), [1, 2, 3])


def _digits():
    X, y = load_digits(flatten=False)
    return (X[:, None] * 2 - 1).astype(np.float32), y


def _mean_image_rms(samples, data):
    return float(np.sqrt(((samples.mean(0) - data.mean(0)) ** 2).mean()))


# At these sizes the untrained generator's samples are far from the data's mean image (RMS
# difference ~0.65 on the [-1, 1] scale: it outputs ~0 everywhere); 100 steps bring it under 0.42
# for every flavour (measured over seeds 0-5: DCGAN 0.21-0.37, WGAN 0.24-0.28, WGAN-GP
# 0.20-0.32; GAN training oscillates, so the bound leaves room).
@pytest.mark.parametrize("loss,lr,steps", [("dcgan", 2e-3, 100), ("wgan", 2e-3, 100),
                                           ("wgan-gp", 5e-3, 100)])
def test_gan_learns_the_digits_mean_image(loss, lr, steps):
    X, _ = _digits()
    fastdl.manual_seed(0)
    rng = np.random.default_rng(0)
    g = DCGANGenerator(latent_dim=16, base=8)
    d = DCGANDiscriminator(base=8, norm={"dcgan": "batch", "wgan": None,
                                         "wgan-gp": "layer"}[loss])
    trainer = GANTrainer(g, d, loss=loss, lr=lr)
    before = _mean_image_rms(trainer.sample(256).numpy(), X)
    for _ in range(steps):
        stats = trainer.step(fastdl.tensor(X[rng.choice(len(X), 32)]))
    after = _mean_image_rms(trainer.sample(256).numpy(), X)
    assert before > 0.5 and after < 0.42, (before, after, stats)
    assert all(np.isfinite(v) for v in stats.values())
    if loss == "wgan":
        assert max(float(np.abs(p.detach().numpy()).max()) for p in d.parameters()) <= 0.01 + 1e-7


def test_conditional_gan_follows_labels():
    """Conditional DCGAN: the mean image generated for label k is closer to the data's mean
    image of digit k than to the other digits' (a nearest-class-mean classifier on the
    generated class means beats chance, 1 in 10, by far: 9-10 of 10 over seeds 0-5 after 200
    steps; 2-9 after 120, so fewer steps would make a flaky test)."""
    X, y = _digits()
    fastdl.manual_seed(0)
    rng = np.random.default_rng(0)
    g = DCGANGenerator(latent_dim=16, base=8, num_classes=10)
    d = DCGANDiscriminator(base=8, num_classes=10)
    trainer = GANTrainer(g, d, loss="dcgan", lr=2e-3)
    for _ in range(200):
        idx = rng.choice(len(X), 32)
        trainer.step(fastdl.tensor(X[idx]), fastdl.tensor(y[idx]))
    labels = np.repeat(np.arange(10), 20)
    samples = trainer.sample(200, fastdl.tensor(labels)).numpy()
    class_means = np.stack([X[y == k].mean(0) for k in range(10)]).reshape(10, -1)
    gen_means = np.stack([samples[labels == k].mean(0) for k in range(10)]).reshape(10, -1)
    dist = ((gen_means[:, None] - class_means[None]) ** 2).sum(-1)
    correct = int((dist.argmin(1) == np.arange(10)).sum())
    assert correct >= 7, dist.argmin(1)


def test_wgan_updates_the_generator_once_every_n_critic_steps():
    fastdl.manual_seed(0)
    g, d = DCGANGenerator(latent_dim=4, base=4), DCGANDiscriminator(base=4, norm=None)
    trainer = GANTrainer(g, d, loss="wgan", n_critic=3, lr=1e-2)

    def weights(module):
        return np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])

    real = fastdl.rand(8, 1, 8, 8) * 2 - 1
    g0 = weights(g)
    for _ in range(2):
        d_before = weights(d)
        stats = trainer.step(real)
        assert not np.array_equal(weights(d), d_before)  # the critic moves every step
    assert np.array_equal(weights(g), g0) and np.isnan(stats["g_loss"])
    stats = trainer.step(real)
    assert not np.array_equal(weights(g), g0) and np.isfinite(stats["g_loss"])
