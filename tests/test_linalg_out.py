"""``out=`` of the linalg functions and torch's top-level products and factorizations: the
result is written into the caller's tensor(s), which are returned (their values equal to
torch's out= call on the same inputs), and torch's errors for a wrong dtype, a wrong
structure and out= under autograd. (Before, fastdl accepted ``out`` and left it untouched.)"""
import warnings

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")

rng = np.random.default_rng(20261130)


def _spd(n):
    a = rng.standard_normal((n, n))
    return (a @ a.T + n * np.eye(n)).astype(np.float32)


def _square(n):
    return (rng.standard_normal((n, n)) + n * np.eye(n)).astype(np.float32)


def _mat(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# name -> (function path, arrays, keyword arguments); a function path is looked up in both
# libraries (fastdl.linalg.x / torch.linalg.x, or fastdl.x / torch.x)
CASES = {
    "linalg.solve": (lambda: [_square(4), _mat(4, 3)], {}),
    "linalg.solve_ex": (lambda: [_square(3), _mat(3)], {}),
    "linalg.inv": (lambda: [_square(5)], {}),
    "linalg.inv_ex": (lambda: [_square(3)], {}),
    "linalg.solve_triangular": (lambda: [np.triu(_square(4)), _mat(4, 2)], {"upper": True}),
    "linalg.cholesky": (lambda: [_spd(4)], {}),
    "linalg.cholesky_ex": (lambda: [_spd(3)], {}),
    "linalg.slogdet": (lambda: [_square(3)], {}),
    "linalg.det": (lambda: [_square(3)], {}),
    "linalg.multi_dot": (lambda: [[_mat(3, 4), _mat(4, 5), _mat(5, 2)]], {}),
    "linalg.cross": (lambda: [_mat(4, 3), _mat(4, 3)], {}),
    "linalg.vecdot": (lambda: [_mat(4, 3), _mat(4, 3)], {}),
    "linalg.matrix_power": (lambda: [_square(3), 3], {}),
    "linalg.lu_factor": (lambda: [_square(4)], {}),
    "linalg.lu": (lambda: [_mat(4, 3)], {}),
    "linalg.qr": (lambda: [_mat(5, 3)], {}),
    "linalg.svdvals": (lambda: [_mat(5, 3)], {}),
    "linalg.eigvalsh": (lambda: [_spd(4)], {}),
    "linalg.pinv": (lambda: [_mat(4, 3)], {}),
    "linalg.cond": (lambda: [_square(3)], {}),
    "linalg.vector_norm": (lambda: [_mat(3, 4)], {"dim": 1}),
    "linalg.matrix_norm": (lambda: [_mat(2, 3, 4)], {}),
    "linalg.norm": (lambda: [_mat(3, 4)], {}),
    "linalg.householder_product": (lambda: [_mat(5, 3), _mat(3)], {}),
    "mv": (lambda: [_mat(3, 4), _mat(4)], {}),
    "addmv": (lambda: [_mat(3), _mat(3, 4), _mat(4)], {"beta": 0.5}),
    "addr": (lambda: [_mat(3, 4), _mat(3), _mat(4)], {}),
    "addbmm": (lambda: [_mat(3, 5), _mat(2, 3, 4), _mat(2, 4, 5)], {}),
    "inner": (lambda: [_mat(3, 4), _mat(2, 4)], {}),
    "tensordot": (lambda: [_mat(3, 4, 5), _mat(4, 5, 2)], {"dims": 2}),
    "inverse": (lambda: [_square(4)], {}),
    "cholesky_solve": (lambda: [_mat(3, 2), np.linalg.cholesky(_spd(3)).astype(np.float32)], {}),
    "cholesky_inverse": (lambda: [np.linalg.cholesky(_spd(3)).astype(np.float32)], {}),
    "triangular_solve": (lambda: [_mat(3, 2), np.triu(_square(3))], {}),
    "cross": (lambda: [_mat(2, 3), _mat(2, 3)], {"dim": 1}),
}


def _lookup(lib, path):
    obj = lib
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _convert(lib, x):
    if isinstance(x, list):
        return [_convert(lib, a) for a in x]
    if isinstance(x, np.ndarray):
        return torch.tensor(x) if lib is torch else fastdl.tensor(x)
    return x


def _empty_like_result(lib, result):
    """out tensors for a result: empty (0 elements), so torch resizes them without a warning."""
    make = (lambda t: torch.empty(0, dtype=t.dtype)) if lib is torch else \
        (lambda t: fastdl.empty(0, dtype=t.dtype))
    if isinstance(result, tuple):
        return tuple(make(t) for t in result)
    return make(result)


@pytest.mark.parametrize("name", sorted(CASES))
def test_out_is_written_and_returned_like_torch(name):
    build, kwargs = CASES[name]
    arrays = build()
    theirs_fn, ours_fn = _lookup(torch, name), _lookup(fastdl, name)
    expected = theirs_fn(*_convert(torch, arrays), **kwargs)
    t_out = _empty_like_result(torch, expected)
    t_ret = theirs_fn(*_convert(torch, arrays), **kwargs, out=t_out)
    plain = ours_fn(*_convert(fastdl, arrays), **kwargs)
    f_out = _empty_like_result(fastdl, plain)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # empty outs are resized without torch's warning
        f_ret = ours_fn(*_convert(fastdl, arrays), **kwargs, out=f_out)
    f_items = f_ret if isinstance(f_ret, tuple) else (f_ret,)
    out_items = f_out if isinstance(f_out, tuple) else (f_out,)
    t_items = t_ret if isinstance(t_ret, tuple) else (t_ret,)
    assert type(f_ret).__name__ == type(plain).__name__
    assert len(f_items) == len(t_items)
    for f, o, p, t in zip(f_items, out_items, plain if isinstance(plain, tuple) else (plain,),
                          t_items):
        assert f is o  # the out tensor itself comes back
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_array_equal(o.numpy(), p.numpy())
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=2e-4, atol=2e-5)


def test_out_of_another_shape_is_resized_with_torchs_warning():
    a, b = _square(3), _mat(3)
    out = fastdl.zeros(5)
    with pytest.warns(UserWarning, match="An output with one or more elements was resized"):
        fastdl.linalg.solve(fastdl.tensor(a), fastdl.tensor(b), out=out)
    assert out.shape == (3,)
    np.testing.assert_allclose(out.numpy(), np.linalg.solve(a, b), rtol=1e-5)


@pytest.mark.parametrize("name,make_args,out_dtype", [
    ("linalg.solve", lambda m: (m(_square(3)), m(_mat(3))), "float64"),
    ("linalg.inv", lambda m: (m(_square(3)),), "int64"),
    ("linalg.vector_norm", lambda m: (m(_mat(3)),), "float64"),
    ("mv", lambda m: (m(_mat(3, 2)), m(_mat(2))), "float64"),
    ("linalg.pinv", lambda m: (m(_mat(3, 2)),), "int64"),
    ("linalg.cond", lambda m: (m(_square(3)),), "int64"),
])
def test_wrong_out_dtype_raises_like_torch(name, make_args, out_dtype):
    with pytest.raises(RuntimeError) as theirs:
        _lookup(torch, name)(*make_args(torch.tensor),
                             out=torch.empty(0, dtype=getattr(torch, out_dtype)))
    with pytest.raises(RuntimeError) as ours:
        _lookup(fastdl, name)(*make_args(fastdl.tensor),
                              out=fastdl.empty(0, dtype=getattr(fastdl, out_dtype)))
    if "Expected out tensor" in str(theirs.value) or "safely castable" in str(theirs.value):
        assert str(ours.value) == str(theirs.value)


def test_pinv_writes_into_a_float64_out_as_torch_does():
    a = _mat(3, 2)
    t_out, f_out = torch.empty(0, dtype=torch.float64), fastdl.empty(0, dtype=fastdl.float64)
    torch.linalg.pinv(torch.tensor(a), out=t_out)
    fastdl.linalg.pinv(fastdl.tensor(a), out=f_out)
    assert f_out.dtype == fastdl.float64
    np.testing.assert_allclose(f_out.numpy(), t_out.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lib", ["torch", "fastdl"])
def test_structure_errors(lib):
    L = torch if lib == "torch" else fastdl
    a = L.tensor(_square(3))
    with pytest.raises(TypeError, match="argument 'out' must be tuple of Tensors, not Tensor"):
        L.linalg.qr(a, out=L.empty(0))
    with pytest.raises(TypeError, match="expected tuple of 2 elements but got 1"):
        L.linalg.qr(a, out=(L.empty(0),))
    with pytest.raises(TypeError, match="argument 'out' must be Tensor, not tuple"):
        L.linalg.solve(a, L.tensor(_mat(3)), out=(L.empty(0),))


@pytest.mark.parametrize("lib", ["torch", "fastdl"])
def test_out_refuses_autograd(lib):
    L = torch if lib == "torch" else fastdl
    a = L.tensor(_square(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="functions with out=... arguments don't support "
                                           "automatic differentiation"):
        L.linalg.inv(a, out=L.empty(0))
    with L.no_grad():
        out = L.empty(0)
        L.linalg.inv(a, out=out)
    np.testing.assert_allclose(out.numpy(), np.linalg.inv(a.detach().numpy()), rtol=1e-4)
