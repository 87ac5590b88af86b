"""nn.LazyInstanceNorm1d/2d/3d against torch 2.13 (defaults, inferred num_features, reprs,
state_dict loading, outputs and gradients in train and eval)."""
import numpy as np
import pytest

import fastdl
from fastdl import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Lazy modules are a new feature")


def _twins(name, kwargs, dtype=np.float32):
    # the dtype is given at construction: fastdl's .double() does not convert lazy parameters
    double = dtype == np.float64
    theirs = getattr(torch.nn, name)(**kwargs, dtype=torch.float64 if double else None)
    ours = getattr(nn, name)(**kwargs, dtype=fastdl.float64 if double else None)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs,shape", [
    ("LazyInstanceNorm1d", {}, (2, 3, 5)), ("LazyInstanceNorm1d", {"affine": False}, (4, 2, 7)),
    ("LazyInstanceNorm2d", {"momentum": 0.3}, (3, 5, 4, 2)),
    ("LazyInstanceNorm2d", {"track_running_stats": False}, (3, 5, 4, 2)),
    ("LazyInstanceNorm2d", {"affine": False, "track_running_stats": False}, (2, 3, 3, 3)),
    ("LazyInstanceNorm3d", {"eps": 1e-3}, (2, 3, 2, 3, 2))])
def test_infers_num_features_and_matches_torch(name, kwargs, shape, dtype):
    ours, theirs = _twins(name, kwargs, dtype)
    r = np.random.default_rng(len(shape))
    x = r.standard_normal(shape).astype(dtype)
    w = r.standard_normal(shape).astype(dtype)
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    to, fo = theirs(tx), ours(fx)
    assert type(ours).__name__ == type(theirs).__name__ == name[4:]
    assert ours.num_features == theirs.num_features
    assert repr(ours) == repr(theirs)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), **tol)
    (to * torch.tensor(w)).sum().backward()
    (fo * fastdl.tensor(w)).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), **tol)
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=k, **tol)
    tsd = theirs.state_dict()
    assert list(ours.state_dict()) == list(tsd)
    for k, v in tsd.items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), err_msg=k, **tol)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(fastdl.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), **tol)


def test_loading_torch_state_dict_materializes():
    source = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
    source(torch.randn(3, 4, 5, 5))
    m = nn.LazyInstanceNorm2d()
    assert isinstance(m.weight, nn.UninitializedParameter)
    assert isinstance(m.running_mean, nn.UninitializedBuffer)
    m.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    assert m.num_features == 4
    m.eval(), source.eval()
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(m(fastdl.tensor(x)).detach().numpy(),
                               source(torch.tensor(x)).detach().numpy(), rtol=2e-5, atol=2e-5)
    assert type(m) is nn.InstanceNorm2d


def test_unbatched_input_reads_features_at_dim_0():
    # torch reads dim 1 (the length) here and then rejects its own module; fastdl reads C
    m = nn.LazyInstanceNorm1d()
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    out = m(fastdl.tensor(x))
    assert m.num_features == 3 and m.weight.shape == (3,)
    eager = torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    np.testing.assert_allclose(out.detach().numpy(), eager(torch.tensor(x)).detach().numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("name,shape", [("LazyInstanceNorm1d", (2, 3, 4, 5)),
                                        ("LazyInstanceNorm2d", (3, 4)),
                                        ("LazyInstanceNorm3d", (2, 3, 4))])
def test_rank_errors_like_torch(name, shape):
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError):
        getattr(torch.nn, name)()(torch.tensor(x))
    with pytest.raises(ValueError):
        getattr(nn, name)()(fastdl.tensor(x))
