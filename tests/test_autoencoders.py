"""Autoencoders (issue #13): shapes, bad input, denoising corruption, sparsity penalties against
numpy/PyTorch, ROC-AUC against scikit-learn, and that the MLP and convolutional models learn the
digits and detect a held-out class at test size."""
import doctest

import numpy as np
import pytest

import fastdl
from fastdl.data import load_digits, train_test_split_indices
from fastdl.models import (Autoencoder, ConvAutoencoder, add_noise, kl_sparsity_penalty,
                           l1_activity_penalty, roc_auc_score)
import fastdl.models.autoencoder as autoencoder_module


def test_docstring_examples_run():
    result = doctest.testmod(autoencoder_module, extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 15


def test_shapes_and_code():
    fastdl.manual_seed(0)
    model = Autoencoder(64, hidden=[32, 16], latent=5, latent_activation="sigmoid")
    x = fastdl.rand(7, 64)
    out, code = (t.detach() for t in model(x, return_code=True))
    assert out.shape == (7, 64) and code.shape == (7, 5)
    assert 0 <= out.numpy().min() and out.numpy().max() <= 1  # sigmoid output
    assert 0 <= code.numpy().min() and code.numpy().max() <= 1
    assert model.decode(code).shape == (7, 64)
    conv = ConvAutoencoder(2, image_size=(8, 16), channels=(4, 6, 8), latent=3)
    y = fastdl.rand(2, 2, 8, 16)
    assert conv(y).shape == (2, 2, 8, 16) and conv.encode(y).shape == (2, 3)
    assert conv.reconstruction_error(y).shape == (2,)


def test_bad_input_errors():
    model = Autoencoder(64, hidden=[16], latent=4)
    with pytest.raises(ValueError, match=r"\(N, 64\).*\(3, 63\)"):
        model(fastdl.rand(3, 63))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        model.decode(fastdl.rand(3, 5))
    with pytest.raises(ValueError, match="noise"):
        Autoencoder(64, noise="salt")
    with pytest.raises(ValueError, match="level"):
        Autoencoder(64, noise="masking", noise_level=1.0)
    with pytest.raises(ValueError, match="activation"):
        Autoencoder(64, latent_activation="nope")
    conv = ConvAutoencoder(1, image_size=8, channels=(4, 8), latent=4)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\).*\(3, 64\)"):
        conv(fastdl.rand(3, 64))
    with pytest.raises(ValueError, match="divisible"):
        ConvAutoencoder(1, image_size=6, channels=(4, 8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        kl_sparsity_penalty(fastdl.tensor([[-0.5, 0.2]]))
    with pytest.raises(ValueError, match="rho"):
        kl_sparsity_penalty(fastdl.rand(3, 2), rho=1.5)


def test_denoising_corrupts_only_in_training():
    fastdl.manual_seed(0)
    x = fastdl.rand(4, 64)
    for noise in ("gaussian", "masking"):
        model = Autoencoder(64, hidden=[16], latent=4, noise=noise, noise_level=0.3)
        model.train()
        with fastdl.no_grad():
            assert not np.allclose(model(x).numpy(), model(x).numpy())  # fresh noise each call
            model.eval()
            np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    masked = add_noise(fastdl.ones(200, 50), "masking", 0.3).numpy()
    assert set(np.unique(masked)) <= {0.0, 1.0} and abs((masked == 0).mean() - 0.3) < 0.02
    noisy = add_noise(fastdl.zeros(200, 50), "gaussian", 0.5).numpy()
    assert abs(noisy.std() - 0.5) < 0.02 and abs(noisy.mean()) < 0.02


def test_penalties_match_numpy_and_torch_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    code = rng.uniform(0.01, 0.99, size=(6, 4))
    a = fastdl.tensor(code, requires_grad=True)
    b = torch.tensor(code, requires_grad=True)
    rho = 0.1
    ours = 0.7 * l1_activity_penalty(a - 0.5) + kl_sparsity_penalty(a, rho=rho)
    rho_hat = b.mean(0)
    ref = (0.7 * (b - 0.5).abs().sum(1).mean()
           + (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat)))
           .sum())
    ours.backward()
    ref.backward()
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)
    expected = np.abs(code - 0.5).sum(1).mean()
    np.testing.assert_allclose(l1_activity_penalty(fastdl.tensor(code - 0.5)).item(), expected)


def test_roc_auc_matches_sklearn_with_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        labels = rng.integers(0, 2, 300)
        scores = np.round(rng.normal(size=300) + 0.7 * labels, 1)  # many ties
        assert abs(roc_auc_score(labels, scores) - metrics.roc_auc_score(labels, scores)) < 1e-12
    assert roc_auc_score([0, 1], [0.0, 1.0]) == 1.0
    assert roc_auc_score([1, 0], [0.0, 1.0]) == 0.0
    assert roc_auc_score([0, 1, 0, 1], [1.0, 1.0, 1.0, 1.0]) == 0.5
    with pytest.raises(ValueError, match="both"):
        roc_auc_score([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="0 or 1"):
        roc_auc_score([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="length"):
        roc_auc_score([0, 1, 1], [0.2, 0.3])


def _digits_split(held_out, conv=False):
    X, y = load_digits()
    if conv:
        X = X.reshape(-1, 1, 8, 8)
    train_idx, test_idx = train_test_split_indices(len(X), test_fraction=0.25, seed=0)
    train_idx = train_idx[y[train_idx] != held_out]
    labels = (y[test_idx] == held_out).astype(int)
    return fastdl.tensor(X[train_idx]), fastdl.tensor(X[test_idx]), labels


def _fit(model, X, epochs, lr=3e-3, batch=64, **penalty):
    optimizer = fastdl.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        for start in range(0, len(order), batch):
            optimizer.zero_grad()
            model.loss(X[fastdl.tensor(order[start:start + batch])], **penalty).backward()
            optimizer.step()
    return model


def test_mlp_autoencoder_learns_and_detects_held_out_digit():
    # digit 0 is held out of training: its reconstruction error separates it (AUC >> 0.5).
    fastdl.manual_seed(0)
    X_train, X_test, is_zero = _digits_split(0)
    model = Autoencoder(64, hidden=[64], latent=8)
    before = model.reconstruction_error(X_test).numpy()[is_zero == 0].mean()
    _fit(model, X_train, epochs=12)
    errors = model.reconstruction_error(X_test).numpy()
    assert before > 0.05
    assert errors[is_zero == 0].mean() < 0.03  # normal test digits (mean ~0.19 of pixels^2)
    assert roc_auc_score(is_zero, errors) > 0.85


def test_conv_autoencoder_learns():
    fastdl.manual_seed(0)
    X_train, X_test, is_zero = _digits_split(0, conv=True)
    conv = _fit(ConvAutoencoder(1, 8, channels=(8, 16), latent=8), X_train, epochs=10,
                lr=5e-3)
    errors = conv.reconstruction_error(X_test).numpy()
    assert errors[is_zero == 0].mean() < 0.05 and roc_auc_score(is_zero, errors) > 0.8


def test_denoising_autoencoder_removes_masking_noise():
    # a wide code (64) lets a plain autoencoder copy its input, noise included; trained on
    # masked inputs, the denoising one restores the clean digits better than the plain one
    X_train, X_test, _ = _digits_split(0)
    mask = np.random.default_rng(0).random(X_test.shape) > 0.3
    corrupted = X_test * fastdl.tensor(mask.astype(np.float32))
    errors = {}
    for noise in (None, "masking"):
        fastdl.manual_seed(0)
        model = _fit(Autoencoder(64, hidden=[128], latent=64, noise=noise, noise_level=0.3),
                     X_train, epochs=10, lr=5e-3).eval()
        with fastdl.no_grad():
            errors[noise] = ((model(corrupted) - X_test) ** 2).mean().item()
    corrupted_error = ((corrupted - X_test) ** 2).mean().item()  # 0.067
    assert errors["masking"] < 0.5 * corrupted_error
    assert errors["masking"] < 0.92 * errors[None]  # measured 0.028 vs 0.033


def test_sparsity_penalties_make_codes_sparse():
    X_train, _, _ = _digits_split(0)
    X_train = X_train[:400]
    fastdl.manual_seed(0)
    plain = _fit(Autoencoder(64, hidden=[32], latent=16), X_train, epochs=4)
    fastdl.manual_seed(0)
    l1 = _fit(Autoencoder(64, hidden=[32], latent=16), X_train, epochs=4, l1=0.02)
    with fastdl.no_grad():
        plain_code = plain.encode(X_train).numpy()
        l1_code = l1.encode(X_train).numpy()
    assert np.abs(l1_code).mean() < 0.5 * np.abs(plain_code).mean()
    fastdl.manual_seed(0)
    kl = _fit(Autoencoder(64, hidden=[32], latent=16, latent_activation="sigmoid"), X_train,
              epochs=4, kl=0.5, rho=0.05)
    with fastdl.no_grad():
        activation = kl.encode(X_train).numpy().mean(0)
    assert abs(activation.mean() - 0.05) < 0.03  # ~ the target rho (0.5 without the penalty)
