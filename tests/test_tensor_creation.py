"""Creation functions, torch's dtype rules, DLPack, devices, and errors on bad input."""
import numpy as np
import pytest

import fastdl


def test_dtype_rules_follow_torch_tensor():
    assert fastdl.tensor(1.5).dtype == np.float32
    assert fastdl.tensor([1.0, 2]).dtype == np.float32
    assert fastdl.tensor([1, 2]).dtype == np.int64
    assert fastdl.tensor([True, False]).dtype == np.bool_
    assert fastdl.tensor(np.zeros(3)).dtype == np.float64  # numpy dtypes kept
    assert fastdl.tensor(np.zeros(3, np.int32)).dtype == np.int32
    assert fastdl.tensor([1, 2], dtype=fastdl.float64).dtype == np.float64
    assert fastdl.float32 == np.float32 and fastdl.int64 == np.int64 and fastdl.bool == np.bool_


def test_tensor_copies_but_from_numpy_shares():
    a = np.ones(3, dtype=np.float32)
    t, s = fastdl.tensor(a), fastdl.from_numpy(a)
    a[0] = 7
    assert t.data[0] == 1 and s.data[0] == 7


def test_mixed_dtype_promotion_matches_torch():
    torch = pytest.importorskip("torch")
    cases = [
        (np.arange(3), 2.5), (np.arange(3), np.ones(3, np.float32)),
        (np.ones(3, np.float32), np.ones(3)), (np.ones(3, np.float32), np.array(2.0)),
        (np.arange(3), np.array(1.5)), (np.array([True, False]), 3), (np.arange(3), 2),
        (np.ones(2, np.float32), True),
    ]
    for a, b in cases:
        fa = fastdl.tensor(a)
        ta = torch.tensor(a)
        fb = fastdl.tensor(b) if isinstance(b, np.ndarray) else b
        tb = torch.tensor(b) if isinstance(b, np.ndarray) else b
        for op in (lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x / y):
            f, t = op(fa, fb), op(ta, tb)
            assert str(f.dtype) == str(t.dtype).replace("torch.", ""), (a.dtype, b, f.dtype, t.dtype)
            np.testing.assert_allclose(f.data, t.numpy(), rtol=1e-6)


def test_creation_functions():
    assert fastdl.zeros(2, 3).shape == (2, 3) and fastdl.zeros((2, 3)).dtype == np.float32
    assert fastdl.ones(4).data.sum() == 4
    assert fastdl.full((2, 2), 7).dtype == np.int64
    assert fastdl.full((2, 2), 0.5).data[1, 1] == 0.5
    assert fastdl.empty(3, 1).shape == (3, 1)
    assert fastdl.arange(5).dtype == np.int64 and fastdl.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(fastdl.arange(1, 7, 2).data, [1, 3, 5])
    x = fastdl.randn(3, 4, dtype=fastdl.float64)
    assert fastdl.zeros_like(x).dtype == np.float64 and fastdl.ones_like(x).shape == (3, 4)
    r = fastdl.rand(1000)
    assert 0 <= r.data.min() and r.data.max() < 1 and r.dtype == np.float32
    assert fastdl.randn(2, requires_grad=True).requires_grad
    assert fastdl.eye(3).data.trace() == 3


def test_manual_seed_reproduces():
    fastdl.manual_seed(123)
    a = fastdl.randn(5)
    fastdl.manual_seed(123)
    b = fastdl.randn(5)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, fastdl.randn(5).data)


def test_dlpack_round_trip_with_numpy_and_torch():
    x = fastdl.arange(6).reshape(2, 3).float()
    y = np.from_dlpack(x)
    assert np.shares_memory(y, x.data)
    z = fastdl.from_dlpack(np.arange(4.0))
    assert z.dtype == np.float64
    torch = pytest.importorskip("torch")
    t = torch.arange(5, dtype=torch.float32)
    f = fastdl.from_dlpack(t)
    t[0] = 42
    assert f.data[0] == 42  # shared memory
    back = torch.from_dlpack(x)
    assert back.shape == (2, 3)
    with pytest.raises(RuntimeError, match="require gradient"):
        fastdl.ones(2, requires_grad=True).__dlpack__()


def test_metadata_and_python_conversions():
    x = fastdl.arange(12).reshape(3, 4)
    assert x.size() == (3, 4) and x.size(-1) == 4 and x.dim() == 2 and len(x) == 3
    assert x.T.shape == (4, 3) and x.mT.shape == (4, 3)
    assert int(x[1, 2]) == 6 and float(x.sum()) == 66.0 and x.tolist()[2][3] == 11
    assert [row.shape for row in x] == [(4,)] * 3
    assert np.asarray(x).shape == (3, 4)
    assert "tensor(" in repr(x) and "grad_fn" in repr(fastdl.ones(2, requires_grad=True) * 2)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(ValueError, match="only one element"):
        x.item()


def test_bad_inputs_raise_clear_errors():
    a, b = fastdl.ones(2, 3), fastdl.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"\(2,3\).*\(4,5\)"):
        a + b
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4, 5\) cannot be multiplied"):
        a @ b
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        a.reshape(4, 2)
    with pytest.raises(RuntimeError, match="sizes of tensors must match"):
        fastdl.cat([a, b])
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.sum(2)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        a[5]
    with pytest.raises(RuntimeError, match="int64 for index"):
        a.gather(1, fastdl.ones(2, 3))
    with pytest.raises(TypeError, match="cannot make a tensor from list"):
        fastdl.tensor(["a", "b"])
    with pytest.raises(TypeError, match="not complex64"):
        fastdl.zeros(2, dtype="complex64")
    with pytest.raises(RuntimeError, match="mean"):
        fastdl.arange(3).mean()
    with pytest.raises(RuntimeError, match="cannot be expanded"):
        a.expand(3, 3)
    with pytest.raises(TypeError, match="bool"):
        fastdl.where(a, a, b)
