"""optim.SparseAdam against torch 2.13's SparseAdam on the same embedding training steps.

torch trains an Embedding(sparse=True) (sparse row gradients); fastdl's gradient is dense, and
its SparseAdam updates the rows with a non-zero gradient (see fastdl/optim/sparse_adam.py)."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def _train(lib, weight, batches, opt_kwargs, padding_idx=None, dtype=np.float64, head=None):
    emb = lib.nn.Embedding(*weight.shape, sparse=True, padding_idx=padding_idx)
    if lib is torch:
        emb = emb.to(torch.float64 if dtype == np.float64 else torch.float32)
        with torch.no_grad():
            emb.weight.copy_(torch.tensor(weight.astype(dtype)))
    else:
        emb.weight.data = fastdl.tensor(weight.astype(dtype))
    opt = lib.optim.SparseAdam(list(emb.parameters()), **opt_kwargs)
    for idx, target in batches:
        opt.zero_grad()
        out = emb(lib.tensor(idx))
        loss = ((out - lib.tensor(target.astype(dtype))) ** 2).sum()
        loss.backward()
        opt.step()
    w = emb.weight.detach().numpy()
    state = opt.state[emb.weight]
    moments = [np.asarray(state[k].to_dense() if lib is torch else state[k])
               for k in ("exp_avg", "exp_avg_sq")]
    return w, state["step"], moments


def _batches(r, rows, dim, n_steps, batch):
    return [(r.integers(0, rows, batch), r.standard_normal((batch, dim)))
            for _ in range(n_steps)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt_kwargs", [dict(lr=0.05), dict(lr=0.1, betas=(0.8, 0.95), eps=1e-6),
                                        dict(lr=0.02, maximize=True)])
def test_embedding_training_matches_torch(opt_kwargs, dtype):
    r = np.random.default_rng(0)
    weight = r.standard_normal((20, 4))
    batches = _batches(r, 20, 4, 12, 5)  # few rows per step: most rows sit out most steps
    tw, tstep, tmom = _train(torch, weight, batches, opt_kwargs, dtype=dtype)
    fw, fstep, fmom = _train(fastdl, weight, batches, opt_kwargs, dtype=dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert fstep == int(tstep)
    np.testing.assert_allclose(fw, tw, **tol)
    for f, t in zip(fmom, tmom):
        np.testing.assert_allclose(f, t, **tol)
    # lazy: a row no batch touched is exactly where it started, with zero moments
    untouched = sorted(set(range(20)) - {int(i) for idx, _ in batches for i in idx})
    assert untouched, "the batches should leave some rows untouched"
    np.testing.assert_array_equal(fw[untouched], weight[untouched].astype(dtype))
    assert not fmom[0][untouched].any()


def test_differs_from_dense_adam():
    # plain Adam keeps decaying the moments of rows without gradient and keeps moving them
    r = np.random.default_rng(1)
    weight = r.standard_normal((10, 3))
    batches = [(np.array([1, 2]), r.standard_normal((2, 3))),
               (np.array([3]), r.standard_normal((1, 3)))]
    sparse_w, _, _ = _train(fastdl, weight, batches, dict(lr=0.1))
    emb = fastdl.nn.Embedding(10, 3)
    emb.weight.data = fastdl.tensor(weight)
    opt = fastdl.optim.Adam(emb.parameters(), lr=0.1)
    for idx, target in batches:
        opt.zero_grad()
        ((emb(fastdl.tensor(idx)) - fastdl.tensor(target)) ** 2).sum().backward()
        opt.step()
    dense_w = emb.weight.detach().numpy()
    assert not np.allclose(sparse_w[1], dense_w[1])  # Adam moved row 1 again at step 2
    untouched = [0, 4, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(sparse_w[untouched], dense_w[untouched])


def test_padding_idx_rows_stay_put_like_torch():
    r = np.random.default_rng(2)
    weight = r.standard_normal((8, 3))
    batches = [(np.array([0, 2, 0, 5]), r.standard_normal((4, 3))) for _ in range(4)]
    tw, _, _ = _train(torch, weight, batches, dict(lr=0.1), padding_idx=0)
    fw, _, _ = _train(fastdl, weight, batches, dict(lr=0.1), padding_idx=0)
    np.testing.assert_allclose(fw, tw, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(fw[0], weight[0])


def test_state_dict_and_other_shapes():
    p = fastdl.nn.Parameter(fastdl.zeros(4))
    opt = fastdl.optim.SparseAdam([p], lr=0.5)
    p.grad = fastdl.tensor([0.0, 1.0, 0.0, -2.0])
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0, -0.5, 0, 0.5], rtol=1e-6)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999) and sd["state"][0]["step"] == 1
    q = fastdl.nn.Parameter(fastdl.zeros(3, 2, 2))
    opt2 = fastdl.optim.SparseAdam([q], lr=0.5)
    g = np.zeros((3, 2, 2))
    g[1, 0, 1] = 1.0
    q.grad = fastdl.tensor(g)
    opt2.step()
    moved = (q.detach().numpy() != 0).reshape(3, -1).any(1)
    assert moved.tolist() == [False, True, False]
    q.grad = fastdl.zeros(3, 2, 2)  # nothing present: no change, as an empty sparse gradient
    before = q.detach().numpy().copy()
    opt2.step()
    np.testing.assert_array_equal(q.detach().numpy(), before)


@pytest.mark.parametrize("kwargs", [dict(lr=0.0), dict(lr=-1.0), dict(eps=0.0),
                                    dict(betas=(1.0, 0.9)), dict(betas=(0.9, -0.1))])
def test_constructor_errors_match_torch(kwargs):
    with pytest.raises(ValueError) as want:
        torch.optim.SparseAdam([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    with pytest.raises(ValueError) as got:
        fastdl.optim.SparseAdam([fastdl.nn.Parameter(fastdl.zeros(2))], **kwargs)
    assert str(got.value) == str(want.value)
