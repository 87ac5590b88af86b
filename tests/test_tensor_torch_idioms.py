"""Tensor idioms a fuzz against torch found missing or different: formatting a loss, comparing
with None, torch's list-as-tuple indexing and byte masks, zero gradients of norm and std at 0,
hardtanh, and the in-place masked_fill_ / scatter_add_ and Tensor.where."""
import warnings

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F

torch = pytest.importorskip("torch")


def test_format_and_none_comparison():
    loss = fastdl.tensor(3.14159)
    assert f"{loss:.2f}" == "3.14" and f"{loss}" == f"{torch.tensor(3.14159)}"
    assert (fastdl.ones(2) == None) is False and (fastdl.ones(2) != None) is True  # noqa: E711
    with pytest.raises(TypeError):
        f"{fastdl.ones(2):.2f}"


def test_list_of_sequences_indexes_as_a_tuple():
    x, t = fastdl.arange(12).reshape(4, 3), torch.arange(12).reshape(4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(x[[[0, 1], [1, 2]]].numpy(), t[[[0, 1], [1, 2]]].numpy())
        x[[[0, 1], [1, 2]]] = -1
        t[[[0, 1], [1, 2]]] = -1
        np.testing.assert_array_equal(x.numpy(), t.numpy())
        np.testing.assert_array_equal(x[[0, 2]].numpy(), t[[0, 2]].numpy())
        byte = np.array([1, 0, 1, 0], np.uint8)
        np.testing.assert_array_equal(x[fastdl.tensor(byte)].numpy(),
                                      t[torch.tensor(byte)].numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_and_std_have_zero_gradient_at_zero(dtype):
    cases = ((np.zeros(3), lambda a: a.norm()), (np.full((2, 3), 2.0), lambda a: a.std(1).sum()),
             (np.array([1e-25, 1e-25]), lambda a: a.norm()),
             (np.array([[0.0, 0.0], [3.0, 4.0]]), lambda a: a.norm(dim=1).sum()))
    for x, fn in cases:
        fx = fastdl.tensor(x.astype(dtype)).requires_grad_()
        tx = torch.tensor(x.astype(dtype), requires_grad=True)
        fn(fx).backward()
        fn(tx).backward()
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=0)


def test_hardtanh_as_torch():
    x = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    for lo, hi in ((-1.0, 1.0), (-0.5, 2.0)):
        fx, tx = fastdl.tensor(x).requires_grad_(), torch.tensor(x, requires_grad=True)
        fo, to = F.hardtanh(fx, lo, hi), torch.nn.functional.hardtanh(tx, lo, hi)
        np.testing.assert_array_equal(fo.detach().numpy(), to.detach().numpy())
        fo.sum().backward()
        to.sum().backward()
        np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())
    m = fastdl.nn.Hardtanh(-2.0, 2.0)
    np.testing.assert_array_equal(m(fastdl.tensor(x)).numpy(), np.clip(x, -2, 2))


def test_in_place_masked_fill_scatter_add_and_where_method():
    rng = np.random.default_rng(0)
    w = rng.standard_normal(4)
    mask = np.array([True, False, True, False])
    fw, tw = fastdl.tensor(w).requires_grad_(), torch.tensor(w, requires_grad=True)
    fy, ty = fw * 2, tw * 2
    fy.masked_fill_(fastdl.tensor(mask), 0.5)
    ty.masked_fill_(torch.tensor(mask), 0.5)
    fy.scatter_add_(0, fastdl.tensor([0, 0, 3]), fastdl.tensor(np.ones(3)))
    ty.scatter_add_(0, torch.tensor([0, 0, 3]), torch.ones(3, dtype=torch.float64))
    np.testing.assert_array_equal(fy.detach().numpy(), ty.detach().numpy())
    (fy * fy).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy())
    np.testing.assert_array_equal(fastdl.tensor(w).where(fastdl.tensor(mask), 0.0).numpy(),
                                  torch.tensor(w).where(torch.tensor(mask), 0.0).numpy())


def test_view_never_copies():
    x = fastdl.arange(6.0).reshape(2, 3)
    v = x.view(3, 2)
    v[0, 0] = 10.0
    assert x[0, 0].item() == 10.0
    with pytest.raises(RuntimeError, match="Use .reshape"):
        x.t().view(-1)
    assert x.t().reshape(-1).shape == (6,)


def test_elu_gradient_keeps_precision_far_below_zero():
    x = np.array([-25.0, -20.0, -15.0, -1.0, 0.0, 2.0, np.nan], np.float32)
    fx, tx = fastdl.tensor(x).requires_grad_(), torch.tensor(x, requires_grad=True)
    F.elu(fx).sum().backward()
    torch.nn.functional.elu(tx).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_scalar_base_pow_gradient_at_zero_base():
    e = np.array([0.0, 1.0, 2.5, -1.0])
    for base in (0.0, 2.0):
        fe, te = fastdl.tensor(e).requires_grad_(), torch.tensor(e, requires_grad=True)
        (base ** fe).sum().backward()
        (base ** te).sum().backward()
        np.testing.assert_allclose(fe.grad.numpy(), te.grad.numpy())


def test_creation_and_shape_argument_forms():
    assert fastdl.zeros(size=(2, 3)).shape == (2, 3) and fastdl.ones(size=[4]).shape == (4,)
    assert fastdl.empty(size=(1, 2)).shape == (1, 2)
    assert fastdl.arange(fastdl.tensor(3)).dtype == fastdl.int64
    assert fastdl.randint(5, (2, 2)).shape == (2, 2)
    x = fastdl.arange(6).reshape(2, 3)
    t = torch.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(x.flip(0, 1).numpy(), t.flip(0, 1).numpy())
    np.testing.assert_array_equal(fastdl.flip(x, (1,)).numpy(), torch.flip(t, (1,)).numpy())
    for fn in ("argmax", "argmin"):
        want = tuple(getattr(t, fn)(None, keepdim=True).shape)
        assert getattr(x, fn)(None, keepdim=True).shape == want


def test_max_gradients_with_nan_and_reductions_of_empty_tensors():
    x = np.array([1.0, np.nan, 3.0])
    fx, tx = fastdl.tensor(x).requires_grad_(), torch.tensor(x, requires_grad=True)
    fx.max().backward()
    tx.max().backward()
    np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())
    assert fastdl.zeros(0, 3).amax(1).shape == (0,)
    assert fastdl.zeros(0, 3).max(1)[0].shape == (0,)
    with pytest.raises(RuntimeError, match="empty dimension"):
        fastdl.zeros(0, 3).amax(0)
    assert fastdl.prod(fastdl.zeros(2, 0), 1).tolist() == [1.0, 1.0]


def test_type_as_takes_a_tensor_and_follows_its_dtype():
    """torch's common_nn entry NLLLoss_no_reduce_weights_ignore_index passes ``i.data`` (fastdl's
    is the numpy array) to type_as: a TypeError in torch's words, not an AttributeError."""
    x = fastdl.tensor([1.7, -2.2])
    assert x.type_as(fastdl.tensor([1])).tolist() == torch.tensor([1.7, -2.2]).type_as(
        torch.tensor([1])).tolist()
    assert x.type_as(fastdl.ones(1, dtype=np.float64)).dtype == np.float64
    for other in (np.ones(2), 1.0, None):
        with pytest.raises(TypeError) as theirs:
            torch.ones(2).type_as(other)
        with pytest.raises(TypeError) as ours:
            x.type_as(other)
        assert str(ours.value) == str(theirs.value)
