"""fastdl.autocast against torch 2.13's CPU autocast with dtype=float16: the dtype every op
produces inside a region (float32 and float16 inputs), a small MLP and CNN forward+backward
(values within float16 tolerances, parameters and gradients float32), nesting, the decorator,
the queries and the errors; a digits MLP trained with autocast + GradScaler."""
import warnings

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")
TF = torch.nn.functional
FF = fastdl.nn.functional


def _op_cases():
    """name -> fn(lib, F, x, w), with x (4, 6) and w (5, 6) float tensors of one library."""
    def zeros(lib, *shape):
        return lib.zeros(*shape)
    return {
        "linear": lambda lib, F, x, w: F.linear(x, w),
        "matmul": lambda lib, F, x, w: x @ w.T,
        "mm": lambda lib, F, x, w: lib.mm(x, w.T),
        "bmm": lambda lib, F, x, w: lib.bmm(x[None], w.T[None]),
        "addmm": lambda lib, F, x, w: lib.addmm(zeros(lib, 4, 5), x, w.T),
        "baddbmm": lambda lib, F, x, w: lib.baddbmm(zeros(lib, 1, 4, 5), x[None], w.T[None]),
        "addbmm": lambda lib, F, x, w: lib.addbmm(zeros(lib, 4, 5), x[None], w.T[None]),
        "einsum": lambda lib, F, x, w: lib.einsum("ij,kj->ik", x, w),
        "conv1d": lambda lib, F, x, w: F.conv1d(x[None], w[:2, :4, None].expand(2, 4, 3)),
        "conv2d": lambda lib, F, x, w: F.conv2d(
            x[None, None], w[:2, :3][:, None, :, None].expand(2, 1, 3, 3)),
        "conv_transpose1d": lambda lib, F, x, w: F.conv_transpose1d(x[None], w[:4, :2, None]),
        "sdpa": lambda lib, F, x, w: F.scaled_dot_product_attention(x[None], x[None], x[None]),
        "softmax": lambda lib, F, x, w: F.softmax(x, -1),
        "log_softmax": lambda lib, F, x, w: F.log_softmax(x, -1),
        "cross_entropy": lambda lib, F, x, w: F.cross_entropy(x, lib.tensor([0, 1, 2, 3])),
        "nll_loss": lambda lib, F, x, w: F.nll_loss(x, lib.tensor([0, 1, 2, 3])),
        "mse_loss": lambda lib, F, x, w: F.mse_loss(x, zeros(lib, 4, 6)),
        "l1_loss": lambda lib, F, x, w: F.l1_loss(x, zeros(lib, 4, 6)),
        "smooth_l1_loss": lambda lib, F, x, w: F.smooth_l1_loss(x, zeros(lib, 4, 6)),
        "huber_loss": lambda lib, F, x, w: F.huber_loss(x, zeros(lib, 4, 6)),
        "kl_div": lambda lib, F, x, w: F.kl_div(x, zeros(lib, 4, 6), reduction="sum"),
        "bce": lambda lib, F, x, w: F.binary_cross_entropy(lib.sigmoid(x), zeros(lib, 4, 6)),
        "bce_logits": lambda lib, F, x, w: F.binary_cross_entropy_with_logits(
            x, zeros(lib, 4, 6)),
        "layer_norm": lambda lib, F, x, w: F.layer_norm(x, (6,)),
        "group_norm": lambda lib, F, x, w: F.group_norm(x[None], 2),
        "batch_norm": lambda lib, F, x, w: F.batch_norm(x, None, None, training=True),
        "exp": lambda lib, F, x, w: lib.exp(x),
        "log": lambda lib, F, x, w: lib.log(lib.abs(x)),
        "pow": lambda lib, F, x, w: x ** 2,
        "sum": lambda lib, F, x, w: x.sum(),
        "cumsum": lambda lib, F, x, w: x.cumsum(0),
        "norm": lambda lib, F, x, w: x.norm(),
        "prod": lambda lib, F, x, w: x.prod(),
        "cdist": lambda lib, F, x, w: lib.cdist(x, w),
        "trace": lambda lib, F, x, w: lib.trace(x),
        "inverse": lambda lib, F, x, w: lib.inverse(x[:4, :4] + 4 * lib.eye(4)),
        "relu": lambda lib, F, x, w: F.relu(x),
        "gelu": lambda lib, F, x, w: F.gelu(x),
        "tanh": lambda lib, F, x, w: lib.tanh(x),
        "add": lambda lib, F, x, w: x + lib.ones(6),
        "cat": lambda lib, F, x, w: lib.cat([x, zeros(lib, 1, 6)]),
        "stack": lambda lib, F, x, w: lib.stack([x, zeros(lib, 4, 6)]),
        "avg_pool2d": lambda lib, F, x, w: F.avg_pool2d(x[None, None], 2),
        "max_pool2d": lambda lib, F, x, w: F.max_pool2d(x[None, None], 2),
        "mean": lambda lib, F, x, w: x.mean(),
        "sqrt": lambda lib, F, x, w: lib.sqrt(lib.abs(x)),
        "embedding": lambda lib, F, x, w: F.embedding(lib.tensor([0, 1]), x),
    }


OP_CASES = _op_cases()
_RNG = np.random.default_rng(0)
_X, _W = _RNG.uniform(0.1, 1.0, (4, 6)), _RNG.uniform(-1.0, 1.0, (5, 6))


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


@pytest.mark.parametrize("input_dtype", ["float32", "float16"])
@pytest.mark.parametrize("name", sorted(OP_CASES))
def test_op_result_dtype_in_a_cpu_region_matches_torch(name, input_dtype):
    fn = OP_CASES[name]
    t_x = torch.tensor(_X, dtype=getattr(torch, input_dtype))
    t_w = torch.tensor(_W, dtype=torch.float32)
    f_x, f_w = fastdl.tensor(_X.astype(input_dtype)), fastdl.tensor(_W.astype(np.float32))
    with torch.autocast("cpu", dtype=torch.float16):
        expected = fn(torch, TF, t_x, t_w)
    with fastdl.autocast("cpu"):
        got = fn(fastdl, FF, f_x, f_w)
    assert _dtype_name(got) == _dtype_name(expected)
    # and the values agree within float16's precision
    np.testing.assert_allclose(got.float().numpy(), expected.float().numpy(), rtol=2e-2,
                               atol=2e-2)


def test_float64_inputs_are_never_cast():
    x = fastdl.ones(2, 3, dtype=fastdl.float64)
    with fastdl.autocast("cpu"):
        assert (x @ x.T).dtype == fastdl.float64
        assert fastdl.cat([x, x]).dtype == fastdl.float64


def _twin_mlp_and_cnn(seed=0):
    fastdl.manual_seed(seed)
    f_model = fastdl.nn.Sequential(
        fastdl.nn.Conv2d(1, 4, 3, padding=1), fastdl.nn.ReLU(), fastdl.nn.MaxPool2d(2),
        fastdl.nn.Flatten(), fastdl.nn.Linear(4 * 4 * 4, 16), fastdl.nn.GELU(),
        fastdl.nn.LayerNorm(16), fastdl.nn.Linear(16, 5))
    t_model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 16), torch.nn.GELU(),
        torch.nn.LayerNorm(16), torch.nn.Linear(16, 5))
    with torch.no_grad():
        for tp, fp in zip(t_model.parameters(), f_model.parameters()):
            tp.copy_(torch.tensor(fp.detach().numpy()))
    return t_model, f_model


def test_cnn_mlp_forward_backward_matches_torch_and_keeps_float32_parameters():
    t_model, f_model = _twin_mlp_and_cnn()
    x = _RNG.normal(size=(6, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 0])
    with torch.autocast("cpu", dtype=torch.float16):
        t_out = t_model(torch.tensor(x))
        t_loss = TF.cross_entropy(t_out, torch.tensor(y))
    with fastdl.autocast("cpu"):
        f_out = f_model(fastdl.tensor(x))
        f_loss = FF.cross_entropy(f_out, fastdl.tensor(y))
    assert _dtype_name(f_out) == _dtype_name(t_out) == "float16"
    assert _dtype_name(f_loss) == _dtype_name(t_loss) == "float32"
    np.testing.assert_allclose(f_out.float().detach().numpy(), t_out.float().detach().numpy(),
                               rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(f_loss.item(), t_loss.item(), rtol=5e-3)
    t_loss.backward()
    f_loss.backward()
    for (name, tp), fp in zip(t_model.named_parameters(), f_model.parameters()):
        assert fp.dtype == fastdl.float32 and fp.grad.dtype == fastdl.float32, name
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=2e-2, atol=2e-3,
                                   err_msg=name)


def test_nested_and_disabled_regions_restore_the_outer_state():
    x, w = fastdl.ones(2, 3), fastdl.ones(4, 3)
    assert not fastdl.is_autocast_enabled("cpu")
    with fastdl.autocast("cpu"):
        with fastdl.autocast("cpu", enabled=False):
            assert not fastdl.is_autocast_enabled("cpu")
            assert FF.linear(x, w).dtype == fastdl.float32
            with fastdl.autocast("cpu"):
                assert FF.linear(x, w).dtype == fastdl.float16
        assert fastdl.is_autocast_enabled("cpu")
        assert FF.linear(x, w).dtype == fastdl.float16
    assert not fastdl.is_autocast_enabled("cpu")
    assert FF.linear(x, w).dtype == fastdl.float32


def test_a_cpu_region_leaves_other_device_types_alone_and_works_as_a_decorator():
    @fastdl.amp.autocast("cpu")
    def project(x, w):
        assert fastdl.is_autocast_enabled("cpu") and not fastdl.is_autocast_enabled("cuda")
        return x @ w

    assert project(fastdl.ones(2, 3), fastdl.ones(3, 2)).dtype == fastdl.float16
    assert not fastdl.is_autocast_enabled("cpu")


def test_the_weight_cache_reuses_one_cast_per_region_and_survives_a_backward():
    lin = fastdl.nn.Linear(3, 2)
    x = fastdl.ones(4, 3)
    with fastdl.autocast("cpu"):
        lin(x).float().sum().backward()
        first = lin.weight.grad.numpy().copy()
        (lin(x).float().sum() + lin(x).float().sum()).backward()  # one cached cast, used twice
    np.testing.assert_allclose(lin.weight.grad.numpy(), 3 * first, rtol=1e-3)


def test_queries_dtype_choices_and_errors():
    assert fastdl.amp.is_autocast_available("cpu") and fastdl.amp.is_autocast_available("cuda")
    assert not fastdl.amp.is_autocast_available("xla")
    assert fastdl.get_autocast_dtype("cpu") == fastdl.float16
    assert fastdl.get_autocast_dtype("cuda") == fastdl.float16
    with pytest.raises(TypeError, match="fastdl.bfloat16 is not a storage dtype"):
        fastdl.autocast("cpu", dtype=fastdl.bfloat16)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        fastdl.autocast("tpu")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        fastdl.autocast(0)
    with pytest.warns(UserWarning, match="target dtype is not supported. Disabling autocast"):
        region = fastdl.autocast("cpu", dtype=fastdl.float64)
    with region:
        assert not fastdl.is_autocast_enabled("cpu")


@pytest.mark.skipif(fastdl.cuda.is_available(), reason="the warning is for machines without one")
def test_a_cuda_region_without_a_gpu_warns_and_stays_off():
    with pytest.warns(UserWarning, match="CUDA is not available. Disabling"):
        region = fastdl.autocast("cuda")
    with region:
        assert not fastdl.is_autocast_enabled("cuda")


def test_backward_inside_a_region_keeps_gradient_dtypes():
    w = fastdl.tensor(_W.astype(np.float32), requires_grad=True)
    with fastdl.autocast("cpu"):
        loss = FF.cross_entropy(fastdl.tensor(_X.astype(np.float32)) @ w.T[:, :4],
                                fastdl.tensor([0, 1, 2, 3]))
        loss.backward()
    assert w.grad.dtype == fastdl.float32 and np.isfinite(w.grad.numpy()).all()


def _train_digits(use_amp, steps=150):
    from fastdl.data import load_digits
    x, y = load_digits()
    x = fastdl.tensor(np.asarray(x, dtype=np.float32))
    y = fastdl.tensor(np.asarray(y, dtype=np.int64))
    fastdl.manual_seed(0)
    model = fastdl.nn.Sequential(fastdl.nn.Linear(64, 64), fastdl.nn.ReLU(),
                                 fastdl.nn.Linear(64, 10))
    opt = fastdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = fastdl.amp.GradScaler("cpu", enabled=use_amp)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        idx = fastdl.tensor(rng.integers(0, x.shape[0], 64))
        opt.zero_grad()
        with fastdl.autocast("cpu", enabled=use_amp):
            loss = FF.cross_entropy(model(x[idx]), y[idx])
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    with fastdl.no_grad():
        return FF.cross_entropy(model(x), y).item(), scaler.get_scale()


def test_digits_mlp_trained_with_autocast_and_grad_scaler_matches_float32_training():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings from the float16 path
        amp_loss, scale = _train_digits(True)
    fp32_loss, _ = _train_digits(False)
    assert fp32_loss < 0.3
    assert amp_loss < 1.2 * fp32_loss + 0.02
    assert scale >= 2.0 ** 10  # the scale settled instead of collapsing


def test_the_readme_mixed_precision_example_runs():
    import pathlib
    import re
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## Mixed precision\n.*?```python\n(.*?)```", readme, re.S).group(1)
    scope = {}
    exec(code, scope)  # noqa: S102  (the README's own example)
    assert scope["loss"].dtype == fastdl.float32 and scope["scaler"].get_scale() == 2.0 ** 16
