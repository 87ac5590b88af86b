"""Weight norm, spectral norm (hook-based and parametrizations) and nn.utils.parametrize against
torch.nn.utils: outputs, gradients, buffers and state_dict keys/values, torch's weights copied
in."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn.utils import parametrize
from fastdl.tensor import Tensor

torch = pytest.importorskip("torch")

SEED = 20261130
TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}

MODULES = {  # name: (fastdl factory, torch factory, input shape)
    "linear": (lambda: nn.Linear(5, 4), lambda: torch.nn.Linear(5, 4), (3, 5)),
    "conv2d": (lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3), (2, 2, 6, 6)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 3),
                         lambda: torch.nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
}


def _pair(kind, dtype):
    ours_factory, theirs_factory, input_shape = MODULES[kind]
    torch.manual_seed(SEED % 2**31)
    theirs = theirs_factory().to(TORCH_DTYPES[dtype])
    ours = ours_factory().to(fastdl.float64 if dtype == np.float64 else fastdl.float32)
    x = np.random.default_rng(SEED).standard_normal(input_shape).astype(dtype)
    return ours, theirs, x


def _copy_torch_state(ours, theirs):
    """Load torch's state_dict (keys must match) into ours."""
    state = {key: Tensor(value.detach().numpy().copy()) for key, value in
             theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)


def _assert_close(ours, theirs, dtype, what):
    """Elementwise within rtol, plus an absolute slack of rtol times the largest magnitude:
    gradients are sums whose small elements carry the big ones' rounding."""
    expected = theirs.detach().numpy()
    tolerance = TOLERANCES[dtype]
    atol = tolerance["atol"] + tolerance["rtol"] * float(np.abs(expected).max(initial=0.0))
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=tolerance["rtol"],
                               atol=atol, err_msg=what)


def _forward_backward(ours, theirs, x, dtype, what):
    out_ours = ours(Tensor(x))
    out_theirs = theirs(torch.from_numpy(x))
    _assert_close(out_ours, out_theirs, dtype, f"{what}: output")
    (out_ours * out_ours).sum().backward()
    (out_theirs * out_theirs).sum().backward()
    ours_params = dict(ours.named_parameters())
    for name, param in theirs.named_parameters():
        _assert_close(ours_params[name].grad, param.grad, dtype, f"{what}: grad of {name}")
    ours.zero_grad()
    theirs.zero_grad()


def _assert_state_equal(ours, theirs, dtype):
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        _assert_close(ours_state[key], value, dtype, f"state {key}")


DTYPES = [np.float32, np.float64]


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("linear", 1), ("linear", None),
                                      ("conv2d", 0), ("conv2d", 2), ("conv_transpose2d", 1)])
def test_hook_weight_norm_matches_torch(kind, dim, dtype):
    ours, theirs, x = _pair(kind, dtype)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        nn.utils.weight_norm(ours, dim=dim)
    torch.nn.utils.weight_norm(theirs, dim=dim)
    _copy_torch_state(ours, theirs)
    assert ours.weight_g.shape == tuple(theirs.weight_g.shape)
    _forward_backward(ours, theirs, x, dtype, "weight_norm")
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _assert_state_equal(ours, theirs, dtype)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        nn.utils.remove_weight_norm(ours)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,n_power_iterations", [("linear", 1), ("linear", 3),
                                                     ("conv2d", 2), ("conv_transpose2d", 1)])
def test_hook_spectral_norm_matches_torch(kind, n_power_iterations, dtype):
    ours, theirs, x = _pair(kind, dtype)
    nn.utils.spectral_norm(ours, n_power_iterations=n_power_iterations, eps=1e-10)
    torch.nn.utils.spectral_norm(theirs, n_power_iterations=n_power_iterations, eps=1e-10)
    _copy_torch_state(ours, theirs)
    for step in range(3):  # training: u and v advance every forward
        _forward_backward(ours, theirs, x, dtype, f"spectral_norm train step {step}")
        _assert_state_equal(ours, theirs, dtype)
    ours.eval()
    theirs.eval()
    u_before = ours.weight_u.numpy().copy()
    _forward_backward(ours, theirs, x, dtype, "spectral_norm eval")
    np.testing.assert_array_equal(ours.weight_u.numpy(), u_before)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    _assert_state_equal(ours, theirs, dtype)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in"):
        nn.utils.remove_spectral_norm(ours)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("linear", None), ("conv2d", 1),
                                      ("conv_transpose2d", 0)])
def test_parametrized_weight_norm_matches_torch(kind, dim, dtype):
    ours, theirs, x = _pair(kind, dtype)
    nn.utils.parametrizations.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    assert type(ours).__name__ == type(theirs).__name__
    _copy_torch_state(ours, theirs)
    _forward_backward(ours, theirs, x, dtype, "parametrizations.weight_norm")
    _assert_close(ours.weight, theirs.weight, dtype, "parametrized weight")
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    _assert_state_equal(ours, theirs, dtype)
    assert type(ours) is type(_pair(kind, dtype)[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,n_power_iterations,dim", [("linear", 1, None), ("linear", 2, 1),
                                                         ("conv2d", 1, None),
                                                         ("conv_transpose2d", 2, None)])
def test_parametrized_spectral_norm_matches_torch(kind, n_power_iterations, dim, dtype):
    ours, theirs, x = _pair(kind, dtype)
    nn.utils.parametrizations.spectral_norm(ours, n_power_iterations=n_power_iterations, dim=dim)
    torch.nn.utils.parametrizations.spectral_norm(theirs, n_power_iterations=n_power_iterations,
                                                  dim=dim)
    _copy_torch_state(ours, theirs)
    for step in range(3):
        _forward_backward(ours, theirs, x, dtype, f"parametrized spectral_norm step {step}")
        _assert_state_equal(ours, theirs, dtype)
    ours.eval()
    theirs.eval()
    _forward_backward(ours, theirs, x, dtype, "parametrized spectral_norm eval")
    _assert_state_equal(ours, theirs, dtype)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    _assert_state_equal(ours, theirs, dtype)


def test_parametrized_spectral_norm_of_a_vector_normalizes_it():
    ours, theirs = nn.Linear(3, 4), torch.nn.Linear(3, 4)
    nn.utils.parametrizations.spectral_norm(ours, name="bias")
    torch.nn.utils.parametrizations.spectral_norm(theirs, name="bias")
    _copy_torch_state(ours, theirs)
    _assert_close(ours.bias, theirs.bias, np.float32, "normalized bias")


class _Symmetric:
    """The same parametrization for both libraries: X -> triu(X) + triu(X, 1)^T."""

    @staticmethod
    def build(base):
        class Symmetric(base):
            def forward(self, x):
                return x.triu() + x.triu(1).transpose(-1, -2)

            def right_inverse(self, a):
                return a.triu()
        return Symmetric()


class _Scale:
    @staticmethod
    def build(base, factor):
        class Scale(base):
            def forward(self, x):
                return x * factor

            def right_inverse(self, y):
                return y / factor
        return Scale()


def test_register_chain_assign_and_remove_match_torch():
    dtype = np.float64
    ours, theirs = nn.Linear(4, 4).double(), torch.nn.Linear(4, 4).double()
    _copy_torch_state(ours, theirs)
    x = np.random.default_rng(SEED).standard_normal((3, 4))
    for module, lib in ((ours, nn), (theirs, torch.nn)):
        lib.utils.parametrize.register_parametrization(module, "weight",
                                                       _Symmetric.build(lib.Module))
        lib.utils.parametrize.register_parametrization(module, "weight",
                                                       _Scale.build(lib.Module, 3.0))
    assert parametrize.is_parametrized(ours) and parametrize.is_parametrized(ours, "weight")
    assert not parametrize.is_parametrized(ours, "bias")
    assert parametrize.type_before_parametrizations(ours) is nn.Linear
    _assert_state_equal(ours, theirs, dtype)
    _forward_backward(ours, theirs, x, dtype, "chained parametrizations")

    target = np.random.default_rng(SEED + 1).standard_normal((4, 4))
    ours.weight = Tensor(target.copy())  # goes through the right inverses
    theirs.weight = torch.from_numpy(target.copy())
    _assert_state_equal(ours, theirs, dtype)
    _assert_close(ours.weight, theirs.weight, dtype, "weight after assignment")

    original = ours.parametrizations.weight.original
    parametrize.remove_parametrizations(ours, "weight", leave_parametrized=False)
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight",
                                                       leave_parametrized=False)
    assert ours.weight is original  # the same Parameter: optimizers holding it keep working
    assert type(ours) is nn.Linear and "parametrizations" not in dict(ours.named_children())
    _assert_state_equal(ours, theirs, dtype)


def test_cached_computes_once_per_context():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 2

    module = nn.Linear(3, 3)
    parametrize.register_parametrization(module, "weight", Counting())
    calls.clear()
    with parametrize.cached():
        first, second = module.weight, module.weight
    assert len(calls) == 1 and first is second
    module.weight
    assert len(calls) == 2


def test_parametrize_errors_match_torch():
    class ChangesShape(nn.Module):
        def forward(self, x):
            return x[:1]

    class TorchChangesShape(torch.nn.Module):
        def forward(self, x):
            return x[:1]

    for lib, module, bad in ((torch.nn, torch.nn.Linear(3, 3), TorchChangesShape()),
                             (nn, nn.Linear(3, 3), ChangesShape())):
        with pytest.raises(ValueError, match="may not change the shape of the tensor"):
            lib.utils.parametrize.register_parametrization(module, "weight", bad)
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                             "parametrized element with name 'nothing'"):
            lib.utils.parametrize.register_parametrization(module, "nothing", bad)
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            lib.utils.parametrize.remove_parametrizations(module, "weight")
        lib.utils.parametrize.register_parametrization(module, "weight", bad, unsafe=True)
        assert tuple(module.weight.shape) == (1, 3)

    for lib, module in ((torch.nn, torch.nn.Linear(3, 3)), (nn, nn.Linear(3, 3))):
        lib.utils.parametrizations.weight_norm(module)
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            lib.utils.parametrize.remove_parametrizations(module, "weight",
                                                          leave_parametrized=False)


@pytest.mark.parametrize("build", [
    lambda lib, m: lib.utils.spectral_norm(m, n_power_iterations=0),
    lambda lib, m: lib.utils.parametrizations.spectral_norm(m, n_power_iterations=0),
])
def test_spectral_norm_needs_power_iterations(build):
    for lib, module in ((torch.nn, torch.nn.Linear(3, 3)), (nn, nn.Linear(3, 3))):
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            build(lib, module)


def test_two_hooks_on_one_parameter_are_refused():
    module = nn.Linear(3, 3)
    nn.utils.spectral_norm(module)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(module)
