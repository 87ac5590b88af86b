"""nn.utils.parametrizations.orthogonal and fastdl.geqrf against torch 2.13: the initial
orthogonalization, every map on square, tall, wide and batched weights, with and without the
trivialization, gradients of the original, assignment, state dict keys and errors."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn.utils import parametrizations as P

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrizations


class _Holder(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = nn.Parameter(fastdl.tensor(w))


class _TorchHolder(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(w))


def _pair(shape, seed, **kwargs):
    w = np.random.default_rng(seed).standard_normal(shape)
    ours, theirs = _Holder(w), _TorchHolder(w)
    P.orthogonal(ours, **kwargs)
    TP.orthogonal(theirs, **kwargs)
    return ours, theirs


def _copy_state(ours, theirs):
    """torch's parametrization state (original, base) into ours: random completions of a
    non-square base differ between the libraries' generators."""
    for key, value in theirs.state_dict().items():
        target = dict(ours.named_parameters()).get(key)
        if target is None:
            target = dict(ours.named_buffers())[key]
        target.data[...] = value.detach().numpy()


def _orthonormality_error(w):
    n, k = w.shape[-2:]
    if n < k:
        w = np.swapaxes(w, -1, -2)
        k = n
    return np.abs(np.swapaxes(w, -1, -2) @ w - np.eye(k)).max()


SHAPES = [(4, 4), (6, 3), (3, 6), (2, 4, 4), (2, 5, 2)]
MAPS = ["matrix_exp", "cayley", "householder"]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("orthogonal_map", MAPS + [None])
@pytest.mark.parametrize("trivialization", [True, False])
def test_weight_and_gradient_match_torch(shape, orthogonal_map, trivialization):
    ours, theirs = _pair(shape, 1, orthogonal_map=orthogonal_map,
                         use_trivialization=trivialization)
    assert sorted(k for k, _ in ours.state_dict().items()) == sorted(theirs.state_dict())
    if shape[-1] == shape[-2] or not trivialization:  # no random completion of the base
        np.testing.assert_allclose(ours.weight.detach().numpy(),
                                   theirs.weight.detach().numpy(), rtol=1e-9, atol=1e-10)
    # a trained original: both libraries from the same state (the diagonal +-1, what the
    # householder map reads as signs; the other maps cancel it)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 0.5
    m = min(shape[-2:])
    x[..., np.arange(m), np.arange(m)] = rng.choice([-1.0, 1.0], size=shape[:-2] + (m,))
    with torch.no_grad():
        theirs.parametrizations.weight.original.copy_(torch.tensor(x))
    _copy_state(ours, theirs)
    w_ours, w_theirs = ours.weight, theirs.weight
    np.testing.assert_allclose(w_ours.detach().numpy(), w_theirs.detach().numpy(),
                               rtol=1e-9, atol=1e-10)
    assert _orthonormality_error(w_ours.detach().numpy()) < 1e-10
    g = np.random.default_rng(3).standard_normal(shape)
    (w_ours * fastdl.tensor(g)).sum().backward()
    (w_theirs * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.parametrizations.weight.original.grad.numpy(),
                               theirs.parametrizations.weight.original.grad.numpy(),
                               rtol=1e-8, atol=1e-10)


def test_exp_and_cayley_without_trivialization():
    for orthogonal_map in ("matrix_exp", "cayley"):
        ours, theirs = _pair((4, 4), 5, orthogonal_map=orthogonal_map, use_trivialization=False)
        # the original is kept (right_inverse cannot invert these maps): the same weight
        np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                                   rtol=1e-9, atol=1e-10)
        with pytest.raises(NotImplementedError, match="use_trivialization=False"):
            ours.weight = fastdl.eye(4, dtype=fastdl.float64)


def test_an_orthogonal_weight_is_kept():
    q = np.linalg.qr(np.random.default_rng(6).standard_normal((5, 5)))[0]
    m = _Holder(q)
    P.orthogonal(m)
    np.testing.assert_allclose(m.weight.detach().numpy(), q, atol=1e-12)


@pytest.mark.parametrize("orthogonal_map", MAPS)
def test_assigning_a_weight(orthogonal_map):
    ours, theirs = _pair((5, 3), 7, orthogonal_map=orthogonal_map)
    target = np.linalg.qr(np.random.default_rng(8).standard_normal((5, 3)))[0]
    ours.weight = fastdl.tensor(target)
    np.testing.assert_allclose(ours.weight.detach().numpy(), target, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        ours.weight = fastdl.zeros(3, 5, dtype=fastdl.float64)


def test_float32_and_training_keeps_orthogonality():
    layer = P.orthogonal(nn.Linear(6, 4))
    opt = fastdl.optim.SGD(layer.parameters(), lr=0.1)
    x = fastdl.randn(8, 6)
    for _ in range(5):
        opt.zero_grad()
        layer(x).square().sum().backward()
        opt.step()
    w = layer.weight.detach().numpy()
    assert w.dtype == np.float32
    assert _orthonormality_error(w.astype(np.float64)) < 1e-5


def test_errors_match_torch():
    with pytest.raises(ValueError, match="no parameter or buffer with name 'w'"):
        P.orthogonal(nn.Linear(3, 3), "w")
    with pytest.raises(ValueError, match="Expected a matrix"):
        P.orthogonal(nn.Linear(3, 3), "bias")
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        P.orthogonal(nn.Linear(3, 3), orthogonal_map="qr")


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 6, 4), (0, 3), (3, 0), (2, 0, 3)],
                         ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_geqrf_matches_torch(shape, dtype):
    a = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    ours, theirs = fastdl.geqrf(fastdl.tensor(a)), torch.geqrf(torch.tensor(a))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.a.numpy(), theirs.a.numpy(), **tol)
    np.testing.assert_allclose(ours.tau.numpy(), theirs.tau.numpy(), **tol)
    assert ours.a.dtype == ours.tau.dtype == fastdl.tensor(a).dtype
    q = fastdl.linalg.householder_product(ours.a, ours.tau).numpy() if 0 not in shape[-2:] \
        and shape[-2] >= shape[-1] else None
    if q is not None:  # Q R = A
        r = np.triu(ours.a.numpy())[..., :shape[-1], :]
        np.testing.assert_allclose(q @ r, a, **tol)


def test_geqrf_errors_and_no_gradient_history():
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        fastdl.geqrf(fastdl.ones(3))
    with pytest.raises(NotImplementedError, match="geqrf_cpu"):
        fastdl.geqrf(fastdl.ones(2, 2, dtype=fastdl.int64))
    out = fastdl.randn(3, 3, requires_grad=True).geqrf()
    assert type(out).__name__ == "geqrf" and out._fields == ("a", "tau")
    assert not out.a.requires_grad and not out.tau.requires_grad
