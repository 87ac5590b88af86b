"""The per-thread pool of large host buffers (fastdl/backend/pool.py): reuse only of what nothing
refers to any more, the byte limit, and the results that come from it (attention outputs and
gradients, RNN input gradients) staying distinct while the user holds them."""
import threading

import numpy as np
import pytest

import fastdl
from fastdl.backend.pool import BufferPool
from fastdl.nn import functional as F


def address(a):
    return a.__array_interface__["data"][0]


def test_workspace_reuses_only_released_buffers():
    """A workspace buffer is handed out again only once nothing refers to it (a view keeps it),
    the smallest that fits first; past the limit the pool hands out plain arrays."""
    pool = BufferPool()
    a = pool.take((4, 8), np.float32)
    b = pool.take((4, 8), np.float32)
    assert not np.shares_memory(a, b)
    view = a[1:]
    first = address(a)
    del a
    c = pool.take((4, 8), np.float32)
    assert not np.shares_memory(c, view) and not np.shares_memory(c, b)
    del view
    d = pool.take((2, 3), np.float64)  # fits the released 128-byte buffer
    assert address(d) == first and d.dtype == np.float64
    pool.limit = pool.kept_bytes()
    e = pool.take((1000,), np.float32)  # nothing free fits, no room left: a plain array
    assert e.base is None and len(pool.buffers) == 3
    nc = np.arange(24.0).reshape(4, 6)[:, ::2]
    np.testing.assert_array_equal(pool.contiguous(nc), nc)
    assert pool.contiguous(c) is c


def test_owned_arrays_own_their_data_and_wait_for_release():
    pool = BufferPool()
    a = pool.take_owned((3, 5), np.float32)
    assert a.flags.owndata and a.flags.c_contiguous and a.shape == (3, 5)
    b = pool.take_owned((3, 5), np.float32)
    assert b is not a
    first = address(a)
    row = a[1]
    del a
    assert not np.shares_memory(pool.take_owned((3, 5), np.float32), row)  # the view holds it
    del row
    again = pool.take_owned((3, 5), np.float32)
    assert address(again) == first
    assert pool.take_owned((5, 3), np.float32) is not again  # exact shapes only
    assert pool.take_owned((3, 5), np.float64).dtype == np.float64


def test_aligned_arrays_start_on_cache_lines_and_wait_for_release():
    pool = BufferPool()
    arrays = [pool.take_aligned((7, 13), np.float32) for _ in range(5)]
    assert all(address(a) % 64 == 0 and a.flags.c_contiguous and a.shape == (7, 13)
               for a in arrays)
    assert len({address(a) for a in arrays}) == 5  # held: all distinct
    first, row = address(arrays[2]), arrays[2][3]
    arrays[2] = None
    assert address(pool.take_aligned((7, 13), np.float32)) != first  # the row view holds it
    del row
    assert address(pool.take_aligned((7, 13), np.float32)) == first
    assert pool.take_aligned((13, 7), np.float32).shape == (13, 7)  # exact shapes only
    assert pool.kept_bytes() == sum(a.base.nbytes for a in pool.aligned)
    del arrays
    pool.release()
    assert pool.aligned == [] and pool.kept_bytes() == 0


def test_limit_frees_released_buffers_before_refusing():
    pool = BufferPool()
    pool.limit = 4000
    a = pool.take_owned((500,), np.float32)  # 2000 bytes
    held = pool.take_owned((400,), np.float32)  # 1600
    del a
    c = pool.take_owned((600,), np.float32)  # 2400: fits once the released 2000 are dropped
    assert [x.nbytes for x in pool.owned] == [1600, 2400] and pool.owned[1] is c
    d = pool.take_owned((1000,), np.float32)  # nothing free to drop: a plain array
    assert all(x is not d for x in pool.owned) and d.flags.owndata
    del held
    pool.release()
    assert [x.nbytes for x in pool.owned] == [2400]
    del c, d
    pool.release()
    assert pool.owned == [] and pool.kept_bytes() == 0


def test_threads_have_their_own_buffers():
    pool = BufferPool()
    mine = pool.take_owned((16,), np.float32)
    del mine
    seen = []
    t = threading.Thread(target=lambda: seen.append(pool.take_owned((16,), np.float32)))
    t.start()
    t.join()
    assert len(pool.owned) == 1 and not np.shares_memory(seen[0], pool.owned[0])


@pytest.mark.parametrize("causal", [False, True])
def test_attention_results_stay_distinct_while_held(causal):
    """Gradients and outputs come from the pool: those the user keeps are never overwritten by a
    later call, released ones are reused, and every call's values are its own."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 17, 8)).astype(np.float32) for _ in range(4)]
    q, k, v = (fastdl.tensor(a, requires_grad=True) for a in arrays[:3])
    kept = []
    for scale in (1.0, 2.0, 3.0):
        q.grad = k.grad = v.grad = None
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        (out * scale).sum().backward()
        kept.append((out.detach().numpy(), q.grad.numpy(), v.grad.numpy()))
        assert address(kept[-1][0]) % 64 == 0  # the kernels may stream it
    for i, (out, gq, gv) in enumerate(kept):
        np.testing.assert_allclose(gq, kept[0][1] * (i + 1), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(gv, kept[0][2] * (i + 1), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out, kept[0][0])
        assert q.grad.numpy().flags.owndata
    for i in range(3):
        for j in range(i):
            for x, y in zip(kept[i], kept[j]):
                assert not np.shares_memory(x, y)


def test_rnn_input_gradient_is_stored_without_a_copy():
    """The GRU's input gradient comes from the pool as an array that owns its data: the engine
    stores it as .grad as it is; a second step writes a fresh one while the first is held."""
    m = fastdl.nn.GRU(6, 5)
    x = fastdl.tensor(np.random.default_rng(1).standard_normal((4, 3, 6)).astype(np.float32),
                      requires_grad=True)
    m(x)[0].sum().backward()
    first = x.grad
    assert first.numpy().flags.owndata
    before = first.numpy().copy()
    x.grad = None
    (m(x)[0] * 2).sum().backward()
    np.testing.assert_array_equal(first.numpy(), before)
    np.testing.assert_allclose(x.grad.numpy(), 2 * before, rtol=1e-5, atol=1e-6)


def test_large_conv_outputs_come_from_the_pool_and_stay_distinct_while_held():
    from fastdl.backend.pool import POOLED_RESULT_BYTES, result_array
    assert result_array((4, 4), np.float32).base is None  # small: plain numpy
    rng = np.random.default_rng(0)
    # outputs of 2 x 16 x 256 x 256 floats = 8 MiB: pooled
    x = fastdl.tensor(rng.standard_normal((2, 3, 256, 256)).astype(np.float32))
    w = fastdl.tensor(rng.standard_normal((16, 3, 3, 3)).astype(np.float32))
    with fastdl.no_grad():
        first = F.conv2d(x, w, padding=1).numpy()
        assert first.nbytes >= POOLED_RESULT_BYTES
        kept = first.copy()
        second = F.conv2d(x, w * 2.0, padding=1).numpy()  # `first` still held: a new array
        assert not np.shares_memory(first, second)
        np.testing.assert_array_equal(first, kept)
        np.testing.assert_allclose(second, 2 * kept, rtol=1e-5, atol=1e-5)
        address = first.__array_interface__["data"][0]
        del first, second
        third = F.conv2d(x, w, padding=1).numpy()  # released: the first free one is reused
        assert third.__array_interface__["data"][0] == address
        np.testing.assert_array_equal(third, kept)


@pytest.mark.parametrize("op", ["matmul", "batched matmul", "linear", "linear+bias", "gelu",
                                "gelu backward"])
def test_large_products_and_gelu_come_from_the_pool_and_stay_distinct_while_held(op):
    """A Transformer step's 8+ MiB intermediates (products, GELU's output and saved tanh, its
    input gradient): fresh pages each step cost the GPT step ~8% (bench/NOTES.md)."""
    rng = np.random.default_rng(1)
    a = fastdl.tensor(rng.standard_normal((2048, 96)).astype(np.float32))
    b = fastdl.tensor(rng.standard_normal((96, 1100)).astype(np.float32))  # (2048, 1100): 8.6 MiB
    bias = fastdl.tensor(rng.standard_normal(1100).astype(np.float32))
    x = fastdl.tensor(rng.standard_normal((2048, 1100)).astype(np.float32), requires_grad=True)

    def run(scale):
        if op == "matmul":
            return (a @ (b * scale)).numpy()
        if op == "batched matmul":
            return (a.reshape(2, 1024, 96) @ (b * scale)).numpy()
        if op in ("linear", "linear+bias"):
            return F.linear(a, (b * scale).T, bias if op == "linear+bias" else None).numpy()
        if op == "gelu":
            return F.gelu(x.detach() * scale, approximate="tanh").numpy()
        x.grad = None
        F.gelu(x, approximate="tanh").backward(fastdl.ones_like(x) * scale)
        return x.grad.numpy()

    from fastdl.backend.pool import host_pool
    first = run(1.0)
    assert first.nbytes >= 8 << 20
    assert any(held is first or held is first.base for held in host_pool.owned)
    kept = first.copy()
    second = run(2.0)  # `first` still held: a new array
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, kept)
    seen = address(first)
    del first, second
    if op == "gelu backward":
        x.grad = None
    third = run(1.0)
    np.testing.assert_array_equal(third, kept)
    assert address(third) == seen  # released: reused
