"""fastdl.linalg and the top-level linear-algebra functions against torch 2.13: values (or
invariants, where a factorization is unique only up to signs), gradients of gauge-invariant
losses, float64 gradchecks (and gradgradchecks), and torch's errors for singular, not
positive-definite and wrongly shaped inputs."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl.testing import gradcheck, gradgradcheck

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run


def _square(batch, n, spd=False, dtype=np.float64):
    a = rng.standard_normal(batch + (n, n))
    a = a @ np.swapaxes(a, -1, -2) + n * np.eye(n) if spd else a + 2 * n ** 0.5 * np.eye(n)
    return a.astype(dtype)


def _pair(a):
    return (fastdl.tensor(a.copy(), requires_grad=True),
            torch.tensor(a.copy(), requires_grad=True))


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)


def _compare(f_fn, t_fn, arrays, dtype=np.float64):
    pairs = [_pair(a) for a in arrays]
    out = f_fn(*[p[0] for p in pairs])
    ref = t_fn(*[p[1] for p in pairs])
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **_tol(dtype))
    w = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    (out * fastdl.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for f, t in pairs:
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), **_tol(dtype))


L, T = fastdl.linalg, torch.linalg
SQUARE_CASES = {
    "det": (L.det, T.det), "inv": (L.inv, T.inv), "logabsdet": (
        lambda a: L.slogdet(a).logabsdet, lambda a: T.slogdet(a).logabsdet),
    "matrix_exp": (L.matrix_exp, T.matrix_exp),
    "matrix_power3": (lambda a: L.matrix_power(a, 3), lambda a: T.matrix_power(a, 3)),
    "matrix_power-2": (lambda a: L.matrix_power(a, -2), lambda a: T.matrix_power(a, -2)),
    "fro": (L.matrix_norm, T.matrix_norm),
    "nuc": (lambda a: L.matrix_norm(a, "nuc"), lambda a: T.matrix_norm(a, "nuc")),
    "norm2": (lambda a: L.matrix_norm(a, 2), lambda a: T.matrix_norm(a, 2)),
    "norm1": (lambda a: L.matrix_norm(a, 1), lambda a: T.matrix_norm(a, 1)),
    "norminf": (lambda a: L.matrix_norm(a, float("inf")),
                lambda a: T.matrix_norm(a, float("inf"))),
    "cond": (L.cond, T.cond), "pinv": (L.pinv, T.pinv),
    "svdvals": (L.svdvals, T.svdvals),
    "logdet_top": (lambda a: fastdl.logdet(a @ a.mT), lambda a: torch.logdet(a @ a.mT)),
}
SPD_CASES = {
    "cholesky": (L.cholesky, T.cholesky),
    "cholesky_upper": (lambda a: L.cholesky(a, upper=True), lambda a: T.cholesky(a, upper=True)),
    "eigvalsh": (L.eigvalsh, T.eigvalsh),
    "cholesky_inverse": (lambda a: fastdl.cholesky_inverse(L.cholesky(a)),
                         lambda a: torch.cholesky_inverse(T.cholesky(a))),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [((), 1), ((), 3), ((2,), 3), ((2, 1), 4)])
@pytest.mark.parametrize("name", sorted(SQUARE_CASES))
def test_square_functions_match_torch(name, shape, dtype):
    f_fn, t_fn = SQUARE_CASES[name]
    _compare(f_fn, t_fn, [_square(*shape, dtype=dtype)], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [((), 1), ((), 3), ((2,), 4)])
@pytest.mark.parametrize("name", sorted(SPD_CASES))
def test_spd_functions_match_torch(name, shape, dtype):
    f_fn, t_fn = SPD_CASES[name]
    _compare(f_fn, t_fn, [_square(*shape, spd=True, dtype=dtype)], dtype)


@pytest.mark.parametrize("name", sorted(SQUARE_CASES))
def test_square_functions_gradcheck(name):
    f_fn = SQUARE_CASES[name][0]
    a = fastdl.tensor(_square((2,), 3), requires_grad=True)
    assert gradcheck(f_fn, [a])


@pytest.mark.parametrize("name", ["det", "inv", "logabsdet", "matrix_exp", "pinv", "fro"])
def test_square_functions_gradgradcheck(name):
    f_fn = SQUARE_CASES[name][0]
    assert gradgradcheck(f_fn, [fastdl.tensor(_square((), 3), requires_grad=True)])


@pytest.mark.parametrize("name", sorted(SPD_CASES))
def test_spd_functions_gradcheck(name):
    f_fn = SPD_CASES[name][0]
    a0 = _square((2,), 3, spd=True)
    # the input as a symmetric function of a free matrix: the derivative is then well defined
    assert gradcheck(lambda x: f_fn((x + x.mT) * 0.5), [fastdl.tensor(a0, requires_grad=True)])


def test_cholesky_gradgradcheck():
    a0 = _square((), 3, spd=True)
    assert gradgradcheck(lambda x: L.cholesky((x + x.mT) * 0.5),
                         [fastdl.tensor(a0, requires_grad=True)])


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("b_shape", [(3,), (3, 4), (2, 3, 4), (2, 3)])
def test_solve_matches_torch(b_shape, left):
    a = _square((2,), 3)
    if not left and len(b_shape) == 1 or not left and b_shape == (2, 3):
        pytest.skip("vector right-hand sides need left=True")
    b = rng.standard_normal(b_shape[:-2] + b_shape[-2:][::-1] if not left else b_shape)
    _compare(lambda x, y: L.solve(x, y, left=left), lambda x, y: T.solve(x, y, left=left),
             [a, b])
    assert gradcheck(lambda x, y: L.solve(x, y, left=left),
                     [fastdl.tensor(a, requires_grad=True), fastdl.tensor(b, requires_grad=True)])


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [True, False])
def test_solve_triangular(upper, left, unitriangular):
    a = _square((2,), 4)
    b = rng.standard_normal((2, 4, 3) if left else (2, 3, 4))
    kw = dict(upper=upper, left=left, unitriangular=unitriangular)
    _compare(lambda x, y: L.solve_triangular(x, y, **kw),
             lambda x, y: T.solve_triangular(x, y, **kw), [a, b])
    assert gradgradcheck(lambda x, y: L.solve_triangular(x, y, **kw),
                         [fastdl.tensor(a[0], requires_grad=True),
                          fastdl.tensor(b[0], requires_grad=True)])


@pytest.mark.parametrize("upper", [True, False])
def test_cholesky_solve_and_triangular_solve_top_level(upper):
    a = _square((2,), 3, spd=True)
    f = np.linalg.cholesky(a)
    f = np.swapaxes(f, -1, -2) if upper else f
    b = rng.standard_normal((2, 3, 2))
    _compare(lambda B, F: fastdl.cholesky_solve(B, F, upper),
             lambda B, F: torch.cholesky_solve(B, F, upper), [b, f])
    _compare(lambda B, F: fastdl.triangular_solve(B, F, upper).solution,
             lambda B, F: torch.triangular_solve(B, F, upper).solution, [b, f])


@pytest.mark.parametrize("mode", ["reduced", "complete"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (5, 2), (2, 5), (2, 4, 3)])
def test_qr_invariants_and_gradient(shape, mode):
    a = rng.standard_normal(shape)
    Q, R = L.qr(fastdl.tensor(a), mode)
    tQ, tR = T.qr(torch.tensor(a), mode)
    assert Q.shape == tuple(tQ.shape) and R.shape == tuple(tR.shape)
    np.testing.assert_allclose((Q @ R).numpy(), a, atol=1e-12)
    np.testing.assert_allclose(np.sign(np.diagonal(R.numpy(), 0, -2, -1)),
                               np.sign(np.diagonal(tR.numpy(), 0, -2, -1)))
    np.testing.assert_allclose(np.abs(R.numpy()), np.abs(tR.numpy()), atol=1e-12)
    if mode == "reduced" or shape[-2] <= shape[-1]:
        assert gradcheck(lambda x: tuple(L.qr(x, mode)), [fastdl.tensor(a, requires_grad=True)])


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (5, 2), (2, 5), (2, 4, 3)])
def test_svd_invariants_and_gauge_invariant_gradient(shape, full):
    a = rng.standard_normal(shape)
    U, S, Vh = L.svd(fastdl.tensor(a), full_matrices=full)
    tU, tS, tVh = T.svd(torch.tensor(a), full_matrices=full)
    assert (U.shape, S.shape, Vh.shape) == (tuple(tU.shape), tuple(tS.shape), tuple(tVh.shape))
    np.testing.assert_allclose(S.numpy(), tS.numpy(), rtol=1e-10)
    k = S.shape[-1]
    rebuilt = (U.numpy()[..., :k] * S.numpy()[..., None, :]) @ Vh.numpy()[..., :k, :]
    np.testing.assert_allclose(rebuilt, a, atol=1e-12)

    def gauge_invariant(x):  # U diag(S) Vh and |U|: sign-free functions of the factors
        u, s, vh = L.svd(x, full_matrices=False)
        return (u * s.unsqueeze(-2)) @ vh, u.abs().sum() + vh.abs().sum()
    assert gradcheck(gauge_invariant, [fastdl.tensor(a, requires_grad=True)])


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4)])
def test_eigh_values_vectors_and_gradient(shape):
    a = _square(shape[:-2], shape[-1], spd=True)
    w, v = L.eigh(fastdl.tensor(a))
    tw, tv = T.eigh(torch.tensor(a))
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(tv.numpy()), atol=1e-10)

    def gauge_invariant(x):
        w, v = L.eigh((x + x.mT) * 0.5)
        return w, v.abs()
    assert gradcheck(gauge_invariant, [fastdl.tensor(a, requires_grad=True)])
    x, t = _pair(a)
    ours, theirs = L.eigh(x), T.eigh(t)
    (ours[0].sum() + ours[1].abs().sum()).backward()
    (theirs[0].sum() + theirs[1].abs().sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (5, 2), (2, 5), (2, 4, 3)])
def test_pinv_and_lstsq(shape):
    a = rng.standard_normal(shape)
    _compare(L.pinv, T.pinv, [a])
    assert gradcheck(L.pinv, [fastdl.tensor(a, requires_grad=True)])
    if shape[-2] >= shape[-1]:
        b = rng.standard_normal(shape[:-1] + (2,))
        _compare(lambda x, y: L.lstsq(x, y).solution, lambda x, y: T.lstsq(x, y).solution,
                 [a, b])
        ours, theirs = L.lstsq(fastdl.tensor(a), fastdl.tensor(b)), \
            T.lstsq(torch.tensor(a), torch.tensor(b))
        assert ours.rank.tolist() == theirs.rank.tolist()
        assert ours.residuals.shape == tuple(theirs.residuals.shape)
        assert ours.singular_values.shape == tuple(theirs.singular_values.shape)


def test_lstsq_gelsd_fields():
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    ours = L.lstsq(fastdl.tensor(a), fastdl.tensor(b), driver="gelsd")
    theirs = T.lstsq(torch.tensor(a), torch.tensor(b), driver="gelsd")
    for f, t in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(f.numpy()), t.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, 0, float("inf"), -float("inf")])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_vector_norm(ord, dim):
    x = rng.standard_normal((2, 3, 4))
    if ord == 0:  # piecewise constant: torch leaves the gradient undefined, fastdl's is zero
        x0 = fastdl.tensor(x, requires_grad=True)
        out = L.vector_norm(x0, 0, dim)
        np.testing.assert_array_equal(out.detach().numpy(), T.vector_norm(torch.tensor(x), 0,
                                                                           dim).numpy())
        out.sum().backward()
        assert not x0.grad.numpy().any()
    else:
        _compare(lambda t: L.vector_norm(t, ord, dim), lambda t: T.vector_norm(t, ord, dim),
                 [x])
        assert gradcheck(lambda t: L.vector_norm(t, ord, dim),
                         [fastdl.tensor(x, requires_grad=True)])


def test_norm_subgradient_at_zero_like_torch():
    for ord in (2, 1, 3, float("inf")):
        x, t = _pair(np.zeros(4))
        L.vector_norm(x, ord).backward()
        T.vector_norm(t, ord).backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("args", [(None, None), (None, 1), ("fro", None), (2, None),
                                  ("nuc", (0, 1))])
def test_linalg_norm_dispatch(args):
    ord, dim = args
    x = rng.standard_normal((3, 4))
    _compare(lambda t: L.norm(t, ord, dim), lambda t: T.norm(t, ord, dim), [x])


PRODUCT_CASES = {
    "inner": (fastdl.inner, torch.inner, [(2, 3), (4, 3)]),
    "mv": (fastdl.mv, torch.mv, [(3, 4), (4,)]),
    "addmv": (lambda i, m, v: fastdl.addmv(i, m, v, beta=0.5, alpha=2),
              lambda i, m, v: torch.addmv(i, m, v, beta=0.5, alpha=2), [(3,), (3, 4), (4,)]),
    "addr": (lambda i, a, b: fastdl.addr(i, a, b, beta=2), lambda i, a, b: torch.addr(
        i, a, b, beta=2), [(3, 4), (3,), (4,)]),
    "addbmm": (fastdl.addbmm, torch.addbmm, [(3, 5), (2, 3, 4), (2, 4, 5)]),
    "tensordot2": (fastdl.tensordot, torch.tensordot, [(2, 3, 4), (3, 4, 5)]),
    "tensordot_lists": (lambda a, b: fastdl.tensordot(a, b, ([0, 2], [2, 0])),
                        lambda a, b: torch.tensordot(a, b, ([0, 2], [2, 0])),
                        [(2, 3, 4), (4, 5, 2)]),
    "vdot": (fastdl.vdot, torch.vdot, [(5,), (5,)]),
    "dist": (lambda a, b: fastdl.dist(a, b, 3), lambda a, b: torch.dist(a, b, 3),
             [(2, 3), (3,)]),
    "cross": (fastdl.cross, torch.cross, [(4, 3), (4, 3)]),
    "linalg_cross": (L.cross, T.cross, [(2, 1, 3), (1, 4, 3)]),
    "vecdot": (L.vecdot, T.vecdot, [(2, 3), (3,)]),
    "multi_dot": (lambda a, b, c: L.multi_dot([a, b, c]), lambda a, b, c: T.multi_dot(
        [a, b, c]), [(3,), (3, 5), (5, 2)]),
    "chain_matmul": (fastdl.chain_matmul, torch.linalg.multi_dot and (
        lambda *m: torch.linalg.multi_dot(list(m))), [(2, 3), (3, 4), (4, 2), (2, 5)]),
    "vander": (lambda x: L.vander(x, N=4), lambda x: T.vander(x, N=4), [(2, 3)]),
    "diagonal": (lambda x: L.diagonal(x, offset=1), lambda x: T.diagonal(x, offset=1),
                 [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(PRODUCT_CASES))
def test_products_match_torch_and_gradcheck(name):
    f_fn, t_fn, shapes = PRODUCT_CASES[name]
    arrays = [rng.standard_normal(s) for s in shapes]
    _compare(f_fn, t_fn, arrays)
    assert gradcheck(f_fn, [fastdl.tensor(a, requires_grad=True) for a in arrays])


def test_tensorinv_tensorsolve():
    a = _square((), 6).reshape(6, 2, 3)
    _compare(lambda x: L.tensorinv(x, 1), lambda x: T.tensorinv(x, 1), [a])
    b = rng.standard_normal(6)
    _compare(L.tensorsolve, T.tensorsolve, [a, b])


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_lu_factor_lu_and_lu_solve(shape):
    a = _square(shape[:-2], shape[-1])
    LU, piv = L.lu_factor(fastdl.tensor(a))
    tLU, tpiv = T.lu_factor(torch.tensor(a))
    np.testing.assert_allclose(LU.numpy(), tLU.numpy(), rtol=1e-10, atol=1e-12)
    assert piv.tolist() == tpiv.tolist() and piv.dtype == np.int32
    P, Lo, U = L.lu(fastdl.tensor(a))
    np.testing.assert_allclose((P @ Lo @ U).numpy(), a, atol=1e-12)
    _compare(lambda x: L.lu_factor(x).LU, lambda x: T.lu_factor(x).LU, [a])
    assert gradcheck(lambda x: L.lu_factor(x).LU, [fastdl.tensor(a, requires_grad=True)])
    b = rng.standard_normal(shape[:-1] + (2,))
    for adjoint in (False, True):
        np.testing.assert_allclose(
            L.lu_solve(LU, piv, fastdl.tensor(b), adjoint=adjoint).numpy(),
            T.lu_solve(tLU, tpiv, torch.tensor(b), adjoint=adjoint).numpy(), rtol=1e-9)


def test_top_level_svd_qr_and_methods():
    a = rng.standard_normal((4, 3))
    U, S, V = fastdl.svd(fastdl.tensor(a))
    tU, tS, tV = torch.svd(torch.tensor(a))
    assert V.shape == tuple(tV.shape)
    np.testing.assert_allclose((U * S.unsqueeze(-2) @ V.mT).numpy(), a, atol=1e-12)
    _, S0, V0 = fastdl.svd(fastdl.tensor(a), compute_uv=False)
    assert not V0.numpy().any() and np.allclose(S0.numpy(), tS.numpy())
    Q, R = fastdl.qr(fastdl.tensor(a), some=False)
    assert Q.shape == (4, 4)
    x = fastdl.tensor(_square((), 3))
    np.testing.assert_allclose(x.inverse().numpy(), np.linalg.inv(x.numpy()))
    assert np.isclose(x.det().item(), np.linalg.det(x.numpy()))
    np.testing.assert_allclose(x.pinverse().numpy(), np.linalg.pinv(x.numpy()), atol=1e-12)


def _singular(batch):
    a = np.stack([np.eye(3)] * 2) if batch else np.eye(3)
    (a[1] if batch else a)[2, 2] = 0
    return a


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("name", ["inv", "solve", "cholesky", "lu_factor", "cholesky_inverse"])
def test_singular_and_not_positive_definite_raise_like_torch(name, batch):
    a = _singular(batch)
    calls = {"inv": (L.inv, T.inv),
             "solve": (lambda x: L.solve(x, x[..., 0]), lambda x: T.solve(x, x[..., 0])),
             "cholesky": (L.cholesky, T.cholesky), "lu_factor": (L.lu_factor, T.lu_factor),
             "cholesky_inverse": (fastdl.cholesky_inverse, torch.cholesky_inverse)}
    f_fn, t_fn = calls[name]
    with pytest.raises(RuntimeError) as theirs:
        t_fn(torch.tensor(a))
    with pytest.raises(RuntimeError) as ours:
        f_fn(fastdl.tensor(a))
    assert str(ours.value) == str(theirs.value)
    assert isinstance(ours.value, L.LinAlgError) == isinstance(theirs.value, T.LinAlgError)


def test_ex_variants_report_info_like_torch():
    a = _singular(True)
    assert L.inv_ex(fastdl.tensor(a)).info.tolist() == T.inv_ex(torch.tensor(a)).info.tolist()
    assert L.cholesky_ex(fastdl.tensor(a)).info.tolist() == \
        T.cholesky_ex(torch.tensor(a)).info.tolist()
    assert L.lu_factor_ex(fastdl.tensor(a)).info.tolist() == \
        T.lu_factor_ex(torch.tensor(a)).info.tolist()
    assert np.isnan(L.inv_ex(fastdl.tensor(a)).inverse.numpy()[1]).all()


def test_det_gradient_at_a_singular_matrix_matches_torch():
    a = rng.standard_normal((3, 3))
    a[2] = a[0] + a[1]
    _compare(L.det, T.det, [a])


@pytest.mark.parametrize("fn", ["inv", "det", "cholesky", "eigh", "svd", "qr", "matrix_exp",
                                "slogdet"])
def test_shape_and_dtype_errors_like_torch(fn):
    for bad in (np.ones(3), np.ones((2, 3)), np.ones((3, 3), dtype=np.int64)):
        if fn in ("svd", "qr") and bad.shape == (2, 3):
            continue
        try:
            getattr(T, fn)(torch.tensor(bad))
        except (RuntimeError, NotImplementedError) as e:
            theirs = e
        with pytest.raises(RuntimeError) as ours:
            getattr(L, fn)(fastdl.tensor(bad))
        if type(theirs) is RuntimeError and fn != "matrix_exp":
            assert str(ours.value) == str(theirs)


def test_eig_refuses_complex_results():
    with pytest.raises(RuntimeError, match="cannot be complex"):
        L.eig(fastdl.tensor(np.eye(2)))
    with pytest.raises(RuntimeError, match="cannot be complex"):
        L.eigvals(fastdl.tensor(np.eye(2)))


def test_matrix_rank():
    a = rng.standard_normal((2, 4, 3)) @ rng.standard_normal((2, 3, 5))
    assert L.matrix_rank(fastdl.tensor(a)).tolist() == T.matrix_rank(torch.tensor(a)).tolist()
    assert L.matrix_rank(fastdl.tensor(a), atol=1.0, rtol=0.0).tolist() == \
        T.matrix_rank(torch.tensor(a), atol=1.0, rtol=0.0).tolist()


# ---- regressions found by torch's OpInfo samples (tests/test_opinfo_conformance.py) ----

def test_integral_and_bool_addmv_addr_addbmm_cast_alpha_beta_like_torch():
    # torch casts alpha/beta to an integral result's dtype (0.6 -> 0) and keeps int32; a bool
    # result reads them as truth values
    i, m, v = np.array([5, -7, 3]), np.array([[1, 2], [3, -4], [5, 6]]), np.array([2, 3])
    for dt in (np.int64, np.int32):
        for beta, alpha in ((0.2, 0.6), (1.7, 2.6), (1, 1)):
            ours = fastdl.addmv(*(fastdl.tensor(a.astype(dt)) for a in (i, m, v)),
                                beta=beta, alpha=alpha)
            theirs = torch.addmv(*(torch.tensor(a.astype(dt)) for a in (i, m, v)),
                                 beta=beta, alpha=alpha)
            assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
            assert ours.tolist() == theirs.tolist()
    b1 = rng.integers(-3, 3, (3, 2, 2)).astype(np.int32)
    ours = fastdl.addbmm(fastdl.ones(2, 2).int(), fastdl.tensor(b1), fastdl.tensor(b1),
                         beta=0.6, alpha=2)
    theirs = torch.addbmm(torch.ones(2, 2).int(), torch.tensor(b1), torch.tensor(b1),
                          beta=0.6, alpha=2)
    assert str(ours.dtype) == "int32" and ours.tolist() == theirs.tolist()
    vb, wb = np.array([True, False, True]), np.array([True, True])
    ib = np.array([[True, False], [False, False], [True, True]])
    for beta, alpha in ((3, 2), (0, 2), (False, False), (1, 0)):
        ours = fastdl.addr(fastdl.tensor(ib), fastdl.tensor(vb), fastdl.tensor(wb),
                           beta=beta, alpha=alpha)
        theirs = torch.addr(torch.tensor(ib), torch.tensor(vb), torch.tensor(wb),
                            beta=beta, alpha=alpha)
        assert str(ours.dtype) == "bool" and ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("fn", [lambda L, A: L.inv_ex(A).inverse,
                                lambda L, A: L.solve_ex(A, A[..., :1]).result,
                                lambda L, A: L.lu_factor(A).LU])
def test_empty_batches_and_matrices(fn):
    # reshape(-1, 0, 0) cannot size an empty array: the batched LU took its count from -1
    for shape in ((0, 0), (0, 0, 0), (2, 0, 0), (0, 3, 3)):
        a = np.zeros(shape)
        ours, theirs = fn(fastdl.linalg, fastdl.tensor(a)), fn(torch.linalg, torch.tensor(a))
        assert tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 3, 6), (2, 6, 3)])
def test_lu_gradient_of_wide_and_tall_matrices(shape):
    a = rng.standard_normal(shape)
    _compare(lambda x: fastdl.linalg.lu_factor(x).LU, lambda x: torch.linalg.lu_factor(x).LU,
             [a])
    def loss(lib):
        def f(x):
            _, L, U = lib.linalg.lu(x)
            return L.sum(-1, keepdim=True) * U[..., :1, :]
        return f
    _compare(loss(fastdl), loss(torch), [a])
    assert gradcheck(lambda x: fastdl.linalg.lu_factor(x).LU,
                     (fastdl.tensor(a, requires_grad=True),))


def test_top_level_lu_and_lu_solve():
    # fastdl.lu/lu_solve looked lu_factor_ex up on fastdl.linalg.lu, the function, not the module
    a, b = _square((2,), 3), rng.standard_normal((2, 3, 2))
    LU, piv = fastdl.lu(fastdl.tensor(a))
    tLU, tpiv = torch.linalg.lu_factor(torch.tensor(a))
    np.testing.assert_allclose(LU.numpy(), tLU.numpy(), rtol=1e-12)
    assert piv.tolist() == tpiv.tolist()
    np.testing.assert_allclose(fastdl.lu_solve(fastdl.tensor(b), LU, piv).numpy(),
                               torch.lu_solve(torch.tensor(b), tLU, tpiv).numpy(), rtol=1e-10)


def test_outputs_that_require_grad_like_torch():
    # matrix_power(A, 0) and lstsq's empty residuals are outputs of A's graph in torch
    a = fastdl.tensor(_square((2,), 3), requires_grad=True)
    eye = fastdl.linalg.matrix_power(a, 0)
    assert eye.requires_grad and eye.tolist() == [np.eye(3).tolist()] * 2
    eye.sum().backward()
    assert not a.grad.numpy().any()
    res = fastdl.linalg.lstsq(a, fastdl.tensor(rng.standard_normal((2, 3, 1)))).residuals
    assert res.requires_grad and tuple(res.shape) == (0,)


def test_scalar_inputs_and_batched_tolerances():
    x = torch.tensor(2.0)
    assert fastdl.linalg.vander(fastdl.tensor(2.0), N=3).tolist() == \
        torch.linalg.vander(x, N=3).tolist()
    for dim in (0, -1, (0,)):
        assert fastdl.linalg.vector_norm(fastdl.tensor(-2.0), dim=dim, keepdim=True).item() == 2.0
    a = np.stack([np.diag([1.0, 1e-3, 0.0]), np.diag([1.0, 0.5, 0.1])])
    tol = np.array([1e-2, 1e-4])
    for kw in ("atol", "rtol"):
        ours = fastdl.linalg.matrix_rank(fastdl.tensor(a), **{kw: fastdl.tensor(tol)})
        theirs = torch.linalg.matrix_rank(torch.tensor(a), **{kw: torch.tensor(tol)})
        assert ours.tolist() == theirs.tolist()


def test_cross_never_broadcasts_along_dim_and_tensordot_broadcasts_size_one():
    with pytest.raises(RuntimeError, match="must have length 3"):
        fastdl.linalg.cross(fastdl.ones(5, 3), fastdl.ones(5, 1))
    a, b = rng.standard_normal((1, 3, 1)), rng.standard_normal((2, 1, 4))
    for dims in (([0, 2], [0, 2]), ([0, 1], [0, 1])):
        _compare(lambda x, y: fastdl.tensordot(x, y, dims), lambda x, y: torch.tensordot(x, y, dims),
                 [a, b])
