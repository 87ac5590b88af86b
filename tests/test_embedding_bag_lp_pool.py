"""embedding_bag / EmbeddingBag and lp_pool1d/2d/3d / LPPool1d/2d/3d against torch: every
mode and option, float32 and float64, outputs and gradients, gradcheck in float64, bad input."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F
from fastdl.testing import gradcheck, gradgradcheck
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(20261130)
NUM_ROWS, DIM = 9, 4
# bags [0, 3), [3, 3) (empty), [3, 7), [7, 11): a repeated index, and index 2 (the padding
# index of some cases) inside bags
INDICES = np.array([1, 2, 5, 2, 2, 7, 0, 8, 3, 2, 6])
OFFSETS = np.array([0, 3, 3, 7])


def _pair(array):
    return torch.tensor(array), fastdl.tensor(array.copy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2, -7])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_1d_matches_torch(dtype, mode, padding_idx, include_last_offset):
    t_idx, f_idx = _pair(INDICES)
    offsets = OFFSETS if not include_last_offset else np.append(OFFSETS, len(INDICES))
    t_off, f_off = _pair(offsets)
    kwargs = dict(mode=mode, padding_idx=padding_idx, include_last_offset=include_last_offset)
    check_op([(NUM_ROWS, DIM)], lambda w: TF.embedding_bag(t_idx, w, t_off, **kwargs),
             lambda w: F.embedding_bag(f_idx, w, f_off, **kwargs), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_2d_matches_torch(dtype, mode, padding_idx):
    indices = RNG.integers(0, NUM_ROWS, (5, 3))
    indices[1] = 4  # a bag of padding only: zeros
    t_idx, f_idx = _pair(indices)
    check_op([(NUM_ROWS, DIM)], lambda w: TF.embedding_bag(t_idx, w, mode=mode,
                                                           padding_idx=padding_idx),
             lambda w: F.embedding_bag(f_idx, w, mode=mode, padding_idx=padding_idx),
             dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_per_sample_weights_match_torch(dtype, padding_idx):
    t_idx, f_idx = _pair(INDICES)
    t_off, f_off = _pair(OFFSETS)
    # the weights differentiable too
    check_op([(NUM_ROWS, DIM), INDICES.shape],
             lambda w, s: TF.embedding_bag(t_idx, w, t_off, mode="sum", per_sample_weights=s,
                                           padding_idx=padding_idx),
             lambda w, s: F.embedding_bag(f_idx, w, f_off, mode="sum", per_sample_weights=s,
                                          padding_idx=padding_idx), dtype=dtype)


def test_embedding_bag_last_offset_ends_the_last_bag():
    """Indices after the last offset belong to no bag (torch's float32 CPU forward agrees; its
    float64 kernel folds them into the last bag). The gradient is checked against the bags'
    sums directly: torch's float32 backward for this case read uninitialised memory (values
    like 2.9e24 in 2 of 4 runs of torch 2.13), so it is no reference."""
    t_idx, f_idx = _pair(INDICES)
    offsets = np.append(OFFSETS, 9)  # bags [0, 3), [3, 3), [3, 7), [7, 9); 3 and 2 after
    t_off, f_off = _pair(offsets)
    weight = RNG.standard_normal((NUM_ROWS, DIM)).astype(np.float32)
    w = fastdl.tensor(weight, requires_grad=True)
    out = F.embedding_bag(f_idx, w, f_off, mode="sum", include_last_offset=True)
    expected = TF.embedding_bag(t_idx, torch.tensor(weight), t_off, mode="sum",
                                include_last_offset=True).numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    g = RNG.standard_normal(out.shape).astype(np.float32)
    out.backward(fastdl.tensor(g))
    grad = np.zeros_like(weight)
    for bag, (start, end) in enumerate(zip(offsets[:-1], offsets[1:])):
        for i in INDICES[start:end]:
            grad[i] += g[bag]
    np.testing.assert_allclose(w.grad.numpy(), grad, rtol=1e-6, atol=1e-6)


def test_embedding_bag_max_ties_go_to_the_first_row():
    weight = np.ones((4, 3))
    weight[3, 1] = 2.0
    t_w, f_w = (torch.tensor(weight, requires_grad=True),
                fastdl.tensor(weight, requires_grad=True))
    t_idx, f_idx = _pair(np.array([[2, 0, 3], [1, 1, 0]]))
    TF.embedding_bag(t_idx, t_w, mode="max").sum().backward()
    F.embedding_bag(f_idx, f_w, mode="max").sum().backward()
    np.testing.assert_array_equal(f_w.grad.data, t_w.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_bag_max_norm_and_scale_grad_by_freq_match_torch(dtype):
    t_idx, f_idx = _pair(INDICES)
    t_off, f_off = _pair(OFFSETS)
    weight = RNG.uniform(-2, 2, (NUM_ROWS, DIM)).astype(dtype)
    t_w, f_w = torch.tensor(weight), fastdl.tensor(weight.copy())
    t_out = TF.embedding_bag(t_idx, t_w, t_off, max_norm=1.5, mode="mean")
    f_out = F.embedding_bag(f_idx, f_w, f_off, max_norm=1.5, mode="mean")
    np.testing.assert_allclose(f_out.data, t_out.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(f_w.data, t_w.numpy(), rtol=1e-6)  # renormalized in place
    # each row's gradient over its count in the input (torch's documented rule; torch 2.13's
    # CPU kernel divides some rows by another index's count, pytorch/pytorch#190063)
    for mode in ("sum", "mean"):
        t_w = torch.tensor(weight, requires_grad=True)
        f_w = fastdl.tensor(weight.copy(), requires_grad=True)
        upstream = RNG.standard_normal((len(OFFSETS), DIM)).astype(dtype)
        (TF.embedding_bag(t_idx, t_w, t_off, mode=mode) * torch.tensor(upstream)).sum().backward()
        (F.embedding_bag(f_idx, f_w, f_off, mode=mode, scale_grad_by_freq=True)
         * fastdl.tensor(upstream)).sum().backward()
        counts = np.maximum(np.bincount(INDICES, minlength=NUM_ROWS), 1)[:, None]
        np.testing.assert_allclose(f_w.grad.data, t_w.grad.numpy() / counts, rtol=1e-5,
                                   atol=1e-6)


def test_embedding_bag_module_matches_torch():
    for mode in ("sum", "mean", "max"):
        torch_bag = torch.nn.EmbeddingBag(NUM_ROWS, DIM, mode=mode, padding_idx=2,
                                          dtype=torch.float64)
        bag = nn.EmbeddingBag(NUM_ROWS, DIM, mode=mode, padding_idx=2, dtype=np.float64)
        assert np.all(bag.weight.data[2] == 0)
        bag.weight.data[...] = torch_bag.weight.detach().numpy()
        t_idx, f_idx = _pair(INDICES)
        t_off, f_off = _pair(OFFSETS)
        t_out, f_out = torch_bag(t_idx, t_off), bag(f_idx, f_off)
        np.testing.assert_allclose(f_out.data, t_out.detach().numpy(), rtol=1e-12)
        t_out.sum().backward()
        f_out.sum().backward()
        np.testing.assert_allclose(bag.weight.grad.data, torch_bag.weight.grad.numpy())
    pretrained = nn.EmbeddingBag.from_pretrained(fastdl.ones(3, 2), mode="sum")
    assert not pretrained.weight.requires_grad
    assert pretrained(fastdl.tensor([[0, 2]])).tolist() == [[2.0, 2.0]]


def test_embedding_bag_gradcheck():
    weight = fastdl.tensor(RNG.standard_normal((NUM_ROWS, DIM)), requires_grad=True)
    scales = fastdl.tensor(RNG.uniform(0.5, 2.0, INDICES.shape), requires_grad=True)
    idx, off = fastdl.tensor(INDICES), fastdl.tensor(OFFSETS)
    for mode in ("sum", "mean", "max"):
        fn = lambda w: F.embedding_bag(idx, w, off, mode=mode, padding_idx=5)  # noqa: E731
        assert gradcheck(fn, (weight,))
    fn = lambda w, s: F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=s) ** 2  # noqa
    assert gradcheck(fn, (weight, scales))
    assert gradgradcheck(fn, (weight, scales))


def test_embedding_bag_bad_input_raises_like_torch():
    weight, idx = fastdl.randn(NUM_ROWS, DIM), fastdl.tensor(INDICES)
    off = fastdl.tensor(OFFSETS)
    for call, error in (
            (lambda: F.embedding_bag(idx, weight), ValueError),  # 1-D without offsets
            (lambda: F.embedding_bag(fastdl.tensor([[1, 2]]), weight, off), ValueError),
            (lambda: F.embedding_bag(idx, weight, off, mode="median"), ValueError),
            (lambda: F.embedding_bag(idx, weight, off, mode="max", scale_grad_by_freq=True),
             ValueError),
            (lambda: F.embedding_bag(idx, weight, off, mode="mean",
                                     per_sample_weights=fastdl.ones(11)), NotImplementedError),
            (lambda: F.embedding_bag(idx, weight, off, per_sample_weights=fastdl.ones(3),
                                     mode="sum"), ValueError),
            (lambda: F.embedding_bag(idx, fastdl.randn(9), off), ValueError),
            (lambda: F.embedding_bag(fastdl.tensor([[1, 9]]), weight), IndexError),
            (lambda: F.embedding_bag(idx, weight, fastdl.tensor([1, 3])), RuntimeError)):
        with pytest.raises(error):
            call()


# ---- LPPool ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [1, 2, 3.5, float("inf"), -float("inf")])
@pytest.mark.parametrize("d,shape,kernel,stride,ceil_mode", [
    (1, (2, 3, 11), 3, None, False), (1, (3, 10), 4, 3, True),
    (2, (2, 3, 7, 8), (2, 3), None, True), (2, (2, 7, 8), 3, (2, 1), False),
    (3, (1, 2, 5, 6, 5), 2, None, False), (3, (2, 5, 6, 5), (3, 2, 2), 2, True)])
def test_lp_pool_matches_torch(dtype, norm_type, d, shape, kernel, stride, ceil_mode):
    name = f"lp_pool{d}d"
    args = (norm_type, kernel, stride, ceil_mode)
    # positive inputs for fractional powers (negative ones give NaN in both)
    low = 0.1 if norm_type not in (1, 2) and abs(norm_type) != float("inf") else -2.0
    check_op([shape], lambda x: getattr(TF, name)(x, *args),
             lambda x: getattr(F, name)(x, *args), dtype=dtype, low=low)
    check_op([shape], getattr(torch.nn, f"LPPool{d}d")(*args),
             getattr(nn, f"LPPool{d}d")(*args), dtype=dtype, low=low)


def test_lp_pool_gradcheck():
    x = fastdl.tensor(RNG.uniform(0.2, 2.0, (1, 2, 5, 6)), requires_grad=True)
    for norm_type in (1, 2, 3.5):
        assert gradcheck(lambda t: F.lp_pool2d(t, norm_type, 2, 1), (x,))
        assert gradgradcheck(lambda t: F.lp_pool2d(t, norm_type, 2, 1), (x,))
    x1 = fastdl.tensor(RNG.uniform(0.2, 2.0, (2, 7)), requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool1d(t, 2, 3, 2, True), (x1,))
