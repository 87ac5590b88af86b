"""fastdl's top-level tensor queries and process switches (detach, typename, get_device, the
default device, inter-op threads, warn_always, anomaly mode, flush_denormal) and the
function transforms vmap, cond and while_loop against torch 2.13: values, gradients and
torch's errors on random inputs."""
import numpy as np
import pytest

import fastdl
from fastdl import process_state
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")


def same_error(fd_call, torch_call, match=None):
    with pytest.raises(Exception) as want:
        torch_call()
    with pytest.raises(type(want.value), match=match):
        fd_call()
    return want.value


# ---------------------------------------------------------------- queries and switches

def test_detach_typename_get_device():
    a = np.random.default_rng().standard_normal((3, 2)).astype(np.float32)
    x = fastdl.tensor(a, requires_grad=True)
    y = fastdl.detach(x * 2)
    assert not y.requires_grad and np.array_equal(y.numpy(), a * 2)
    assert fastdl.get_device(x) == torch.get_device(torch.tensor(a)) == -1
    assert x.get_device() == torch.tensor(a).get_device()
    assert x.is_inference() is torch.tensor(a).is_inference() is False
    for dtype in (np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_):
        t = torch.tensor(np.zeros(2, dtype))
        assert fastdl.typename(fastdl.tensor(np.zeros(2, dtype))) == \
            torch.typename(t).replace("torch.", "fastdl.")
    for obj in (3, "s", None, 2.5, [1], len, fastdl.nn.Linear, np.float32(1)):
        assert fastdl.typename(obj) == torch.typename(obj)
    assert fastdl.typename(fastdl.nn.Linear(2, 2)) == "fastdl.nn.modules.linear.Linear"
    for fn in ("detach", "get_device", "is_inference"):
        same_error(lambda: getattr(fastdl, fn)(3), lambda: getattr(torch, fn)(3))


def test_is_inference_and_is_storage():
    with fastdl.inference_mode():
        made = fastdl.ones(2) * 2
    # fastdl's inference_mode makes ordinary tensors (it works like no_grad)
    assert fastdl.is_inference(made) is False and fastdl.is_inference(fastdl.ones(1)) is False
    assert torch.is_inference(torch.ones(1)) is False
    assert fastdl.is_storage(fastdl.ones(1)) is torch.is_storage(torch.ones(1)) is False
    assert fastdl.is_storage(3) is False


def test_default_device():
    assert fastdl.get_default_device() == str(torch.get_default_device()) == "cpu"
    fastdl.set_default_device(None)
    fastdl.set_default_device("cpu")
    assert fastdl.zeros(2).device == "cpu" and fastdl.get_default_device() == "cpu"
    with pytest.raises(RuntimeError, match="fastdl's default device is always 'cpu'"):
        fastdl.set_default_device("cuda")
    same_error(lambda: fastdl.set_default_device("foo"),
               lambda: torch.set_default_device("foo"))
    assert fastdl.get_default_device() == "cpu"


def test_interop_threads(monkeypatch):
    monkeypatch.setitem(process_state._FLAGS, "interop_set", False)
    monkeypatch.setitem(process_state._FLAGS, "interop_threads", 1)
    assert fastdl.get_num_interop_threads() == 1
    for bad in (0, -1, "x", 2.0):
        same_error(lambda: fastdl.set_num_interop_threads(bad),
                   lambda: torch.set_num_interop_threads(bad))
    threads = fastdl.get_num_threads()
    fastdl.set_num_interop_threads(3)
    assert fastdl.get_num_interop_threads() == 3 and fastdl.get_num_threads() == threads
    with pytest.raises(RuntimeError, match="cannot set number of interop threads"):
        fastdl.set_num_interop_threads(2)  # torch allows it once per process


def test_warn_always_and_flush_denormal():
    assert fastdl.is_warn_always_enabled() is torch.is_warn_always_enabled() is False
    try:
        fastdl.set_warn_always(True)
        assert fastdl.is_warn_always_enabled() is True
    finally:
        fastdl.set_warn_always(False)
    assert fastdl.is_warn_always_enabled() is False
    for bad in ("x", 1, None):
        same_error(lambda: fastdl.set_warn_always(bad), lambda: torch.set_warn_always(bad))
        same_error(lambda: fastdl.set_flush_denormal(bad),
                   lambda: torch.set_flush_denormal(bad))
    assert fastdl.set_flush_denormal(True) is False
    assert fastdl.set_flush_denormal(False) is False
    tiny = fastdl.tensor([1e-40], dtype=fastdl.float32)  # denormals still computed
    assert (tiny * 1).item() != 0


def test_anomaly_mode_flags_and_nan_check():
    assert fastdl.is_anomaly_enabled() is False and fastdl.is_anomaly_check_nan_enabled()
    try:
        for args in ((True,), (True, False), (False, False), (False,), (True, True)):
            fastdl.set_anomaly_enabled(*args)
            torch.set_anomaly_enabled(*args)
            assert fastdl.is_anomaly_enabled() == torch.is_anomaly_enabled()
            assert fastdl.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled()
        a = np.random.default_rng().standard_normal(4)
        x = fastdl.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match=r"returned nan values in its 0th output\."):
            (x * float("nan")).sum().backward()
        fastdl.set_anomaly_enabled(True, False)  # NaN check off: no error
        (x * float("nan")).sum().backward()
        fastdl.set_anomaly_enabled(True)
        x.grad = None
        (x * 2).sum().backward()  # finite gradients pass
        np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 2.0))
    finally:
        fastdl.set_anomaly_enabled(False)
        torch.set_anomaly_enabled(False)
    (fastdl.tensor(a, requires_grad=True) * float("nan")).sum().backward()  # off: no error
    for bad in ("x", 1, None):
        same_error(lambda: fastdl.set_anomaly_enabled(bad),
                   lambda: torch.set_anomaly_enabled(bad))
    assert fastdl.is_anomaly_enabled() is False


# ---------------------------------------------------------------- vmap

def pair(a, grad=False):
    return fastdl.tensor(a.copy(), requires_grad=grad), torch.tensor(a.copy(), requires_grad=grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vmap_matches_torch(dtype):
    rng = np.random.default_rng()
    xa, wa = rng.standard_normal((5, 3, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)
    cases = [  # fn(lib), in_dims, out_dims, args (numpy)
        (lambda L: lambda a: a.sum(), 0, 0, (xa,)),
        (lambda L: lambda a, w: L.matmul(a, w), (0, None), 0, (xa, wa)),
        (lambda L: lambda a, w: L.matmul(a, w), (1, None), 1, (xa, wa)),
        (lambda L: lambda a: (a * 2, a.sum(0)), -1, (0, 1), (xa,)),
        (lambda L: lambda d: d["a"] * d["b"], ({"a": 2, "b": 0},), 0,
         ({"a": xa, "b": rng.standard_normal((4, 5, 3)).astype(dtype)},)),
        (lambda L: lambda a, b: [a + b, a - b], (0, 0), -1, (xa, xa[::-1].copy())),
    ]
    for make, in_dims, out_dims, args in cases:
        f_args = [{k: fastdl.tensor(v, requires_grad=True) for k, v in a.items()}
                  if isinstance(a, dict) else fastdl.tensor(a, requires_grad=True) for a in args]
        t_args = [{k: torch.tensor(v, requires_grad=True) for k, v in a.items()}
                  if isinstance(a, dict) else torch.tensor(a, requires_grad=True) for a in args]
        got = fastdl.vmap(make(fastdl), in_dims, out_dims)(*f_args)
        want = torch.vmap(make(torch), in_dims, out_dims)(*t_args)
        got = got if isinstance(got, (tuple, list)) else [got]
        want = want if isinstance(want, (tuple, list)) else [want]
        for g, w in zip(got, want):
            assert tuple(g.shape) == tuple(w.shape)
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-5,
                                       atol=1e-6)
        projs = [rng.standard_normal(tuple(w.shape)).astype(dtype) for w in want]
        sum((g * fastdl.tensor(p)).sum() for g, p in zip(got, projs)).backward()
        sum((w * torch.tensor(p)).sum() for w, p in zip(want, projs)).backward()
        leaves_f = [v for a in f_args for v in (a.values() if isinstance(a, dict) else [a])]
        leaves_t = [v for a in t_args for v in (a.values() if isinstance(a, dict) else [a])]
        for f, t in zip(leaves_f, leaves_t):
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_vmap_kwargs_empty_batch_out_dim_none_and_gradcheck():
    rng = np.random.default_rng()
    xa = rng.standard_normal((3, 4))
    fx, tx = pair(xa)
    got = fastdl.vmap(lambda a, k=1: a * k)(fx, k=fastdl.tensor(2.0))
    want = torch.vmap(lambda a, k=1: a * k)(tx, k=torch.tensor(2.0))
    np.testing.assert_allclose(got.numpy(), want.numpy())
    empty = np.zeros((0, 4))
    assert fastdl.vmap(lambda a: a.sum())(fastdl.tensor(empty)).shape == \
        tuple(torch.vmap(lambda a: a.sum())(torch.tensor(empty)).shape)
    assert fastdl.vmap(lambda a: (a[:2], a.sum()), out_dims=(1, 0))(fastdl.tensor(empty))[0] \
        .shape == (2, 0)
    unb = fastdl.vmap(lambda a: fx.sum(), out_dims=None)(fx)
    np.testing.assert_allclose(unb.numpy(), torch.vmap(lambda a: tx.sum(), out_dims=None)(tx))
    x = fastdl.tensor(xa, requires_grad=True)
    w = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w: fastdl.vmap(lambda r, w: (r * w).sin().sum(),
                                              in_dims=(0, None))(x, w), (x, w))


def test_vmap_randomness():
    x = fastdl.ones(4, 3)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        fastdl.vmap(lambda a: a * fastdl.rand(3))(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        torch.vmap(lambda a: a * torch.rand(3))(torch.ones(4, 3))
    same = fastdl.vmap(lambda a: a * fastdl.rand(3), randomness="same")(x).numpy()
    assert np.all(same == same[0]) and len(np.unique(same)) == 3
    diff = fastdl.vmap(lambda a: a * fastdl.rand(3), randomness="different")(x).numpy()
    assert len(np.unique(diff)) == 12
    same_error(lambda: fastdl.vmap(lambda a: a, randomness="x")(x),
               lambda: torch.vmap(lambda a: a, randomness="x")(torch.ones(4, 3)))


def test_vmap_errors():
    xa = np.random.default_rng().standard_normal((3, 4))
    fx, tx = pair(xa)
    f4, t4 = pair(np.ones(4))
    cases = [
        (lambda V, x, o: V(lambda a, b: a + b)(x, o), "same size in the mapped dimension"),
        (lambda V, x, o: V(lambda a, b: a + b, in_dims=(0, 1))(x, 3), "non-Tensor arguments"),
        (lambda V, x, o: V(lambda a: a, in_dims=5)(x), "expected in_dim to satisfy"),
        (lambda V, x, o: V(lambda a: 1.0)(x), "must only return Tensors"),
        (lambda V, x, o: V(lambda a: a, in_dims=None)(x), "expected `in_dims` to be int"),
        (lambda V, x, o: V(lambda a: a, in_dims=[0])(x), "expected `in_dims` to be int"),
        (lambda V, x, o: V(lambda a: a, in_dims=(None,))(x), "at least one Tensor"),
        (lambda V, x, o: V(lambda a: a, in_dims=(0, 0))(x), "not compatible"),
        (lambda V, x, o: V(lambda a: a.sum(0), out_dims=(0, 1))(x), "not compatible"),
        (lambda V, x, o: V(lambda a: a)(), "got no inputs"),
        (lambda V, x, o: V(lambda a: a.sum(), chunk_size=0)(x), "chunk_size"),
        (lambda V, x, o: V(lambda a: a * 2, out_dims=5)(x), "out of range"),
        (lambda V, x, o: V(lambda a: a * 2, out_dims=None)(x), "out_dim is None"),
    ]
    for call, match in cases:
        same_error(lambda: call(fastdl.vmap, fx, f4), lambda: call(torch.vmap, tx, t4), match)
    assert fastdl.func.vmap is fastdl.vmap


# ---------------------------------------------------------------- cond and while_loop

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cond_matches_torch(dtype):
    rng = np.random.default_rng()
    for _ in range(4):
        xa = rng.standard_normal(5).astype(dtype)
        fx, tx = pair(xa, grad=True)
        for pred_f, pred_t in ((fx.sum() > 0, tx.sum() > 0), (True, True), (0, 0),
                               (fx[:1] > 0, tx[:1] > 0), (fastdl.tensor(1.5), torch.tensor(1.5))):
            got = fastdl.cond(pred_f, lambda a: a.sin(), lambda a: a.cos() * 2, (fx,))
            want = torch.cond(pred_t, lambda a: a.sin(), lambda a: a.cos() * 2, (tx,))
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6,
                                       atol=1e-7)
            g = rng.standard_normal(5).astype(dtype)
            fx.grad = tx.grad = None
            (got * fastdl.tensor(g)).sum().backward()
            (want * torch.tensor(g)).sum().backward()
            np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-7)
    nested = fastdl.cond(True, lambda d: [d["a"] + 1], lambda d: [d["a"]],
                         [{"a": fastdl.ones(2)}])
    assert isinstance(nested, list) and nested[0].tolist() == [2.0, 2.0]
    x = fastdl.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x: fastdl.cond(x.sum() < 100, lambda a: a.exp(), lambda a: a, (x,)),
                     (x,))


def test_cond_errors():
    xa = np.random.default_rng().standard_normal(3).astype(np.float32)
    fx, tx = pair(xa)
    ident = lambda a: a + 0  # noqa: E731
    cases = [
        (lambda L, x: L.cond(x > 0, ident, ident, (x,)), "single-element"),
        (lambda L, x: L.cond("a", ident, ident, (x,)), "Expected pred to be bool or tensor"),
        (lambda L, x: L.cond(x[0] > 0, 1, ident, (x,)), "callable"),
        (lambda L, x: L.cond(x[0] > 0, ident, ident, x), "tensor leaves"),
        (lambda L, x: L.cond(x[0] > 0, ident, ident, (x, 1)), "tensor leaves"),
    ]
    for call, match in cases:
        same_error(lambda: call(fastdl, fx), lambda: call(torch, tx), match)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_while_loop_matches_torch(dtype):
    rng = np.random.default_rng()
    xa = rng.standard_normal(4).astype(dtype)
    fx, tx = pair(xa, grad=True)
    limit = float(np.abs(xa).sum() * 5)
    for L, x in ((fastdl, fx), (torch, tx)):
        res = L.while_loop(lambda i, a: (a.abs().sum() < limit) & (i < 50),
                           lambda i, a: (i + 1, a * 1.5 + 0.1), (L.tensor(0), x))
        if L is fastdl:
            got = res
        else:
            want = res
    assert isinstance(got, tuple) and got[0].item() == want[0].item()
    np.testing.assert_allclose(got[1].detach().numpy(), want[1].detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    got[1].sum().backward()
    want[1].sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    ints = fastdl.while_loop(lambda a, b: a < 3, lambda a, b: (a + 1, b * 2), (0, fastdl.ones(2)))
    tints = torch.while_loop(lambda a, b: a < 3, lambda a, b: (a + 1, b * 2), (0, torch.ones(2)))
    assert ints[0] == tints[0] and ints[1].tolist() == tints[1].tolist()
    never = fastdl.while_loop(lambda a: a.sum() > 1e9, lambda a: (a + 1,), (fx,))
    assert never[0] is not fx and np.array_equal(never[0].detach().numpy(), xa)
    x = fastdl.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x: fastdl.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a.sin()),
                                                 (fastdl.tensor(0), x))[1], (x,))


def test_while_loop_errors():
    xa = np.random.default_rng().standard_normal(3).astype(np.float32)
    fx, tx = pair(xa)
    cases = [
        (lambda L, x: L.while_loop(1, lambda a: (a + 1,), (x,)), "callable"),
        (lambda L, x: L.while_loop(lambda a: a.sum() < 10, lambda a: (a + 1,), (x, "s")), None),
        (lambda L, x: L.while_loop(lambda a: (a.sum() < 10).float(), lambda a: (a + 1,), (x,)),
         None),
        (lambda L, x: L.while_loop(lambda a: a.sum() < 10, lambda a: (a + 1, a), (x,)), None),
        (lambda L, x: L.while_loop(lambda a: a.sum() < 10, lambda a: (L.cat([a, a]),), (x,)),
         None),
    ]
    for call, match in cases:
        with pytest.raises(Exception):
            call(torch, tx)
        with pytest.raises((RuntimeError, AssertionError), match=match):
            call(fastdl, fx)
    with pytest.raises(RuntimeError, match="carried_inputs must be a tuple or list"):
        fastdl.while_loop(lambda a: a.sum() < 10, lambda a: (a + 1,), fx)
    with pytest.raises(RuntimeError, match="differ in 'dtype"):
        fastdl.while_loop(lambda a: a.sum() < 10, lambda a: (a.double() + 1,), (fx,))
