"""torch's SyncBatchNorm building blocks (batch_norm_stats, batch_norm_gather_stats*,
batch_norm_elemt, batch_norm_backward_reduce/_elemt, batch_norm_update_stats).

torch runs all but batch_norm_update_stats on CUDA only, so the others are checked against
what torch computes on the CPU for the same quantities: native_batch_norm's saved statistics,
BatchNorm's running statistics on the whole batch, and native_batch_norm_backward."""
import numpy as np
import pytest
import torch

import fastdl

SHAPES = [(6, 3), (5, 4, 7), (3, 2, 4, 5), (2, 3, 2, 3, 2)]


def _pair(rng, shape):
    x = rng.standard_normal(shape) * 2 + 0.5
    return fastdl.tensor(x), torch.tensor(x)


@pytest.mark.parametrize("shape", SHAPES)
def test_stats_and_elemt_match_torch_batch_norm(shape):
    rng = np.random.default_rng(len(shape))
    xo, xt = _pair(rng, shape)
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    mean, invstd = fastdl.batch_norm_stats(xo, 1e-3)
    out, save_mean, save_invstd = torch.native_batch_norm(
        xt, torch.tensor(w), torch.tensor(b), None, None, True, 0.1, 1e-3)
    np.testing.assert_allclose(mean.numpy(), save_mean.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(invstd.numpy(), save_invstd.numpy(), rtol=1e-12)
    assert mean.dtype == invstd.dtype == fastdl.float64 and not mean.requires_grad
    y = fastdl.batch_norm_elemt(xo, fastdl.tensor(w), fastdl.tensor(b), mean, invstd, 1e-3)
    np.testing.assert_allclose(y.numpy(), out.numpy(), rtol=1e-12, atol=1e-12)
    plain = fastdl.batch_norm_elemt(xo, None, None, mean, invstd, 0.0)
    np.testing.assert_allclose(plain.numpy(), torch.native_batch_norm(
        xt, None, None, None, None, True, 0.1, 1e-3)[0].numpy(), rtol=1e-12, atol=1e-12)
    assert fastdl.batch_norm_stats(xo.float(), 1e-3)[0].dtype == fastdl.float32
    assert fastdl.batch_norm_stats(xo.half(), 1e-3)[0].dtype == fastdl.float32  # acc type


@pytest.mark.parametrize("counts", [[4, 1, 6], [2, 2], [7]])
@pytest.mark.parametrize("shape", SHAPES[1:])
def test_gather_stats_with_counts_is_the_whole_batch(shape, counts):
    """Rows of a batch split by ``counts``: the merged statistics and the running update
    equal torch's BatchNorm on the whole batch."""
    rng = np.random.default_rng(sum(counts))
    x = rng.standard_normal((sum(counts),) + shape[1:]) * 3 - 1
    parts = np.split(x, np.cumsum(counts)[:-1])
    # each part's count of values per channel: its rows times the spatial size
    per_channel = [len(p) * int(np.prod(shape[2:])) for p in parts]
    stats = [fastdl.batch_norm_stats(fastdl.tensor(p), 1e-5) for p in parts]
    means = fastdl.stack([m for m, _ in stats])
    invstds = fastdl.stack([s for _, s in stats])
    rm, rv = fastdl.zeros(shape[1], dtype=fastdl.float64) + 0.5, fastdl.ones(
        shape[1], dtype=fastdl.float64) * 2
    mean, invstd = fastdl.batch_norm_gather_stats_with_counts(
        fastdl.tensor(parts[0]), means, invstds, rm, rv, 0.25, 1e-5,
        fastdl.tensor(np.array(per_channel, np.float64)))
    trm, trv = torch.full((shape[1],), 0.5, dtype=torch.float64), torch.full(
        (shape[1],), 2.0, dtype=torch.float64)
    _, save_mean, save_invstd = torch.native_batch_norm(torch.tensor(x), None, None, trm, trv,
                                                        True, 0.25, 1e-5)
    np.testing.assert_allclose(mean.numpy(), save_mean.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(invstd.numpy(), save_invstd.numpy(), rtol=1e-10)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-10)
    if len(set(per_channel)) == 1:  # equal shares: batch_norm_gather_stats with one count
        again = fastdl.batch_norm_gather_stats(fastdl.tensor(parts[0]), means, invstds, None,
                                               None, 0.25, 1e-5, per_channel[0])
        np.testing.assert_allclose(again[0].numpy(), mean.numpy(), rtol=1e-14)
        np.testing.assert_allclose(again[1].numpy(), invstd.numpy(), rtol=1e-14)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_backward_reduce_and_elemt_match_native_batch_norm_backward(shape, affine):
    rng = np.random.default_rng(len(shape) + affine)
    xo, xt = _pair(rng, shape)
    g = rng.standard_normal(shape)
    w = rng.standard_normal(shape[1]) if affine else None
    wt = torch.tensor(w) if affine else None
    _, save_mean, save_invstd = torch.native_batch_norm(xt, wt, None, None, None, True, 0.1,
                                                        1e-5)
    gi, gw, gb = torch.ops.aten.native_batch_norm_backward(
        torch.tensor(g), xt, wt, None, None, save_mean, save_invstd, True, 1e-5,
        [True, True, True])
    wo = fastdl.tensor(w) if affine else None
    mean, invstd = fastdl.batch_norm_stats(xo, 1e-5)
    sum_dy, sum_dy_xmu, grad_w, grad_b = fastdl.batch_norm_backward_reduce(
        fastdl.tensor(g), xo, mean, invstd, wo, True, affine, affine)
    np.testing.assert_allclose(sum_dy.numpy(), gb.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose((sum_dy_xmu * invstd).numpy(), gw.numpy(), rtol=1e-10,
                               atol=1e-12)
    if affine:
        np.testing.assert_allclose(grad_w.numpy(), gw.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad_b.numpy(), gb.numpy(), rtol=1e-10, atol=1e-12)
    else:
        assert grad_w is None and grad_b is None
    count = fastdl.tensor([shape[0] * int(np.prod(shape[2:]))], dtype=fastdl.int32)
    grad_in = fastdl.batch_norm_backward_elemt(fastdl.tensor(g), xo, mean, invstd, wo, sum_dy,
                                               sum_dy_xmu, count)
    np.testing.assert_allclose(grad_in.numpy(), gi.numpy(), rtol=1e-9, atol=1e-12)
    none = fastdl.batch_norm_backward_reduce(fastdl.tensor(g), xo, mean, invstd, wo, False,
                                             False, False)
    assert none == (None, None, None, None)


@pytest.mark.parametrize("shape", SHAPES + [(1, 3), (2, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_update_stats_matches_torch(shape, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    rm0, rv0 = rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5
    for given in ((True, True), (True, False), (False, True), (False, False)):
        ours_rm, ours_rv = fastdl.tensor(rm0.copy()), fastdl.tensor(rv0.copy())
        theirs_rm, theirs_rv = torch.tensor(rm0.copy()), torch.tensor(rv0.copy())
        ours = fastdl.batch_norm_update_stats(fastdl.tensor(x), ours_rm if given[0] else None,
                                              ours_rv if given[1] else None, 0.3)
        theirs = torch.batch_norm_update_stats(torch.tensor(x), theirs_rm if given[0] else None,
                                               theirs_rv if given[1] else None, 0.3)
        tol = 1e-6 if dtype == "float32" else 1e-12
        for a, b in zip(ours + (ours_rm, ours_rv), theirs + (theirs_rm, theirs_rv)):
            assert str(a.dtype) == str(b.dtype).replace("torch.", "")
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol)


def test_bad_input_errors():
    x, m, s = fastdl.randn(4, 3), fastdl.zeros(3), fastdl.ones(3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        fastdl.batch_norm_stats(fastdl.randn(3), 1e-5)
    with pytest.raises(NotImplementedError, match="'Long'"):
        fastdl.batch_norm_stats(fastdl.ones(2, 3, dtype=fastdl.int64), 1e-5)
    with pytest.raises(TypeError, match="fastdl.Tensor"):
        fastdl.batch_norm_elemt([[1.0]], None, None, m, s, 1e-5)
    with pytest.raises(RuntimeError, match="shape \\(3,\\)"):
        fastdl.batch_norm_elemt(x, fastdl.ones(2), None, m, s, 1e-5)
    with pytest.raises(RuntimeError, match="same data types"):
        fastdl.batch_norm_elemt(x, None, None, m, s.double(), 1e-5)
    with pytest.raises(RuntimeError, match="Expected mean to have type Float"):
        fastdl.batch_norm_gather_stats_with_counts(x, fastdl.zeros(2, 3, dtype=fastdl.float64),
                                                   fastdl.ones(2, 3), None, None, 0.1, 1e-5,
                                                   fastdl.ones(2))
    with pytest.raises(RuntimeError, match="one entry per row"):
        fastdl.batch_norm_gather_stats_with_counts(x, fastdl.zeros(2, 3), fastdl.ones(2, 3),
                                                   None, None, 0.1, 1e-5, fastdl.ones(3))
    with pytest.raises(TypeError, match="'count'"):
        fastdl.batch_norm_gather_stats(x, fastdl.zeros(2, 3), fastdl.ones(2, 3), None, None,
                                       0.1, 1e-5, 2.5)
    with pytest.raises(RuntimeError, match="expected scalar type Int"):
        fastdl.batch_norm_backward_elemt(x, x, m, s, None, m, m, fastdl.tensor([4]))
    with pytest.raises(RuntimeError, match="grad_out has shape"):
        fastdl.batch_norm_backward_reduce(fastdl.randn(4, 2), x, m, s, None, True, True, True)
    with pytest.raises(RuntimeError, match="at least one element"):
        fastdl.batch_norm_update_stats(fastdl.randn(0, 3), None, None, 0.1)
    with pytest.raises(RuntimeError, match="mixed dtype"):
        fastdl.batch_norm_update_stats(x, fastdl.zeros(3, dtype=fastdl.float64), None, 0.1)
    with pytest.raises(TypeError, match="'momentum'"):
        fastdl.batch_norm_update_stats(x, None, None, "0.1")


def test_invstd_is_zero_for_a_constant_channel_without_eps():
    mean, invstd = fastdl.batch_norm_stats(fastdl.ones(4, 2), 0.0)
    # torch's InvStd rule (also torch.native_batch_norm's on the CPU)
    _, _, theirs = torch.native_batch_norm(torch.ones(4, 2), None, None, None, None, True, 0.1,
                                           0.0)
    assert invstd.tolist() == theirs.tolist() == [0.0, 0.0] and mean.tolist() == [1.0, 1.0]
