"""nn.functional ops under torch's top-level names and ATen signatures (torch.conv2d,
torch.layer_norm, torch.batch_norm, torch.embedding, torch.kl_div with the reduction enum ...):
values and gradients against torch 2.13 in float32 and float64, argument variants, errors."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")

DTYPES = [(np.float32, 1e-5), (np.float64, 1e-10)]


def pair(a, requires_grad=True):
    """The same values as a fastdl and a torch tensor (leaves when floating point)."""
    a = np.asarray(a)
    grad = requires_grad and a.dtype.kind == "f"
    return (fastdl.tensor(a.copy(), requires_grad=grad),
            torch.tensor(a.copy(), requires_grad=grad))


def rand(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def check(fn_args, dtype, tol, *, name, grad=True, const=(), **kw):
    """Call fastdl.<name> and torch.<name> on the same arguments; compare outputs and the
    gradients of every floating point tensor argument (but those at positions ``const``:
    labels, whose gradient fastdl does not compute)."""
    fd_args, t_args, leaves = [], [], []
    for i, a in enumerate(fn_args):
        if isinstance(a, np.ndarray):
            f, t = pair(a.astype(dtype) if a.dtype.kind == "f" else a, grad and i not in const)
            fd_args.append(f)
            t_args.append(t)
            if grad and a.dtype.kind == "f" and i not in const:
                leaves.append((f, t))
        else:
            fd_args.append(a)
            t_args.append(a)
    got = getattr(fastdl, name)(*fd_args, **kw)
    want = getattr(torch, name)(*t_args, **kw)
    got_t = got if isinstance(got, tuple) else (got,)
    want_t = want if isinstance(want, tuple) else (want,)
    assert len(got_t) == len(want_t)
    for g, w in zip(got_t, want_t):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=tol, atol=tol)
    if leaves:
        g0, w0 = got_t[0], want_t[0]
        seed = np.random.default_rng(1).standard_normal(tuple(w0.shape)).astype(dtype)
        (g0 * fastdl.tensor(seed)).sum().backward()
        (w0 * torch.tensor(seed)).sum().backward()
        for f, t in leaves:
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=tol * 10,
                                       atol=tol * 10)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_convolutions(dtype, tol):
    rng = np.random.default_rng(0)
    check([rand(rng, 2, 4, 9), rand(rng, 6, 2, 3), rand(rng, 6), 2, 1, 1, 2], dtype, tol,
          name="conv1d")
    check([rand(rng, 2, 3, 7, 6), rand(rng, 4, 3, 3, 2)], dtype, tol, name="conv2d",
          padding=1, stride=(2, 1))
    check([rand(rng, 1, 2, 4, 5, 4), rand(rng, 3, 2, 2, 2, 2), None, 1, 0, 2], dtype, tol,
          name="conv3d")
    check([rand(rng, 2, 4, 5), rand(rng, 4, 3, 3), rand(rng, 3), 2, 1, 1], dtype, tol,
          name="conv_transpose1d")
    check([rand(rng, 1, 2, 4, 3), rand(rng, 2, 3, 3, 2), None, 2, 0, 1, 1, 1], dtype, tol,
          name="conv_transpose2d")
    check([rand(rng, 1, 2, 3, 3, 2), rand(rng, 2, 1, 2, 2, 2)], dtype, tol,
          name="conv_transpose3d", stride=2)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_pooling(dtype, tol):
    rng = np.random.default_rng(1)
    x1, x2, x3 = rand(rng, 2, 3, 11), rand(rng, 2, 3, 7, 8), rand(rng, 1, 2, 5, 6, 4)
    check([x1, 3], dtype, tol, name="max_pool1d")
    check([x1, 3, 2, 1, 1, True], dtype, tol, name="max_pool1d")
    check([x1, 2, (), 0, 2], dtype, tol, name="max_pool1d")
    check([x1, 3, 2, 1], dtype, tol, name="max_pool1d_with_indices")
    check([x2, (2, 3)], dtype, tol, name="max_pool2d")
    check([x2, 3, [], 1, 1, True], dtype, tol, name="max_pool2d")
    check([x3, 2, 1], dtype, tol, name="max_pool3d")
    check([x1, 4, 3, 2, True, False], dtype, tol, name="avg_pool1d")
    check([x1, 2], dtype, tol, name="avg_pool1d")
    check([x1, 4], dtype, tol, name="adaptive_avg_pool1d")
    check([x1, 4], dtype, tol, name="adaptive_max_pool1d")


def test_max_pool_returns():
    x = fastdl.arange(6.0).view(1, 6)
    assert isinstance(fastdl.max_pool1d(x, 2), fastdl.Tensor)
    values, indices = fastdl.max_pool1d_with_indices(x, 2)
    assert indices.dtype == fastdl.int64 and indices.tolist() == [[1, 3, 5]]
    values, indices = fastdl.adaptive_max_pool1d(x, 3)
    assert indices.tolist() == torch.adaptive_max_pool1d(torch.arange(6.0).view(1, 6), 3)[1]\
        .tolist()


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_normalizations(dtype, tol):
    rng = np.random.default_rng(2)
    x = rand(rng, 3, 4, 5)
    check([x, (5,), rand(rng, 5), rand(rng, 5), 1e-5, True], dtype, tol, name="layer_norm")
    check([x, [4, 5]], dtype, tol, name="layer_norm")
    check([x, 2, rand(rng, 4), rand(rng, 4), 1e-3, False], dtype, tol, name="group_norm")
    check([x, 4], dtype, tol, name="group_norm")
    check([x, rand(rng, 4), rand(rng, 4), None, None, True, 0.1, 1e-5, False], dtype, tol,
          name="batch_norm")
    check([x, None, None, None, None, True, 0.1, 1e-5, True], dtype, tol, name="batch_norm")
    check([x, rand(rng, 4), None, None, None, True, 0.1, 1e-5, False], dtype, tol,
          name="instance_norm")


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_norms_update_running_stats(dtype, tol):
    rng = np.random.default_rng(3)
    x = rand(rng, 6, 3, 4).astype(dtype)
    stats = rng.random(3).astype(dtype), (rng.random(3) + 0.5).astype(dtype)
    fm, fv = fastdl.tensor(stats[0].copy()), fastdl.tensor(stats[1].copy())
    tm, tv = torch.tensor(stats[0].copy()), torch.tensor(stats[1].copy())
    got = fastdl.batch_norm(fastdl.tensor(x), None, None, fm, fv, True, 0.3, 1e-5, False)
    want = torch.batch_norm(torch.tensor(x), None, None, tm, tv, True, 0.3, 1e-5, False)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fm.numpy(), tm.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fv.numpy(), tv.numpy(), rtol=tol, atol=tol)
    # eval mode reads the running statistics
    got = fastdl.batch_norm(fastdl.tensor(x), None, None, fm, fv, False, 0.3, 1e-5, False)
    want = torch.batch_norm(torch.tensor(x), None, None, tm, tv, False, 0.3, 1e-5, False)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
    got = fastdl.instance_norm(fastdl.tensor(x), None, None, fm, fv, True, 0.5, 1e-5, False)
    want = torch.instance_norm(torch.tensor(x), None, None, tm, tv, True, 0.5, 1e-5, False)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fm.numpy(), tm.numpy(), rtol=tol, atol=tol)


def test_layer_norm_wants_a_shape_sequence():
    with pytest.raises(TypeError, match="normalized_shape"):
        fastdl.layer_norm(fastdl.ones(2, 3), 3)


def test_dropouts():
    x = fastdl.ones(4, 5, 6)
    assert fastdl.equal(fastdl.dropout(x, 0.5, False), x)
    y = fastdl.dropout(x, 0.5, True)
    assert set(np.unique(y.numpy())) <= {0.0, 2.0}
    z = fastdl.feature_dropout(x, 0.5, True)
    per_channel = z.numpy().reshape(20, 6)
    assert (per_channel == per_channel[:, :1]).all()
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    w = fastdl.ones(3, 4)
    assert fastdl.dropout_(w, 1.0, True) is w and w.sum().item() == 0.0
    w = fastdl.ones(3, 4)
    assert fastdl.feature_dropout_(w, 0.0, True) is w and w.sum().item() == 12.0
    v = fastdl.ones(3, requires_grad=True)
    fastdl.dropout(v, 0.25, True).sum().backward()
    assert set(np.unique(v.grad.numpy())) <= {0.0, np.float32(1 / 0.75)}


def test_dropout_errors_like_torch():
    for fn in (fastdl.dropout, fastdl.feature_dropout, fastdl.dropout_, fastdl.feature_dropout_):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            fn(fastdl.ones(2, 2), 1.5, True)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        fastdl.feature_dropout(fastdl.ones(3), 0.5, True)
    assert fastdl.feature_dropout(fastdl.ones(3), 0.5, False).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("padding_idx,scale", [(-1, False), (1, False), (-3, False),
                                               (-1, True), (2, True)])
def test_embedding_weight_first(dtype, tol, padding_idx, scale):
    rng = np.random.default_rng(4)
    idx = np.array([[0, 1, 1], [3, 2, 1]])
    check([rand(rng, 5, 3), idx, padding_idx, scale], dtype, tol, name="embedding")


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_bilinear(dtype, tol):
    rng = np.random.default_rng(5)
    check([rand(rng, 4, 3), rand(rng, 4, 2), rand(rng, 5, 3, 2), rand(rng, 5)], dtype, tol,
          name="bilinear")
    check([rand(rng, 4, 3), rand(rng, 4, 2), rand(rng, 5, 3, 2)], dtype, tol, name="bilinear")


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", [0, 1, 2, 5])
def test_losses_with_the_reduction_enum(dtype, tol, reduction):
    rng = np.random.default_rng(6)
    x, y = rand(rng, 4, 3), rand(rng, 4, 3)
    sign = np.where(rng.random(4) > 0.5, 1.0, -1.0)
    probs = rng.random((4, 3))
    logp = np.log(probs / probs.sum(1, keepdims=True))
    check([logp, np.abs(y), reduction], dtype, tol, name="kl_div")
    check([logp, logp * 0.5, reduction], dtype, tol, name="kl_div", log_target=True)
    check([x, y, sign, 0.1, reduction], dtype, tol, name="cosine_embedding_loss",
          const=(2,))
    check([x, np.where(y > 0, 1.0, -1.0), 0.7, reduction], dtype, tol,
          name="hinge_embedding_loss", const=(1,))
    check([x[:, 0], y[:, 0], sign, 0.2, reduction], dtype, tol, name="margin_ranking_loss",
          const=(2,))
    check([x, np.abs(y), True, False, 1e-8, reduction], dtype, tol, name="poisson_nll_loss")
    check([np.abs(x) + 0.1, np.abs(y), False, True, 1e-8, reduction], dtype, tol,
          name="poisson_nll_loss")
    check([x, y, rand(rng, 4, 3), 1.0, 2.0, 1e-6, False, reduction], dtype, tol,
          name="triplet_margin_loss")
    check([x, y, rand(rng, 4, 3), 0.5, 1.0, 1e-6, True, reduction], dtype, tol,
          name="triplet_margin_loss")
    check([x, rng.random((4, 3)), None, None, reduction], dtype, tol,
          name="binary_cross_entropy_with_logits")
    check([x, rng.random((4, 3)), rng.random((4, 3)), rng.random(3) + 0.5, reduction], dtype,
          tol, name="binary_cross_entropy_with_logits", const=(2, 3))


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_ctc_loss(dtype, tol, reduction):
    rng = np.random.default_rng(7)
    T, N, C = 8, 3, 5
    logits = rand(rng, T, N, C)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = rng.integers(1, C, size=(N, 4))
    check([logp, targets, [8, 7, 6], [4, 2, 3], 0, reduction], dtype, tol, name="ctc_loss")
    check([logp, targets, np.array([8, 8, 5]), np.array([3, 4, 1]), 0, reduction, True],
          dtype, tol, name="ctc_loss")


def test_losses_take_an_int_reduction_only():
    x = fastdl.zeros(2)
    for call in (lambda: fastdl.kl_div(x, x, "mean"),
                 lambda: fastdl.hinge_embedding_loss(x, x, 1.0, "sum"),
                 lambda: fastdl.binary_cross_entropy_with_logits(x, x, None, None, True)):
        with pytest.raises(TypeError, match="reduction"):
            call()
    with pytest.raises(TypeError):
        fastdl.poisson_nll_loss(x, x)  # every argument is required, as torch's
