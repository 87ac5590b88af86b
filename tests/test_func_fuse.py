"""nn.utils fusion (conv/linear + BatchNorm), fastdl.func.functional_call and
nn.utils.stateless, skip_init and the deprecated clip_grad_norm, against torch 2.13."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl import nn

RNG_SEED = 20261130


def _fill_both(t_module, f_module, rng, dtype):
    """Same random parameters and BatchNorm statistics in both modules (running_var > 0)."""
    for (name, t), (_, f) in zip(t_module.state_dict().items(), f_module.state_dict().items()):
        if t.dtype == torch.long:
            continue
        values = rng.standard_normal(tuple(t.shape))
        if name.endswith("running_var"):
            values = rng.uniform(0.5, 2.0, tuple(t.shape))
        values = values.astype(dtype)
        with torch.no_grad():
            t.copy_(torch.from_numpy(values))
        f.data[...] = values


CONV_CASES = [("Conv1d", "BatchNorm1d", (2, 3, 7), False),
              ("Conv2d", "BatchNorm2d", (2, 3, 6, 5), False),
              ("ConvTranspose2d", "BatchNorm2d", (2, 3, 4, 4), True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("conv_name,bn_name,input_shape,transpose", CONV_CASES)
@pytest.mark.parametrize("conv_bias", [True, False])
def test_fuse_conv_bn_eval_matches_torch(conv_name, bn_name, input_shape, transpose, dtype,
                                         conv_bias):
    rng = np.random.default_rng(RNG_SEED)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    t_conv = getattr(torch.nn, conv_name)(3, 4, 3, bias=conv_bias).to(torch_dtype).eval()
    t_bn = getattr(torch.nn, bn_name)(4).to(torch_dtype).eval()
    f_conv = getattr(nn, conv_name)(3, 4, 3, bias=conv_bias).to(dtype).eval()
    f_bn = getattr(nn, bn_name)(4).to(dtype).eval()
    _fill_both(t_conv, f_conv, rng, dtype)
    _fill_both(t_bn, f_bn, rng, dtype)
    t_fused = torch.nn.utils.fuse_conv_bn_eval(t_conv, t_bn, transpose=transpose)
    f_fused = nn.utils.fuse_conv_bn_eval(f_conv, f_bn, transpose=transpose)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(f_fused.weight.detach().numpy(),
                               t_fused.weight.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(f_fused.bias.detach().numpy(), t_fused.bias.detach().numpy(),
                               rtol=tol, atol=tol)
    assert f_fused.weight.dtype == dtype and isinstance(f_fused.weight, nn.Parameter)
    x = rng.standard_normal(input_shape).astype(dtype)
    np.testing.assert_allclose(f_fused(fastdl.tensor(x)).detach().numpy(),
                               t_fused(torch.from_numpy(x)).detach().numpy(),
                               rtol=tol * 10, atol=tol * 10)
    # the originals are untouched (fusion works on a copy)
    assert f_fused is not f_conv
    np.testing.assert_array_equal(f_conv.weight.detach().numpy(),
                                  t_conv.weight.detach().numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bn_features", [4, 1])
def test_fuse_linear_bn_eval_matches_torch(dtype, bn_features):
    rng = np.random.default_rng(RNG_SEED)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    t_lin = torch.nn.Linear(3, 4).to(torch_dtype).eval()
    t_bn = torch.nn.BatchNorm1d(bn_features).to(torch_dtype).eval()
    f_lin, f_bn = nn.Linear(3, 4).to(dtype).eval(), nn.BatchNorm1d(bn_features).to(dtype).eval()
    _fill_both(t_lin, f_lin, rng, dtype)
    _fill_both(t_bn, f_bn, rng, dtype)
    t_fused = torch.nn.utils.fuse_linear_bn_eval(t_lin, t_bn)
    f_fused = nn.utils.fuse_linear_bn_eval(f_lin, f_bn)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for name in ("weight", "bias"):
        np.testing.assert_allclose(getattr(f_fused, name).detach().numpy(),
                                   getattr(t_fused, name).detach().numpy(), rtol=tol, atol=tol)
    x = rng.standard_normal((5, 3)).astype(dtype)
    np.testing.assert_allclose(f_fused(fastdl.tensor(x)).detach().numpy(),
                               t_fused(torch.from_numpy(x)).detach().numpy(),
                               rtol=tol * 10, atol=tol * 10)


def test_fuse_weights_with_missing_affine_and_bias_match_torch():
    rng = np.random.default_rng(RNG_SEED)
    conv_w, rm = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    rv = rng.uniform(0.5, 2.0, 4)
    t_w, t_b = torch.nn.utils.fuse_conv_bn_weights(
        torch.from_numpy(conv_w), None, torch.from_numpy(rm), torch.from_numpy(rv), 1e-3,
        None, None)
    f_w, f_b = nn.utils.fuse_conv_bn_weights(fastdl.tensor(conv_w), None, fastdl.tensor(rm),
                                             fastdl.tensor(rv), 1e-3, None, None)
    np.testing.assert_allclose(f_w.detach().numpy(), t_w.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(f_b.detach().numpy(), t_b.detach().numpy(), rtol=1e-13)
    assert f_b.requires_grad == t_b.requires_grad


def test_fusion_errors_match_torch():
    for lib in (torch, fastdl):
        with pytest.raises(AssertionError, match="Fusion only for eval!"):
            lib.nn.utils.fuse_conv_bn_eval(lib.nn.Conv2d(1, 2, 3), lib.nn.BatchNorm2d(2).eval())
        with pytest.raises(AssertionError, match="linear.out_features == bn.num_features"):
            lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(),
                                             lib.nn.BatchNorm1d(2).eval())
        bn = lib.nn.BatchNorm1d(3, track_running_stats=False).eval()
        with pytest.raises(AssertionError, match="running_mean and bn.running_var"):
            lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(), bn)


class _Net:
    """Linear -> BatchNorm1d -> Linear whose second weight is tied to a third name."""

    @staticmethod
    def build(lib):
        net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Tanh(),
                                lib.nn.Linear(4, 4))
        net.tied = net[3]
        return net


def _torch_and_fastdl_tensors(names_shapes, rng):
    torch_tensors, fastdl_tensors = {}, {}
    for name, shape in names_shapes:
        values = rng.standard_normal(shape)
        if name.endswith("running_var"):
            values = rng.uniform(0.5, 2.0, shape)
        torch_tensors[name] = torch.tensor(values, requires_grad=not name.startswith("1.running"))
        fastdl_tensors[name] = fastdl.tensor(values,
                                             requires_grad=not name.startswith("1.running"))
    return torch_tensors, fastdl_tensors


@pytest.mark.parametrize("training", [True, False])
def test_functional_call_outputs_and_gradients_match_torch(training):
    rng = np.random.default_rng(RNG_SEED)
    t_net, f_net = _Net.build(torch).double().train(training), _Net.build(fastdl).double().train(
        training)
    names_shapes = [(n, tuple(v.shape)) for n, v in t_net.state_dict().items()
                    if "num_batches" not in n and not n.startswith("tied")]
    t_given, f_given = _torch_and_fastdl_tensors(names_shapes, rng)
    x = rng.standard_normal((5, 3))
    f_before = {n: v.detach().numpy().copy() for n, v in f_net.state_dict().items()}
    tied_weight = f_net[3].weight
    t_out = torch.func.functional_call(t_net, t_given, (torch.from_numpy(x),))
    f_out = fastdl.func.functional_call(f_net, f_given, (fastdl.tensor(x),))
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    t_out.pow(2).sum().backward()
    f_out.pow(2).sum().backward()
    for name, t_tensor in t_given.items():
        if t_tensor.grad is not None:
            np.testing.assert_allclose(f_given[name].grad.numpy(), t_tensor.grad.numpy(),
                                       rtol=1e-10, atol=1e-12)
        # a training BatchNorm updates the given running statistics, not the module's
        np.testing.assert_allclose(f_given[name].detach().numpy(),
                                   t_tensor.detach().numpy(), rtol=1e-12)
    # the module has its own tensors back, unchanged (but for the counter of batches, which
    # was not given), without gradients
    for name, value in f_net.state_dict().items():
        if "num_batches_tracked" not in name:
            np.testing.assert_array_equal(value.numpy(), f_before[name])
    assert f_net[3].weight is tied_weight  # restored under both of its names
    assert all(p.grad is None for p in f_net.parameters())
    assert isinstance(f_net[0].weight, nn.Parameter)


def test_functional_call_ties_and_sequences_of_dicts_as_torch():
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal((2, 3))
    weight = rng.standard_normal((4, 4))
    results = {}
    t_net = _Net.build(torch).double().eval()
    f_net = _Net.build(fastdl).double().eval()
    f_net.load_state_dict(t_net.state_dict())  # the parameters that are not given agree too
    for lib, func, net in ((torch, torch.func, t_net), (fastdl, fastdl.func, f_net)):
        given = [{"3.weight": lib.tensor(weight)}, {"0.bias": lib.zeros(4, dtype=lib.float64)}]
        tied_out = func.functional_call(net, given, lib.tensor(x))
        untied_out = func.functional_call(net, {"3.weight": lib.tensor(weight)},
                                          (lib.tensor(x),), tie_weights=False)
        results[lib.__name__] = (tied_out.detach().numpy(), untied_out.detach().numpy())
    for f_array, t_array in zip(results["fastdl"], results["torch"]):
        np.testing.assert_allclose(f_array, t_array, rtol=1e-12)


@pytest.mark.parametrize("case", ["repeated", "not_dicts", "not_a_dict", "tied_conflict",
                                  "strict_missing", "strict_unexpected"])
def test_functional_call_errors_match_torch(case):
    def attempt(lib, func):
        net = _Net.build(lib).double()
        ones, x = lib.ones(4, 4, dtype=lib.float64), lib.ones(2, 3, dtype=lib.float64)
        args = {
            "repeated": ([{"3.bias": lib.zeros(4)}, {"3.bias": lib.zeros(4)}],),
            "not_dicts": ([{"3.bias": lib.zeros(4)}, 3],),
            "not_a_dict": (5,),
            "tied_conflict": ({"3.weight": ones, "tied.weight": ones * 2},),
            "strict_missing": ({"3.weight": ones},),
            "strict_unexpected": ({"nope": ones, **dict(net.named_parameters()),
                                   **dict(net.named_buffers())},),
        }[case]
        strict = case.startswith("strict")
        func.functional_call(net, *args, (x,), strict=strict)

    with pytest.raises((ValueError, RuntimeError)) as t_err:
        attempt(torch, torch.func)
    with pytest.raises(t_err.type) as f_err:
        attempt(fastdl, fastdl.func)
    t_text = str(t_err.value).replace("torch.", "fastdl.")
    assert str(f_err.value) == t_text


def test_functional_call_restores_the_module_when_forward_raises():
    class Failing(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            self.fc(x)
            raise ValueError("forward failed")

    net = Failing()
    original = net.fc.weight
    with pytest.raises(ValueError, match="forward failed"):
        fastdl.func.functional_call(net, {"fc.weight": fastdl.zeros(2, 2)}, fastdl.ones(1, 2))
    assert net.fc.weight is original


def test_stateless_functional_call_is_deprecated_and_works():
    lin = nn.Linear(2, 1)
    given = {"weight": fastdl.ones(1, 2), "bias": fastdl.zeros(1)}
    with pytest.warns(FutureWarning, match="fastdl.func.functional_call"):
        out = nn.utils.stateless.functional_call(lin, given, (fastdl.tensor([[1.0, 2.0]]),))
    assert out.tolist() == [[3.0]]
    with pytest.warns(FutureWarning):
        torch.nn.utils.stateless.functional_call(torch.nn.Linear(2, 1), {}, torch.ones(1, 2))


def test_clip_grad_norm_alias_warns_and_clips_as_torch():
    rng = np.random.default_rng(RNG_SEED)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    t_params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    f_params = [nn.Parameter(fastdl.zeros(*g.shape, dtype=fastdl.float64)) for g in grads]
    for g, t, f in zip(grads, t_params, f_params):
        t.grad = torch.from_numpy(g.copy())
        f.grad = fastdl.tensor(g.copy())
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        t_total = torch.nn.utils.clip_grad_norm(t_params, 0.5, norm_type=3.0)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        f_total = nn.utils.clip_grad_norm(f_params, 0.5, norm_type=3.0)
    np.testing.assert_allclose(f_total.item(), t_total.item(), rtol=1e-12)
    for t, f in zip(t_params, f_params):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_skip_init_draws_nothing_and_builds_the_module():
    fastdl.manual_seed(RNG_SEED)
    lin = nn.utils.skip_init(nn.Linear, 5, 3, bias=True)
    after_skip = fastdl.randn(4).numpy()
    fastdl.manual_seed(RNG_SEED)
    fresh = fastdl.randn(4).numpy()
    np.testing.assert_array_equal(after_skip, fresh)  # no initializer drew from the generator
    assert lin.weight.shape == (5, 3)[::-1] and lin.bias.shape == (3,)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.requires_grad
    # initializers work again afterwards
    assert not np.array_equal(nn.Linear(5, 3).weight.detach().numpy(),
                              nn.Linear(5, 3).weight.detach().numpy())


def test_skip_init_errors_match_torch():
    class NoDevice(torch.nn.Module):
        def __init__(self):
            super().__init__()

    class FastNoDevice(nn.Module):
        def __init__(self):
            super().__init__()

    for lib, no_device in ((torch, NoDevice), (fastdl, FastNoDevice)):
        with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
            lib.nn.utils.skip_init(no_device)
        with pytest.raises(RuntimeError, match="Expected a Module; got"):
            lib.nn.utils.skip_init(int)
