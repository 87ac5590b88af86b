"""fastdl.linalg.householder_product / fastdl.orgqr / Tensor.orgqr against torch 2.13."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")

CASES = [((5, 3), 2), ((4, 4), 4), ((3, 3, 2), 1), ((2, 1, 6, 5), 5), ((7, 1), 1), ((3, 2), 0),
         ((0, 0), 0), ((4, 0), 0), ((0, 3, 2), 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k", CASES)
def test_values_and_gradients_match_torch(shape, k, dtype):
    r = np.random.default_rng(hash((shape, k)) % 2**32)
    a = r.uniform(-2, 2, shape).astype(dtype)
    tau = r.uniform(-2, 2, shape[:-2] + (k,)).astype(dtype)
    ta, tt = torch.tensor(a, requires_grad=True), torch.tensor(tau, requires_grad=True)
    fa, ft = fastdl.tensor(a, requires_grad=True), fastdl.tensor(tau, requires_grad=True)
    want = torch.linalg.householder_product(ta, tt)
    got = fastdl.linalg.householder_product(fa, ft)
    assert got.dtype == fastdl.tensor(a).dtype and tuple(got.shape) == tuple(want.shape)
    rtol, atol = (1e-5, 1e-5) if dtype == np.float32 else (1e-12, 1e-12)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=rtol, atol=atol)
    w = r.standard_normal(want.shape).astype(dtype)
    (want * torch.tensor(w)).sum().backward()
    (got * fastdl.tensor(w)).sum().backward()
    if ta.grad is None:  # empty results: torch leaves the gradients undefined, fastdl zero
        for g, x in ((fa.grad, a), (ft.grad, tau)):
            assert g is None or (g.shape == x.shape and not g.numpy().any())
        return
    scale = max(1.0, float(np.abs(ta.grad.numpy()).max(initial=0)))
    for g, t in ((fa.grad, ta.grad), (ft.grad, tt.grad)):
        assert g is not None and g.shape == t.shape
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=rtol, atol=atol * 10 * scale)


def test_float32_error_no_worse_than_twice_torch():
    r = np.random.default_rng(0)
    a = r.uniform(-2, 2, (3, 12, 9))
    tau = r.uniform(-2, 2, (3, 9))
    ref = torch.linalg.householder_product(torch.tensor(a), torch.tensor(tau)).numpy()
    t32 = torch.linalg.householder_product(torch.tensor(a).float(), torch.tensor(tau).float())
    f32 = fastdl.linalg.householder_product(fastdl.tensor(a.astype(np.float32)),
                                            fastdl.tensor(tau.astype(np.float32)))
    err_t = np.abs(t32.numpy() - ref).max()
    err_f = np.abs(f32.numpy() - ref).max()
    assert err_f <= 2 * err_t + 1e-6


def test_result_is_orthonormal_for_qr_reflectors():
    # geqrf's reflectors give the Q of the QR factorization (reflector taus 2 / |v|^2)
    r = np.random.default_rng(1)
    a = torch.tensor(r.standard_normal((6, 4)))
    refl, tau = torch.geqrf(a)
    q = fastdl.linalg.householder_product(fastdl.tensor(refl.numpy()), fastdl.tensor(tau.numpy()))
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(q.numpy(), torch.linalg.qr(a)[0].numpy() * np.sign(
        np.diag(torch.linalg.qr(a)[1].numpy())) * np.sign(np.diag(torch.geqrf(a)[0].numpy())),
        atol=1e-12)


def test_gradcheck_float64():
    r = np.random.default_rng(2)
    a = fastdl.tensor(r.uniform(-1, 1, (2, 5, 3)), requires_grad=True)
    tau = fastdl.tensor(r.uniform(-1, 1, (2, 3)), requires_grad=True)
    assert gradcheck(fastdl.linalg.householder_product, (a, tau))


def test_second_derivative_matches_torch():
    r = np.random.default_rng(3)
    a, tau = r.uniform(-1, 1, (4, 3)), r.uniform(-1, 1, (2,))
    ta, tt = torch.tensor(a, requires_grad=True), torch.tensor(tau, requires_grad=True)
    fa, ft = fastdl.tensor(a, requires_grad=True), fastdl.tensor(tau, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.linalg.householder_product(ta, tt).pow(2).sum() +
                                torch.linalg.householder_product(ta, tt)[0, 0], tt,
                                create_graph=True)
    (gf,) = fastdl.autograd.grad(fastdl.linalg.householder_product(fa, ft).pow(2).sum() +
                                 fastdl.linalg.householder_product(fa, ft)[0, 0], ft,
                                 create_graph=True)
    np.testing.assert_allclose(gf.detach().numpy(), gt.detach().numpy(), atol=1e-12)
    (gt.sum()).backward()
    (gf.sum()).backward()
    np.testing.assert_allclose(fa.grad.numpy(), ta.grad.numpy(), atol=1e-12)


def test_aliases():
    r = np.random.default_rng(4)
    a, tau = r.standard_normal((5, 3)), r.standard_normal((3,))
    want = torch.orgqr(torch.tensor(a), torch.tensor(tau)).numpy()
    np.testing.assert_allclose(fastdl.orgqr(fastdl.tensor(a), fastdl.tensor(tau)).numpy(), want,
                               atol=1e-12)
    np.testing.assert_allclose(fastdl.tensor(a).orgqr(fastdl.tensor(tau)).numpy(), want,
                               atol=1e-12)


ERRORS = [((3,), (2,), np.float32), ((3, 4), (2,), np.float32), ((4, 3), (4,), np.float32),
          ((4, 3), (2, 2), np.float32), ((2, 4, 3), (3, 2), np.float32)]


@pytest.mark.parametrize("ashape,tshape,tdt", ERRORS)
def test_errors_match_torch(ashape, tshape, tdt):
    a, tau = np.ones(ashape, np.float32), np.ones(tshape, tdt)
    with pytest.raises(RuntimeError) as want:
        torch.linalg.householder_product(torch.tensor(a), torch.tensor(tau))
    with pytest.raises(RuntimeError) as got:
        fastdl.linalg.householder_product(fastdl.tensor(a), fastdl.tensor(tau))
    assert str(got.value) == str(want.value)


def test_dtype_errors():
    a = np.ones((4, 3))
    with pytest.raises(RuntimeError, match="tau dtype Double does not match input dtype Float"):
        fastdl.linalg.householder_product(fastdl.tensor(a.astype(np.float32)),
                                          fastdl.tensor(np.ones(2)))
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        fastdl.linalg.householder_product(fastdl.tensor(a.astype(np.int64)),
                                          fastdl.tensor(np.ones(2, np.int64)))
    with pytest.raises(TypeError, match="expected Tensors"):
        fastdl.linalg.householder_product(a, fastdl.tensor(np.ones(2)))
