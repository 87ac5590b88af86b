"""fastdl.autograd.functional against torch.autograd.functional: values, tuple nesting,
create_graph, strict, and the gradcheck aliases."""
import numpy as np
import pytest

import fastdl
from fastdl.autograd import functional as AF
from fastdl.tensor import Tensor

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG_SEED = 20261130


def _inputs(*shapes, dtype=np.float64):
    rng = np.random.default_rng(RNG_SEED)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return tuple(Tensor(a.copy()) for a in arrays), tuple(torch.from_numpy(a.copy())
                                                          for a in arrays)


def _close(ours, theirs, rtol=1e-10):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _close(a, b, rtol)
        return
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=1e-12)


def _single(x, lib):
    return lib.tanh(x) * x.sum() + x ** 3


def _pair_to_pair(x, y, lib):
    return (x * y.sum() + lib.sin(x), (x ** 2).sum() * y)


def _scalar(x, y, lib):
    return (lib.exp(x * 0.3) * y.sum()).sum() + (x ** 2).sum() * (y ** 3).sum()


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_jacobian_matches_torch(dtype, rtol):
    ours, theirs = _inputs((3, 2), (4,), dtype=dtype)
    _close(AF.jacobian(lambda x: _single(x, fastdl), ours[0]),
           TF.jacobian(lambda x: _single(x, torch), theirs[0]), rtol)
    _close(AF.jacobian(lambda x, y: _pair_to_pair(x, y, fastdl), ours),
           TF.jacobian(lambda x, y: _pair_to_pair(x, y, torch), theirs), rtol)
    # one tuple input, one output: a tuple with one entry per input
    _close(AF.jacobian(lambda x, y: x * y.sum(), ours, vectorize=True),
           TF.jacobian(lambda x, y: x * y.sum(), theirs, vectorize=True), rtol)


def test_hessian_matches_torch():
    ours, theirs = _inputs((3,), (2, 2))
    _close(AF.hessian(lambda x, y: _scalar(x, y, fastdl), ours),
           TF.hessian(lambda x, y: _scalar(x, y, torch), theirs))
    _close(AF.hessian(lambda x: (fastdl.tanh(x) * x).sum(), ours[0]),
           TF.hessian(lambda x: (torch.tanh(x) * x).sum(), theirs[0]))


def test_vjp_jvp_vhp_hvp_match_torch():
    ours, theirs = _inputs((3, 2), (4,))
    v_ours, v_theirs = _inputs((3, 2), (4,))
    outputs = _inputs((3, 2), (4,))
    _close(AF.vjp(lambda x, y: _pair_to_pair(x, y, fastdl), ours, outputs[0]),
           TF.vjp(lambda x, y: _pair_to_pair(x, y, torch), theirs, outputs[1]))
    _close(AF.jvp(lambda x, y: _pair_to_pair(x, y, fastdl), ours, v_ours),
           TF.jvp(lambda x, y: _pair_to_pair(x, y, torch), theirs, v_theirs))
    for ours_fn, theirs_fn in ((AF.vhp, TF.vhp), (AF.hvp, TF.hvp)):
        _close(ours_fn(lambda x, y: _scalar(x, y, fastdl), ours, v_ours),
               theirs_fn(lambda x, y: _scalar(x, y, torch), theirs, v_theirs))
    # a single-element output needs no v
    _close(AF.vjp(lambda x: (x ** 2).sum(), ours[0]), TF.vjp(lambda x: (x ** 2).sum(), theirs[0]))


def test_create_graph_keeps_the_graph_and_default_detaches():
    ours, theirs = _inputs((3,))
    x, x_torch = ours[0].requires_grad_(True), theirs[0].requires_grad_(True)
    jac = AF.jacobian(lambda a: a ** 3, x, create_graph=True)
    jac_torch = TF.jacobian(lambda a: a ** 3, x_torch, create_graph=True)
    assert jac.requires_grad and jac_torch.requires_grad
    jac.sum().backward()
    jac_torch.sum().backward()
    _close(x.grad, x_torch.grad)
    assert not AF.jacobian(lambda a: a ** 3, x).requires_grad


def test_independent_input_is_zero_or_strict_error():
    ours, theirs = _inputs((3,), (2,))
    _close(AF.jacobian(lambda x, y: x * 2, ours), TF.jacobian(lambda x, y: x * 2, theirs))
    message = "is independent of input 1. This is not allowed in strict mode."
    with pytest.raises(RuntimeError, match=message):
        TF.jacobian(lambda x, y: x * 2, theirs, strict=True)
    with pytest.raises(RuntimeError, match=message):
        AF.jacobian(lambda x, y: x * 2, ours, strict=True)


def test_argument_errors_match_torch():
    ours, theirs = _inputs((3,))
    for lib, x in ((TF, theirs[0]), (AF, ours[0])):
        with pytest.raises(RuntimeError, match="v can only be None if the user-provided "
                                               "function returns a single Tensor with a "
                                               "single element"):
            lib.vjp(lambda a: a * 2, x)
        with pytest.raises(RuntimeError, match="should contain a single element"):
            lib.hessian(lambda a: a * 2, x)
        with pytest.raises(AssertionError, match='Expected strategy to be either "forward-mode"'):
            lib.jacobian(lambda a: a * 2, x, strategy="sideways")
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(lambda a: a, [ours[0]])


def test_gradcheck_aliases():
    assert fastdl.autograd.gradcheck is fastdl.testing.gradcheck
    assert fastdl.autograd.gradgradcheck is fastdl.testing.gradgradcheck
    x = Tensor(np.random.default_rng(RNG_SEED).standard_normal(4), requires_grad=True)
    assert fastdl.autograd.gradgradcheck(lambda a: (a ** 3).sum(), (x,))
