"""torch.convolution, conv_tbc, native_dropout, embedding_bag (ATen: four outputs),
unsafe_split_with_sizes, native_norm and norm_except_dim against torch 2.13 on random inputs
(odd shapes, float32 and float64): values, gradients, float64 gradcheck, torch's errors."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import gradcheck
from test_nn_layers_more import assert_same_error as raises_like

torch = pytest.importorskip("torch")

DTYPES = [(np.float32, 2e-5), (np.float64, 1e-10)]


def both(a, grad=True):
    a = np.asarray(a)
    g = grad and a.dtype.kind == "f"
    return fastdl.tensor(a.copy(), requires_grad=g), torch.tensor(a.copy(), requires_grad=g)


def compare(got, want, tol):
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = want if isinstance(want, (tuple, list)) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape)
        assert str(g.dtype) == str(w.dtype).replace("torch.", "")
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=tol, atol=tol)


def run_both(name, arrays, rest, tol, *, grad=True):
    """fastdl.<name>(*tensors, *rest) against torch's; values, then the gradients of a random
    projection of the first output."""
    pairs = [both(a, grad) if a is not None else (None, None) for a in arrays]
    got = getattr(fastdl, name)(*[p[0] for p in pairs], *rest)
    want = getattr(torch, name)(*[p[1] for p in pairs], *rest)
    compare(got, want, tol)
    if grad:
        g0 = got[0] if isinstance(got, tuple) else got
        w0 = want[0] if isinstance(want, tuple) else want
        proj = np.random.default_rng().standard_normal(tuple(w0.shape)).astype(w0.numpy(
            force=True).dtype if hasattr(w0, "numpy") else np.float64)
        (g0 * fastdl.tensor(proj)).sum().backward()
        (w0 * torch.tensor(proj)).sum().backward()
        for f, t in pairs:
            if f is not None and f.requires_grad:
                np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=tol * 20,
                                           atol=tol * 20)


# ---------------------------------------------------------------- convolution

CONV_CASES = [
    # d, N, C_in, C_out, spatial, kernel, stride, padding, dilation, transposed, out_pad, groups
    (1, 2, 3, 4, (11,), (3,), [2], [1], [1], False, [0], 1),
    (1, 1, 4, 6, (7,), (2,), [1], [0], [2], False, [0], 2),
    (2, 2, 3, 5, (7, 6), (3, 2), [1, 2], [1, 0], [1, 1], False, [0], 1),
    (2, 1, 4, 4, (5, 5), (3, 3), [2], [1], [1], False, [0], 4),
    (3, 1, 2, 3, (4, 5, 3), (2, 3, 1), [1], [1, 0, 0], [1], False, [0], 1),
    (1, 2, 4, 3, (5,), (3,), [2], [1], [1], True, [1], 1),
    (2, 1, 4, 6, (3, 4), (3, 2), [2, 1], [1, 0], [1, 1], True, [1, 0], 2),
    (3, 1, 2, 2, (2, 3, 2), (2, 2, 1), [2], [0], [1], True, [0], 1),
]


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution_matches_torch(case, dtype, tol):
    d, n, cin, cout, spatial, k, stride, pad, dil, transposed, opad, groups = case
    rng = np.random.default_rng()
    x = rng.standard_normal((n, cin, *spatial)).astype(dtype)
    wshape = (cin, cout // groups, *k) if transposed else (cout, cin // groups, *k)
    w = rng.standard_normal(wshape).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    rest = [stride, pad, dil, transposed, opad, groups]
    run_both("convolution", [x, w, b], rest, tol)
    run_both("convolution", [x, w, None], rest, tol)


def test_convolution_gradcheck():
    rng = np.random.default_rng()
    x = fastdl.tensor(rng.standard_normal((1, 2, 5)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: fastdl.convolution(x, w, b, [2], [1], [1], True, [1], 1),
                     (x, w, b))


def test_convolution_errors():
    x, w = np.zeros((2, 3, 7), np.float32), np.zeros((4, 3, 3), np.float32)
    bad = [
        (x[0], w, None, [1], [0], [1], False, [0], 1),     # unbatched input
        (x, w, None, [1, 1], [0], [1], False, [0], 1),    # stride of the wrong length
        (x, w, None, [1], [0], [1], True, [0], 1),        # transposed: channels mismatch
        (x, w, np.zeros(3, np.float32), [1], [0], [1], False, [0], 1),
        (x, w, None, [1], [0], [1], False, [0], 2),       # groups
        (x, w.astype(np.float64), None, [1], [0], [1], False, [0], 1),
        (x, w, None, [0], [0], [1], False, [0], 1),
        (x, w, None, [1], [-1], [1], False, [0], 1),
    ]
    for args in bad:
        ft = [fastdl.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        tt = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        raises_like(lambda: fastdl.convolution(*ft), lambda: torch.convolution(*tt))
    with pytest.raises(TypeError):
        fastdl.convolution(fastdl.tensor(x), fastdl.tensor(w), None, 1, [0], [1], False, [0], 1)


# ---------------------------------------------------------------- conv_tbc

@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("t,b,cin,cout,k,pad", [(7, 2, 3, 4, 3, 0), (9, 3, 2, 5, 4, 2),
                                                (6, 1, 3, 3, 1, 1), (8, 2, 3, 2, 3, -1),
                                                (2, 2, 3, 4, 3, 0), (5, 2, 1, 2, 5, 3)])
def test_conv_tbc_matches_torch(t, b, cin, cout, k, pad, dtype, tol):
    rng = np.random.default_rng()
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((t, b, cin), (k, cin, cout), (cout,))]
    run_both("conv_tbc", arrays, [pad], tol)


def test_conv_tbc_gradcheck_and_errors():
    rng = np.random.default_rng()
    args = [fastdl.tensor(rng.standard_normal(s), requires_grad=True)
            for s in ((6, 2, 3), (3, 3, 2), (2,))]
    assert gradcheck(lambda x, w, b: fastdl.conv_tbc(x, w, b, 1), args)
    x, w, b = np.zeros((7, 2, 3), np.float32), np.zeros((3, 3, 4), np.float32), \
        np.zeros(4, np.float32)
    for a in [(x[0], w, b), (x, w[0], b), (x, w, b[None]), (x, w[:, :2], b), (x, w, b[:3]),
              (x, w.astype(np.float64), b)]:
        raises_like(lambda: fastdl.conv_tbc(*map(fastdl.tensor, a)),
                    lambda: torch.conv_tbc(*map(torch.tensor, a)))


# ---------------------------------------------------------------- native_dropout

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_native_dropout_training(p, dtype):
    x = fastdl.tensor(np.random.default_rng().standard_normal((37, 29)).astype(dtype),
                      requires_grad=True)
    out, mask = fastdl.native_dropout(x, p, True)
    assert mask.dtype == np.bool_ and out.dtype == x.dtype and mask.shape == x.shape
    keep = mask.numpy()
    scale = 0.0 if p == 1 else 1 / (1 - p)
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() * keep * scale,
                               rtol=1e-6)
    if 0 < p < 1:  # about 1 - p of 1073 elements kept
        assert abs(keep.mean() - (1 - p)) < 0.08
    assert keep.all() if p == 0 else (not keep.any() if p == 1 else True)
    g = np.random.default_rng().standard_normal(x.shape).astype(dtype)
    out.backward(fastdl.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * keep * scale, rtol=1e-6)


def test_native_dropout_eval_none_and_errors():
    xa = np.random.default_rng().standard_normal((3, 5)).astype(np.float32)
    for train in (False,):
        out, mask = fastdl.native_dropout(fastdl.tensor(xa), 0.5, train)
        tout, tmask = torch.native_dropout(torch.tensor(xa), 0.5, train)
        compare((out, mask), (tout, tmask), 0)
    out, mask = fastdl.native_dropout(fastdl.tensor(xa), 0.0, None)  # None trains
    assert mask.numpy().all() and np.array_equal(out.numpy(), xa)
    ints = np.arange(6, dtype=np.int32)
    compare(fastdl.native_dropout(fastdl.tensor(ints), 0.5, False),
            torch.native_dropout(torch.tensor(ints), 0.5, False), 0)
    for a in [(xa, 1.5, True), (xa, -0.1, True), (ints, 0.5, True)]:
        raises_like(lambda: fastdl.native_dropout(fastdl.tensor(a[0]), *a[1:]),
                    lambda: torch.native_dropout(torch.tensor(a[0]), *a[1:]))
    x = fastdl.tensor(xa.astype(np.float64), requires_grad=True)
    assert gradcheck(lambda x: fastdl.native_dropout(x, 0.5, False)[0], (x,))


# ---------------------------------------------------------------- embedding_bag

def _bags(rng, n_idx, n_bags, rows):
    idx = rng.integers(0, rows, n_idx)
    cuts = np.sort(rng.integers(0, n_idx + 1, n_bags - 1))
    return idx, np.concatenate([[0], cuts])


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding_idx", [None, 3, -2])
@pytest.mark.parametrize("psw", [False, True])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_embedding_bag_matches_torch(mode, padding_idx, psw, index_dtype, dtype, tol):
    if psw and mode != 0:
        return
    rng = np.random.default_rng()
    rows, dim = 9, 5
    idx, off = _bags(rng, 23, 7, rows)
    idx[rng.integers(0, 23, 4)] = 3  # some padding entries
    w = rng.standard_normal((rows, dim)).astype(dtype)
    fw, tw = both(w)
    fi, ti = both(idx.astype(index_dtype))
    fo, to = both(off.astype(index_dtype))
    fp = tp = None
    if psw:
        fp, tp = both(rng.standard_normal(23).astype(dtype))
    got = fastdl.embedding_bag(fw, fi, fo, False, mode, False, fp, False, padding_idx)
    want = torch.embedding_bag(tw, ti, to, False, mode, False, tp, False, padding_idx)
    compare(got, want, tol)
    proj = rng.standard_normal(tuple(want[0].shape)).astype(dtype)
    (got[0] * fastdl.tensor(proj)).sum().backward()
    (want[0] * torch.tensor(proj)).sum().backward()
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    if psw:
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("trailing", [False, True])
def test_embedding_bag_include_last_offset(mode, trailing):
    rng = np.random.default_rng()
    w = rng.standard_normal((8, 3)).astype(np.float32)
    idx, off = _bags(rng, 17, 5, 8)
    off = np.append(off, 14 if trailing else 17)
    off = np.minimum(off, off[-1])
    args = (False, mode, False, None, True)
    got = fastdl.embedding_bag(fastdl.tensor(w), fastdl.tensor(idx), fastdl.tensor(off), *args)
    want = torch.embedding_bag(torch.tensor(w), torch.tensor(idx), torch.tensor(off), *args)
    if not trailing:  # the documented use: the last offset is the number of indices
        compare(got, want, 2e-5)
        return
    # indices after the last offset: torch's bookkeeping counts them into the last bag
    compare(got[1:], want[1:], 0)
    # its float32 mean divides the last bag's sum by that count; fastdl's value is the mean
    # of the last bag as documented (it ends at the last offset)
    compare(got[0][:-1], want[0][:-1], 2e-5)
    last = idx[off[-2]:off[-1]]
    if mode == 1 and last.size:
        np.testing.assert_allclose(got[0][-1].numpy(), w[last].mean(0), rtol=1e-5)
    elif mode != 1:
        compare(got[0], want[0], 2e-5)


def test_embedding_bag_gradcheck_and_errors():
    rng = np.random.default_rng()
    w = fastdl.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    idx, off = fastdl.tensor([0, 2, 5, 1, 2]), fastdl.tensor([0, 2, 2])
    for mode in (0, 1, 2):
        assert gradcheck(lambda w: fastdl.embedding_bag(w, idx, off, False, mode)[0], (w,))
    wa = np.zeros((6, 3), np.float32)
    ia, oa = np.array([0, 2, 5, 1]), np.array([0, 2])
    bad = [(wa, ia, oa, False, 3), (wa, ia.astype(np.float32), oa, False, 0),
           (wa, ia, oa[None], False, 0), (wa, ia, np.array([0, 9]), False, 0),
           (wa, ia, oa, False, 1, False, np.ones(4, np.float32)),
           (wa, ia, oa, False, 0, False, None, False, 6)]
    for a in bad:
        ft = [fastdl.tensor(v) if isinstance(v, np.ndarray) else v for v in a]
        tt = [torch.tensor(v) if isinstance(v, np.ndarray) else v for v in a]
        raises_like(lambda: fastdl.embedding_bag(*ft), lambda: torch.embedding_bag(*tt))
    with pytest.raises(TypeError):
        fastdl.embedding_bag(fastdl.tensor(wa), fastdl.tensor(ia), None)


# ---------------------------------------------------------------- splits and norms

@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_unsafe_split_with_sizes(dtype, tol):
    rng = np.random.default_rng()
    a = rng.standard_normal((7, 5)).astype(dtype)
    for sizes, dim in (([2, 0, 5], 0), ([1, 4], 1), ([5], -1)):
        f, t = both(a)
        got = fastdl.unsafe_split_with_sizes(f, sizes, dim)
        want = torch.unsafe_split_with_sizes(t, sizes, dim)
        assert isinstance(got, tuple)
        compare(got, want, 0)
        assert [tuple(g.shape) for g in f.unsafe_split_with_sizes(sizes, dim)] == \
            [tuple(w.shape) for w in want]
        sum((g * (i + 1)).sum() for i, g in enumerate(got)).backward()
        sum((w * (i + 1)).sum() for i, w in enumerate(want)).backward()
        np.testing.assert_array_equal(f.grad.numpy(), t.grad.numpy())
    for sizes in ([2, 2], [2, -1, 6]):
        raises_like(lambda: fastdl.unsafe_split_with_sizes(fastdl.tensor(a), sizes),
                    lambda: torch.unsafe_split_with_sizes(torch.tensor(a), sizes))


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("p", [2, 3, 1, 0, 0.5, -1, float("inf"), float("-inf")])
def test_native_norm_matches_torch_sparse(p, dtype, tol):
    # torch computes native_norm on sparse tensors only: compare with the sparse form of the
    # same (all nonzero) values
    rng = np.random.default_rng()
    a = rng.uniform(0.5, 2, (3, 4, 5)).astype(dtype) * rng.choice([-1, 1], (3, 4, 5))
    f, t = both(a)
    got = fastdl.native_norm(f, p)
    want = torch.native_norm(t.to_sparse(), p)
    compare(got, want, tol * 10)
    compare(fastdl.native_norm(f, p, [0, 1, 2], False, None),
            torch.native_norm(t.detach().to_sparse(), p, [0, 1, 2], False, None), tol * 10)
    if p != 0:  # torch has no native_norm derivative: the dense vector norm's gradient
        got.backward()
        torch.linalg.vector_norm(t, p).backward()
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=tol * 100,
                                   atol=tol * 100)


def test_native_norm_gradcheck_and_errors():
    x = fastdl.tensor(np.random.default_rng().standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda x: fastdl.native_norm(x, 3), (x,))
    s = torch.randn(2, 3).to_sparse()
    f = fastdl.tensor(s.to_dense().numpy())
    for a in [(2, [1], False, None), (2, [0, 1], True, None), (2, [0, 1], False, torch.float64)]:
        with pytest.raises(RuntimeError):
            torch.native_norm(s, *a)
        fa = list(a)
        fa[3] = fastdl.float64 if a[3] is not None else None
        with pytest.raises(RuntimeError):
            fastdl.native_norm(f, *fa)
    raises_like(lambda: fastdl.native_norm(f.int()), lambda: torch.native_norm(s.int()))
    raises_like(lambda: fastdl.native_norm(f, "fro"), lambda: torch.native_norm(s, "fro"))


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("pow_,dim", [(2, 0), (2, 1), (3, 2), (2, -1), (1, -2), (4, -3)])
def test_norm_except_dim(pow_, dim, dtype, tol):
    a = np.random.default_rng().standard_normal((3, 4, 5)).astype(dtype)
    run_both("norm_except_dim", [a], [pow_, dim], tol * 10)


def test_norm_except_dim_default_gradcheck_and_errors():
    a = np.random.default_rng().standard_normal((2, 7)).astype(np.float32)
    compare(fastdl.norm_except_dim(fastdl.tensor(a)), torch.norm_except_dim(torch.tensor(a)),
            1e-5)
    x = fastdl.tensor(a.astype(np.float64), requires_grad=True)
    assert gradcheck(lambda x: fastdl.norm_except_dim(x, 3, 1), (x,))
    for args in [(2, 3), (2, -4), (2.0, 0)]:
        raises_like(lambda: fastdl.norm_except_dim(fastdl.tensor(a), *args),
                    lambda: torch.norm_except_dim(torch.tensor(a), *args))
    raises_like(lambda: fastdl.norm_except_dim(fastdl.tensor(a).int()),
                lambda: torch.norm_except_dim(torch.tensor(a).int()))
