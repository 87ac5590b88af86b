"""F.instance_norm and InstanceNorm1d/2d/3d at their edges, against torch: one spatial
element, empty batch or spatial dims, running statistics (another dtype, wrong size, 0-d,
missing when use_input_stats is False) and the modules' track_running_stats."""
import warnings

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as FF

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _both(shape, dtype=np.float32, stats=None, stats_dtype=None, **kw):
    """(outcome, running stats) from torch then fastdl: outcome is the output array or the
    exception's (type name, message)."""
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    results = []
    for lib, F in ((torch, TF), (fastdl, FF)):
        args = dict(kw)
        if stats is not None:
            sd = stats_dtype or dtype
            args["running_mean"] = lib.tensor(np.full(stats, 0.25, sd))
            args["running_var"] = lib.tensor(np.full(stats, 2.0, sd))
        try:
            out = np.asarray(F.instance_norm(lib.tensor(x), **args).detach().numpy())
        except Exception as e:  # noqa: BLE001 -- the comparison is the point
            out = (type(e).__name__, str(e))
        kept = [np.asarray(args[k].numpy()) for k in ("running_mean", "running_var") if k in args]
        results.append((out, kept))
    return results


def _assert_same(results):
    (a, sa), (b, sb) = results
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    for u, v in zip(sa, sb):
        assert u.dtype == v.dtype
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 1), {}), ((2, 3, 1, 1), {}), ((3,), {}), ((3, 4), {}),
    ((2, 3, 1), {"stats": 3, "use_input_stats": False}),   # eval mode takes one element
    ((2, 3, 1), {"use_input_stats": False}),                 # no running stats to use
    ((2, 3, 4), {"use_input_stats": False}),
    ((2, 3, 4), {"stats": 3, "running_var": None, "use_input_stats": False}),
    ((0, 3, 4), {}), ((0, 3, 4), {"stats": 3}),              # empty batch: stats become NaN
    ((0, 3, 4), {"stats": 3, "use_input_stats": False}),
    ((2, 3, 0), {"stats": 3}),                               # no spatial element: no update
    ((2, 3, 4), {"stats": 3, "momentum": 0.3}),
    ((2, 3, 4), {"stats": 3, "use_input_stats": False}),
    ((2, 3, 4), {"stats": 4}), ((2, 3, 4), {"stats": (3, 1)}),
    ((2, 1, 5), {"stats": ()}), ((2, 1, 5), {"stats": (), "use_input_stats": False}),
    ((2, 3, 4), {"weight": "bad"}),
])
def test_instance_norm_edges_like_torch(shape, kw):
    kw = dict(kw)
    if kw.get("weight") == "bad":  # weight of the wrong size: torch counts N*C elements
        res = []
        for lib, F in ((torch, TF), (fastdl, FF)):
            try:
                F.instance_norm(lib.ones(shape), weight=lib.ones(4))
                res.append(None)
            except RuntimeError as e:
                res.append(str(e))
        assert res[0] == res[1] is not None
        return
    if kw.get("running_var", 1) is None:  # only running_mean given
        kw.pop("running_var")
        results = []
        for lib, F in ((torch, TF), (fastdl, FF)):
            with pytest.raises(RuntimeError) as info:
                F.instance_norm(lib.ones(shape), lib.zeros(3), None, use_input_stats=False)
            results.append(str(info.value))
        assert results[0] == results[1]
        return
    _assert_same(_both(shape, **kw))


@pytest.mark.parametrize("dtype,stats_dtype", [(np.float32, np.float64),
                                               (np.float64, np.float32)])
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_stats_of_another_dtype(dtype, stats_dtype, use_input_stats):
    _assert_same(_both((2, 3, 5), dtype, stats=3, stats_dtype=stats_dtype,
                       use_input_stats=use_input_stats, momentum=0.2))


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (3, 4, 5)), ("InstanceNorm1d", (4, 5)),
                                        ("InstanceNorm2d", (2, 4, 3, 3)),
                                        ("InstanceNorm2d", (4, 3, 3)),
                                        ("InstanceNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("momentum", [0.3, None])
def test_instance_norm_modules_track_running_stats(name, shape, affine, momentum):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    got = []
    for lib in (torch, fastdl):
        m = getattr(lib.nn, name)(4, affine=affine, track_running_stats=True, momentum=momentum)
        train = [m(lib.tensor(x * k + k)) for k in (1, 2)]
        m.eval()
        got.append([np.asarray(v.detach().numpy())
                    for v in (*train, m(lib.tensor(x)), m.running_mean, m.running_var)])
    for u, v in zip(*got):
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-5)


def test_instance_norm_module_num_features_mismatch_like_torch():
    for lib in (torch, fastdl):
        with pytest.warns(UserWarning, match="does not match num_features"):
            lib.nn.InstanceNorm1d(4)(lib.ones(2, 3, 5))
    msgs = []
    for lib in (torch, fastdl):
        with pytest.raises(ValueError) as info:
            lib.nn.InstanceNorm1d(4, affine=True)(lib.ones(2, 3, 5))
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastdl.nn.InstanceNorm1d(3)(fastdl.ones(2, 3, 5))  # matching sizes: silent


@pytest.mark.parametrize("shape", [(2, 3, 1), (2, 3), (3,)])
def test_toplevel_instance_norm_has_no_spatial_check(shape):
    # torch.instance_norm (ATen) lacks F.instance_norm's check: one value per plane gives 0
    # and a NaN running variance (unbiased variance of one value)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    got = []
    for lib in (torch, fastdl):
        rm, rv = lib.zeros(3), lib.ones(3)
        try:
            out = lib.instance_norm(lib.tensor(x), None, None, rm, rv, True, 0.1, 1e-5, False)
            got.append([out.numpy(), rm.numpy(), rv.numpy()])
        except IndexError as e:
            got.append(str(e))
    if isinstance(got[0], str):
        assert got[0] == got[1]
        return
    for u, v in zip(*got):
        np.testing.assert_allclose(v, u, atol=1e-4, equal_nan=True)
