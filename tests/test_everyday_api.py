"""Everyday PyTorch surface (issue #9): is_tensor, default dtype, print options, inference_mode,
Generator, bfloat16, data loading with workers, Subset/ConcatDataset/random_split,
fastdl.utils.data, LBFGS, parameters_to_vector / vector_to_parameters."""
import threading
import time

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.utils.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                               get_worker_info, random_split)


def test_is_tensor():
    assert fastdl.is_tensor(fastdl.zeros(2)) and fastdl.is_tensor(nn.Parameter(fastdl.zeros(2)))
    assert not fastdl.is_tensor(np.zeros(2)) and not fastdl.is_tensor([1.0])


def test_default_dtype_round_trip():
    assert fastdl.get_default_dtype() == fastdl.float32
    try:
        fastdl.set_default_dtype(fastdl.float64)
        assert fastdl.get_default_dtype() == fastdl.float64
        for t in (fastdl.tensor([1.5]), fastdl.randn(2), fastdl.rand(2), fastdl.zeros(2),
                  fastdl.ones(1), fastdl.full((2,), 1.5), fastdl.arange(0.0, 3.0),
                  fastdl.linspace(0, 1, 3), fastdl.eye(2)):
            assert t.dtype == fastdl.float64, t
        assert fastdl.tensor([1, 2]).dtype == fastdl.int64
        assert nn.Linear(2, 3).weight.dtype == fastdl.float64
    finally:
        fastdl.set_default_dtype(fastdl.float32)
    assert fastdl.tensor([1.5]).dtype == fastdl.float32
    with pytest.raises(TypeError, match="floating point"):
        fastdl.set_default_dtype(fastdl.int64)


def test_set_printoptions():
    x = fastdl.tensor([1.234567, 2.0])
    try:
        fastdl.set_printoptions(precision=2)
        assert "1.23" in repr(x) and "1.2346" not in repr(x)
        fastdl.set_printoptions(threshold=5, edgeitems=2)
        assert "..." in repr(fastdl.arange(100))
        fastdl.set_printoptions(sci_mode=True)
        assert "e+00" in repr(x)
    finally:
        fastdl.set_printoptions(profile="default")
    assert "1.2346" in repr(x) and "..." not in repr(fastdl.arange(100))
    with pytest.raises(ValueError, match="profile"):
        fastdl.set_printoptions(profile="loud")


def test_inference_mode_top_level():
    x = fastdl.randn(3, requires_grad=True)
    with fastdl.inference_mode():
        assert not (x * 2).requires_grad

    @fastdl.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and (x * 2).requires_grad


def test_generator_reproduces_draws_and_is_independent():
    g = fastdl.Generator().manual_seed(123)
    a = (fastdl.randn(4, generator=g), fastdl.rand(3, generator=g),
         fastdl.randint(0, 10, (5,), generator=g), fastdl.randperm(6, generator=g))
    fastdl.manual_seed(0)  # the global state does not affect a generator
    g.manual_seed(123)
    b = (fastdl.randn(4, generator=g), fastdl.rand(3, generator=g),
         fastdl.randint(0, 10, (5,), generator=g), fastdl.randperm(6, generator=g))
    for x, y in zip(a, b):
        assert x.tolist() == y.tolist()
    state = g.get_state()
    c = fastdl.randn(2, generator=g)
    g.set_state(state)
    assert fastdl.randn(2, generator=g).tolist() == c.tolist()
    assert g.initial_seed() == 123
    with pytest.raises(TypeError, match="fastdl.Generator"):
        fastdl.randn(2, generator="seed")


def test_dropout_with_a_generator():
    x = fastdl.ones(1000)
    g = fastdl.Generator()
    m1 = nn.functional.dropout(x, 0.5, generator=g.manual_seed(7))
    m2 = nn.functional.dropout(x, 0.5, generator=g.manual_seed(7))
    assert m1.tolist() == m2.tolist()


def test_bfloat16_is_a_clear_error():
    assert repr(fastdl.bfloat16) == "fastdl.bfloat16"
    for make in (lambda: fastdl.zeros(2, dtype=fastdl.bfloat16),
                 lambda: fastdl.tensor([1.0], dtype="bfloat16"),
                 lambda: fastdl.ones(2).to(fastdl.bfloat16)):
        with pytest.raises(TypeError, match="bfloat16 is not a storage dtype.*float32"):
            make()


class _Slow(Dataset):
    """Items that take a while and record which thread built them."""

    def __init__(self, n=24, delay=0.005):
        self.n, self.delay, self.threads = n, delay, set()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay)
        self.threads.add(threading.current_thread().name)
        info = get_worker_info()
        return np.float32(i), -1 if info is None else info.id


@pytest.mark.parametrize("persistent", [False, True])
def test_dataloader_workers_prefetch_in_order(persistent):
    ds = _Slow()
    seen = []
    loader = DataLoader(ds, batch_size=4, num_workers=3, prefetch_factor=2,
                        worker_init_fn=seen.append, persistent_workers=persistent,
                        pin_memory=True)
    for epoch in range(2):
        values = [v for batch in loader for v in batch[0].tolist()]
        assert values == [float(i) for i in range(24)]
    assert any(name.startswith("fastdl-dataloader") for name in ds.threads)
    assert sorted(set(seen)) == [0, 1, 2]
    assert len(seen) == (3 if persistent else 6)  # persistent workers initialise once
    serial = [b[0].tolist() for b in DataLoader(ds, batch_size=4)]
    assert serial == [b[0].tolist() for b in loader]


def test_dataloader_workers_overlap_loading():
    ds = _Slow(n=16, delay=0.02)
    t0 = time.perf_counter()
    list(DataLoader(ds, batch_size=2, num_workers=4))
    parallel = time.perf_counter() - t0
    assert parallel < 16 * 0.02 * 0.75, f"4 workers took {parallel:.3f} s for 0.32 s of sleeps"


def test_dataloader_worker_errors_reach_the_caller():
    class Bad(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            if i == 5:
                raise KeyError("item 5 is broken")
            return np.float32(i)

    with pytest.raises(KeyError, match="item 5"):
        list(DataLoader(Bad(), batch_size=2, num_workers=2))


def test_dataloader_argument_checks():
    ds = TensorDataset(np.arange(10.0))
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, generator="nope")


def test_dataloader_generator_shuffles_reproducibly():
    ds = TensorDataset(np.arange(20.0))
    order = lambda seed: [v for b in DataLoader(ds, batch_size=5, shuffle=True, num_workers=2,
                                                generator=fastdl.Generator().manual_seed(seed))
                          for v in b[0].tolist()]
    assert order(3) == order(3) != order(4)
    assert sorted(order(3)) == [float(i) for i in range(20)]


def test_subset_concat_random_split():
    a, b = TensorDataset(np.arange(5.0)), TensorDataset(np.arange(10.0, 13.0))
    cat = ConcatDataset([a, b])
    assert len(cat) == 8 and cat.cumulative_sizes == [5, 8]
    assert [float(cat[i][0]) for i in range(8)] == [0, 1, 2, 3, 4, 10, 11, 12]
    assert float(cat[-1][0]) == 12
    with pytest.raises(IndexError):
        cat[8]
    sub = Subset(cat, [7, 0])
    assert len(sub) == 2 and float(sub[0][0]) == 12
    parts = random_split(range(10), [7, 3], generator=fastdl.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(range(10), [7, 3], generator=fastdl.Generator().manual_seed(1))
    assert again[0].indices == parts[0].indices
    assert [len(p) for p in random_split(range(10), [0.5, 0.3, 0.2])] == [5, 3, 2]
    assert [len(p) for p in random_split(range(11), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="summing"):
        random_split(range(10), [3, 3])


def test_utils_data_is_the_torch_import_path():
    import fastdl.utils.data as ud
    assert ud.DataLoader is fastdl.data.DataLoader and ud.random_split is fastdl.data.random_split


def test_parameters_to_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    (vec * fastdl.arange(vec.shape[0], dtype=fastdl.float32)).sum().backward()
    assert model[0].weight.grad.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    nn.utils.vector_to_parameters(fastdl.arange(11, dtype=fastdl.float32), model.parameters())
    assert model[1].bias.tolist() == [10.0] and model[0].bias.tolist() == [6.0, 7.0]
    with pytest.raises(ValueError, match="parameters have 11"):
        nn.utils.vector_to_parameters(fastdl.zeros(12), model.parameters())


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search):
    torch = pytest.importorskip("torch")
    start = np.array([-1.2, 1.0, 0.5, -0.3])

    def rosen(x, lib):
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()

    fx = fastdl.tensor(start, dtype=fastdl.float64, requires_grad=True)
    tx = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    fopt = fastdl.optim.LBFGS([fx], lr=1, max_iter=15, history_size=5,
                              line_search_fn=line_search)
    topt = torch.optim.LBFGS([tx], lr=1, max_iter=15, history_size=5,
                             line_search_fn=line_search)

    def fclosure():
        fopt.zero_grad()
        loss = rosen(fx, fastdl)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = rosen(tx, torch)
        loss.backward()
        return loss

    for _ in range(4):
        fl, tl = fopt.step(fclosure), topt.step(tclosure)
        np.testing.assert_allclose(float(fl), float(tl), rtol=1e-9)
        np.testing.assert_allclose(fx.detach().numpy(), tx.detach().numpy(), rtol=1e-8,
                                   atol=1e-10)
    assert fopt.state[fx]["func_evals"] == topt.state[tx]["func_evals"]
    assert float(rosen(fx, fastdl)) < float(rosen(fastdl.tensor(start), fastdl))


def test_lbfgs_needs_a_closure():
    p = nn.Parameter(fastdl.zeros(2))
    with pytest.raises(RuntimeError, match="closure"):
        fastdl.optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="strong_wolfe"):
        fastdl.optim.LBFGS([p], line_search_fn="armijo")
