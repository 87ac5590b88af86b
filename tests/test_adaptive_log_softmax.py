"""nn.AdaptiveLogSoftmaxWithLoss against torch 2.13 (torch's state_dict loaded into fastdl's)."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def _pair(in_features, n_classes, cutoffs, dtype, **kwargs):
    torch.manual_seed(0)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, **kwargs)
    fm = fastdl.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, **kwargs)
    tm = tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    if dtype == np.float64:
        fm = fm.double()
    tsd, fsd = tm.state_dict(), fm.state_dict()
    assert list(fsd) == list(tsd)
    assert all(tuple(fsd[k].shape) == tuple(tsd[k].shape) for k in tsd)
    fm.load_state_dict({k: fastdl.tensor(v.numpy()) for k, v in tsd.items()})
    return tm, fm


CONFIGS = [(8, 20, [3, 9, 15], dict(div_value=2.0, head_bias=True)),
           (16, 10, [4], {}), (5, 7, [1, 2, 3, 4, 5, 6], dict(div_value=1.0))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_loss_gradients_log_prob_predict(cfg, dtype):
    in_features, n_classes, cutoffs, kwargs = cfg
    tm, fm = _pair(in_features, n_classes, cutoffs, dtype, **kwargs)
    r = np.random.default_rng(n_classes)
    x = r.standard_normal((9, in_features)).astype(dtype)
    y = r.integers(0, n_classes, 9)
    y[:2] = [0, n_classes - 1]
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    to, fo = tm(tx, torch.tensor(y)), fm(fx, fastdl.tensor(y))
    assert type(fo).__name__ == "_ASMoutput" and fo._fields == ("output", "loss")
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fo.output.detach().numpy(), to.output.detach().numpy(), **tol)
    np.testing.assert_allclose(fo.loss.item(), to.loss.item(), **tol)
    to.loss.backward()
    fo.loss.backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), **tol)
    fparams = dict(fm.named_parameters())
    for name, p in tm.named_parameters():
        if p.grad is None:  # a cluster no target falls in: torch leaves it without a gradient
            g = fparams[name].grad
            assert g is None or not g.numpy().any()
            continue
        np.testing.assert_allclose(fparams[name].grad.numpy(), p.grad.numpy(), **tol)
    np.testing.assert_allclose(fm.log_prob(fx).detach().numpy(),
                               tm.log_prob(tx).detach().numpy(), **tol)
    np.testing.assert_array_equal(fm.predict(fx).numpy(), tm.predict(tx).numpy())


def test_predict_paths_all_shortlist_all_clusters_and_mixed():
    tm, fm = _pair(4, 6, [2], np.float64, head_bias=True)
    x = np.random.default_rng(0).standard_normal((12, 4))
    with torch.no_grad():
        for bias in ([9.0, 0.0, -9.0], [-9.0, -9.0, 9.0], [0.0, 0.0, 0.0]):
            tm.head.bias.copy_(torch.tensor(bias))
            fm.head.bias.data = fastdl.tensor(np.array(bias))
            want = tm.predict(torch.tensor(x)).numpy()
            np.testing.assert_array_equal(fm.predict(fastdl.tensor(x)).numpy(), want)
            np.testing.assert_array_equal(fm.log_prob(fastdl.tensor(x)).argmax(1).numpy(), want)


def test_unbatched_and_empty():
    tm, fm = _pair(6, 8, [2, 5], np.float64)
    x = np.random.default_rng(1).standard_normal(6)
    to, fo = tm(torch.tensor(x), torch.tensor(6)), fm(fastdl.tensor(x), fastdl.tensor(6))
    assert fo.output.shape == () and fo.loss.shape == ()
    np.testing.assert_allclose(fo.output.item(), to.output.item(), rtol=1e-12)
    e = fm(fastdl.zeros(0, 6, dtype=fastdl.float64), fastdl.zeros(0, dtype=fastdl.int64))
    assert e.output.shape == (0,) and np.isnan(e.loss.item())


@pytest.mark.parametrize("x_shape,y", [((3, 6), [0, 1]), ((3, 2, 6), [0, 1, 2]),
                                       ((3, 6), 1), ((6,), [[1]]), ((3, 6), [0, 8, 1]),
                                       ((3, 6), [0, -1, 1])])
def test_forward_errors_match_torch(x_shape, y):
    tm, fm = _pair(6, 8, [2, 5], np.float32)
    x = np.zeros(x_shape, np.float32)
    with pytest.raises(RuntimeError) as want:
        tm(torch.tensor(x), torch.tensor(y))
    with pytest.raises(RuntimeError) as got:
        fm(fastdl.tensor(x), fastdl.tensor(y))
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("cutoffs", [[], [3, 2], [0, 2], [2, 8], [2, 2], [1.5]])
def test_constructor_errors_match_torch(cutoffs):
    with pytest.raises(ValueError) as want:
        torch.nn.AdaptiveLogSoftmaxWithLoss(4, 8, cutoffs)
    with pytest.raises(ValueError) as got:
        fastdl.nn.AdaptiveLogSoftmaxWithLoss(4, 8, cutoffs)
    assert str(got.value) == str(want.value)


def test_trains():
    fastdl.manual_seed(0)
    m = fastdl.nn.AdaptiveLogSoftmaxWithLoss(16, 12, [4, 8], div_value=2.0)
    opt = fastdl.optim.Adam(m.parameters(), lr=0.05)
    x, y = fastdl.randn(32, 16), fastdl.tensor(np.arange(32) % 12)
    first = m(x, y).loss.item()
    for _ in range(150):
        opt.zero_grad()
        loss = m(x, y).loss
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
