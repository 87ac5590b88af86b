"""The activations, simple layers, normalizations, distances, shuffles and parameter
containers of nn/functional/{activation_more,dropout_alpha,distance,shuffle,normalization_more}
and nn/modules/{activation_more,layers_more,container_params} against torch: outputs, input and
parameter gradients, state_dict keys (torch's state loaded into ours), reprs and error classes
in float32 and float64, fastdl.testing.gradcheck in float64, and for the random layers eval mode
exactly and training-mode structure and statistics. Inputs come from a fixed seed."""
from collections import OrderedDict

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SEED = 20261130
DTYPES = (np.float32, np.float64)
TOLERANCES = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}


def _rng():
    return np.random.default_rng(SEED)


def _randn(shape, dtype, scale=1.0, rng=None):
    return np.asarray((rng or _rng()).standard_normal(shape) * scale).astype(dtype)


def _array(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach().numpy())


def _close(ours, theirs, dtype, what):
    np.testing.assert_allclose(_array(ours), _array(theirs), err_msg=what, **TOLERANCES[dtype])


def compare(fastdl_fn, torch_fn, arrays, dtype, what, params=()):
    """Run both functions on leaves made from ``arrays`` (and the (ours, theirs) parameter
    pairs ``params``), compare the outputs, then the gradients of every leaf after the backward
    of the same randomly weighted sum of the output."""
    t_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    f_leaves = [fastdl.Tensor(a.copy(), requires_grad=True) for a in arrays]
    t_out, f_out = torch_fn(*t_leaves), fastdl_fn(*f_leaves)
    assert tuple(f_out.shape) == tuple(t_out.shape), what
    assert np.dtype(f_out.dtype) == np.dtype(dtype), what
    _close(f_out, t_out, dtype, f"{what}: output")
    weights = _randn(tuple(t_out.shape), dtype)
    (t_out * torch.from_numpy(weights)).sum().backward()
    (f_out * fastdl.Tensor(weights.copy())).sum().backward()
    for i, (f, t) in enumerate(zip(f_leaves, t_leaves)):
        _close(f.grad, t.grad, dtype, f"{what}: gradient of input {i}")
    for i, (f, t) in enumerate(params):
        _close(f.grad, t.grad, dtype, f"{what}: gradient of parameter {i}")
    return f_out, t_out


def assert_same_error(fastdl_call, torch_call):
    """fastdl raises the exception class torch raises for the same bad call."""
    with pytest.raises(Exception) as torch_error:
        torch_call()
    with pytest.raises(type(torch_error.value)):
        fastdl_call()


# ---------------------------------------------------------------------------------------------
# Pointwise activations: (name, kwargs, input scale); the scale of 4 crosses hardswish's and
# hardsigmoid's bounds at +-3, the shrinks' lambd and threshold's threshold.
POINTWISE = [
    ("selu", {}, 2.0), ("celu", {}, 2.0), ("celu", {"alpha": 0.7}, 2.0), ("mish", {}, 3.0),
    ("hardswish", {}, 4.0), ("hardsigmoid", {}, 4.0), ("hardshrink", {}, 1.0),
    ("hardshrink", {"lambd": 0.3}, 1.0), ("softshrink", {}, 1.0),
    ("softshrink", {"lambd": 0.8}, 1.0), ("tanhshrink", {}, 2.0), ("softsign", {}, 3.0),
    ("logsigmoid", {}, 10.0), ("threshold", {"threshold": 0.2, "value": -2.0}, 1.0),
]
SHAPES = ((7,), (3, 5, 2), ())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name, kwargs, scale", POINTWISE, ids=lambda v: str(v))
def test_pointwise_activations_match_torch(name, kwargs, scale, dtype):
    for shape in SHAPES:
        x = _randn(shape, dtype, scale)
        compare(lambda a: getattr(F, name)(a, **kwargs),
                lambda a: getattr(TF, name)(a, **kwargs), [x], dtype, f"{name} {shape}")


INPLACE = [  # (fastdl/torch in-place function, kwargs, input scale)
    ("relu_", {}, 1.0), ("elu_", {"alpha": 0.5}, 2.0), ("leaky_relu_", {"negative_slope": 0.2},
                                                         1.0),
    ("hardtanh_", {"min_val": -0.5, "max_val": 0.7}, 1.0), ("selu_", {}, 2.0),
    ("celu_", {"alpha": 1.5}, 2.0), ("threshold_", {"threshold": 0.1, "value": 3.0}, 1.0),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name, kwargs, scale", INPLACE, ids=lambda v: str(v))
def test_inplace_functions_write_into_their_input(name, kwargs, scale, dtype):
    x = _randn((4, 5), dtype, scale)

    def run(fn):
        def call(leaf):
            hidden = leaf * 1.0  # a non-leaf: in-place ops on it are recorded
            out = fn(hidden, **kwargs)
            assert out is hidden
            return out
        return call
    compare(run(getattr(F, name)), run(getattr(TF, name)), [x], dtype, name)
    leaf = fastdl.Tensor(x.copy(), requires_grad=True)
    assert_same_error(lambda: getattr(F, name)(leaf, **kwargs),
                      lambda: getattr(TF, name)(torch.tensor(x, requires_grad=True), **kwargs))


@pytest.mark.parametrize("name", ["mish", "hardswish", "hardsigmoid", "selu", "celu"])
def test_inplace_flag_matches_the_out_of_place_result(name):
    x = _randn((3, 4), np.float64, 4.0)
    expected = getattr(F, name)(fastdl.Tensor(x.copy()))
    target = fastdl.Tensor(x.copy())
    assert getattr(F, name)(target, inplace=True) is target
    np.testing.assert_array_equal(target.numpy(), expected.numpy())
    np.testing.assert_allclose(target.numpy(), getattr(TF, name)(torch.tensor(x)).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_glu_softmin_and_prelu_match_torch(dtype):
    x = _randn((3, 6, 4), dtype, 2.0)
    for dim in (1, -1, 2):
        compare(lambda a: F.glu(a, dim), lambda a: TF.glu(a, dim), [x], dtype, f"glu {dim}")
    for dim in (0, 1, -1):
        compare(lambda a: F.softmin(a, dim), lambda a: TF.softmin(a, dim), [x], dtype,
                f"softmin {dim}")
    out = F.softmin(fastdl.Tensor(x.astype(np.float32)), 1, dtype=fastdl.float64)
    np.testing.assert_allclose(out.numpy(), TF.softmin(torch.tensor(x.astype(np.float32)), 1,
                                                       dtype=torch.float64).numpy(), rtol=1e-6)
    assert out.dtype == np.float64
    for x_shape, w_shape in (((4, 3, 5), (3,)), ((4, 3, 5), (1,)), ((5,), (1,)), ((), (1,)),
                             ((2, 3), ()), ((6, 1, 2, 3), (1,))):
        xs, ws = _randn(x_shape, dtype, 2.0), _randn(w_shape, dtype, rng=np.random.default_rng(1))
        compare(F.prelu, TF.prelu, [xs, ws], dtype, f"prelu {x_shape} {w_shape}")


def test_activation_errors_match_torch():
    x, tx = fastdl.randn(3, 5), torch.randn(3, 5)
    assert_same_error(lambda: F.glu(x, 1), lambda: TF.glu(tx, 1))  # odd size
    assert_same_error(lambda: F.glu(x, 2), lambda: TF.glu(tx, 2))  # no such dim
    assert_same_error(lambda: F.glu(fastdl.tensor(1.0)), lambda: TF.glu(torch.tensor(1.0)))
    assert_same_error(lambda: F.softshrink(x, -0.5), lambda: TF.softshrink(tx, -0.5))
    assert_same_error(lambda: F.prelu(x, fastdl.ones(4)), lambda: TF.prelu(tx, torch.ones(4)))
    assert_same_error(lambda: F.prelu(x, fastdl.ones(5, 1)),
                      lambda: TF.prelu(tx, torch.ones(5, 1)))
    assert_same_error(lambda: nn.Softmax2d()(x), lambda: torch.nn.Softmax2d()(tx))
    with pytest.raises(TypeError, match="floating point"):  # fastdl's class for a dtype error
        F.selu(fastdl.tensor([1, 2]))


# ---------------------------------------------------------------------------------------------
# Activation modules: construction arguments, repr, state_dict, forward and gradients

MODULES = [  # (class name, constructor args, kwargs, input shape, input scale)
    ("SELU", (), {}, (3, 5), 2.0), ("SELU", (True,), {}, (3, 5), 2.0),
    ("CELU", (0.5,), {}, (3, 5), 2.0), ("CELU", (), {"inplace": True}, (3, 5), 2.0),
    ("GLU", (), {}, (3, 4), 1.0), ("GLU", (0,), {}, (4, 3), 1.0),
    ("Mish", (), {}, (3, 5), 3.0), ("Mish", (True,), {}, (3, 5), 3.0),
    ("Hardswish", (), {}, (3, 5), 4.0), ("Hardswish", (True,), {}, (3, 5), 4.0),
    ("Hardsigmoid", (True,), {}, (3, 5), 4.0), ("Hardshrink", (), {}, (3, 5), 1.0),
    ("Hardshrink", (0.2,), {}, (3, 5), 1.0), ("Softshrink", (0.3,), {}, (3, 5), 1.0),
    ("Tanhshrink", (), {}, (3, 5), 2.0), ("Softsign", (), {}, (3, 5), 2.0),
    ("LogSigmoid", (), {}, (3, 5), 5.0), ("Threshold", (0.1, 20.0), {}, (3, 5), 1.0),
    ("Threshold", (0.1, 20.0, True), {}, (3, 5), 1.0), ("Softmin", (1,), {}, (3, 5), 1.0),
    ("Softmax2d", (), {}, (2, 3, 4, 5), 1.0), ("Softmax2d", (), {}, (3, 4, 5), 1.0),
    ("PReLU", (), {}, (2, 3, 5), 1.0), ("PReLU", (3,), {"init": 0.1}, (2, 3, 5), 1.0),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 5), 1.0), ("PixelUnshuffle", (2,), {}, (2, 3, 4, 6), 1.0),
    ("ChannelShuffle", (3,), {}, (2, 6, 5), 1.0),
    ("RMSNorm", (5,), {}, (3, 4, 5), 1.0),
    ("RMSNorm", ((4, 5),), {"eps": 1e-3, "elementwise_affine": False}, (3, 4, 5), 1.0),
    ("RMSNorm", ([4, 5],), {"eps": 1e-5}, (2, 4, 5), 1.0),
    ("LocalResponseNorm", (3,), {}, (2, 5, 4), 1.0),
    ("LocalResponseNorm", (2,), {"alpha": 0.1, "beta": 0.6, "k": 2.0}, (2, 5, 3, 3), 3.0),
    ("RReLU", (0.1, 0.3), {}, (3, 5), 1.0),  # compared in eval: the mean slope
    ("AlphaDropout", (0.3,), {}, (3, 5), 1.0), ("FeatureAlphaDropout", (), {}, (3, 5, 2), 1.0),
]


def _twins(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    return ours, theirs


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name, args, kwargs, shape, scale", MODULES,
                         ids=lambda v: str(v) if isinstance(v, (str, tuple)) else "")
def test_modules_match_torch(name, args, kwargs, shape, scale, dtype):
    ours, theirs = _twins(name, args, kwargs)
    assert repr(ours) == repr(theirs)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours.to(dtype)
    with torch.no_grad():  # torch's parameters made distinct from their initial values
        for i, p in enumerate(theirs.parameters()):
            p.add_(torch.from_numpy(_randn(tuple(p.shape), dtype, 0.3,
                                           rng=np.random.default_rng(i))))
    t_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(t_state)
    ours.load_state_dict({k: v.numpy().copy() for k, v in t_state.items()})
    if name in ("RReLU", "AlphaDropout", "FeatureAlphaDropout"):
        ours.eval(), theirs.eval()
    inplace = getattr(theirs, "inplace", False)
    t_params, f_params = list(theirs.parameters()), list(ours.parameters())

    def module_call(module):  # an in-place module gets a non-leaf to write into
        return (lambda a: module(a * 1.0)) if inplace else module
    compare(module_call(ours), module_call(theirs), [_randn(shape, dtype, scale)], dtype, name,
            params=list(zip(f_params, t_params)))


def test_module_errors_match_torch():
    cases = [(("PReLU", (3,), {}), (2, 4, 5)), (("RMSNorm", (4,), {}), (2, 5)),
             (("LocalResponseNorm", (2,), {}), (3, 4)), (("PixelShuffle", (2,), {}), (2, 6, 4, 4)),
             (("PixelUnshuffle", (2,), {}), (2, 3, 5, 4)), (("ChannelShuffle", (4,), {}),
                                                             (2, 6, 3)),
             (("GLU", (), {}), (3, 5)), (("Softmax2d", (), {}), (5,))]
    for (name, args, kwargs), shape in cases:
        ours, theirs = _twins(name, args, kwargs)
        x = _randn(shape, np.float32)
        assert_same_error(lambda: ours(fastdl.Tensor(x)), lambda: theirs(torch.tensor(x)))
    assert_same_error(lambda: nn.AlphaDropout(1.5), lambda: torch.nn.AlphaDropout(1.5))


# ---------------------------------------------------------------------------------------------
# Shuffles, RMS / local response normalization, distances (functional forms)

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_shuffles_match_torch(dtype):
    for shape, r in (((2, 18, 3, 5), 3), ((8, 3, 5), 2), ((2, 3, 4, 2, 3), 2), ((1, 5, 2, 7), 1)):
        compare(lambda a: F.pixel_shuffle(a, r), lambda a: TF.pixel_shuffle(a, r),
                [_randn(shape, dtype)], dtype, f"pixel_shuffle {shape} {r}")
    for shape, r in (((2, 2, 6, 9), 3), ((3, 4, 6), 2), ((2, 3, 1, 4, 2), 2)):
        compare(lambda a: F.pixel_unshuffle(a, r), lambda a: TF.pixel_unshuffle(a, r),
                [_randn(shape, dtype)], dtype, f"pixel_unshuffle {shape} {r}")
    for shape, groups in (((2, 6, 5), 3), ((1, 6, 2, 3), 2), ((3, 5, 1), 5), ((2, 4, 3), 1)):
        compare(lambda a: F.channel_shuffle(a, groups), lambda a: TF.channel_shuffle(a, groups),
                [_randn(shape, dtype)], dtype, f"channel_shuffle {shape} {groups}")
        x = _randn(shape, dtype)  # torch has no derivative for native_channel_shuffle
        _close(F.native_channel_shuffle(fastdl.Tensor(x), groups),
               torch.native_channel_shuffle(torch.tensor(x), groups), dtype,
               f"native_channel_shuffle {shape} {groups}")
    x, tx = fastdl.randn(2, 5, 3, 3), torch.randn(2, 5, 3, 3)
    assert_same_error(lambda: F.pixel_shuffle(x, 2), lambda: TF.pixel_shuffle(tx, 2))
    assert_same_error(lambda: F.pixel_shuffle(x, 0), lambda: TF.pixel_shuffle(tx, 0))
    assert_same_error(lambda: F.pixel_shuffle(x[0, 0], 1), lambda: TF.pixel_shuffle(tx[0, 0], 1))
    assert_same_error(lambda: F.pixel_unshuffle(x, 2), lambda: TF.pixel_unshuffle(tx, 2))
    assert_same_error(lambda: F.channel_shuffle(x, 2), lambda: TF.channel_shuffle(tx, 2))
    assert_same_error(lambda: F.channel_shuffle(x, 0), lambda: TF.channel_shuffle(tx, 0))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_rms_norm_and_local_response_norm_match_torch(dtype):
    x = _randn((3, 4, 5), dtype, 2.0)
    for shape, eps in ((5, None), ((5,), 1e-3), ((4, 5), None), ([3, 4, 5], 0.5)):
        full = (shape,) if isinstance(shape, int) else tuple(shape)
        # fastdl also takes an int normalized_shape (as the module does); torch's F a sequence
        compare(lambda a: F.rms_norm(a, shape, eps=eps), lambda a: TF.rms_norm(a, full, eps=eps),
                [x], dtype, f"rms_norm {shape} {eps}")
        w = _randn(full, dtype, rng=np.random.default_rng(2))
        compare(lambda a, b: F.rms_norm(a, shape, b, eps),
                lambda a, b: TF.rms_norm(a, full, b, eps), [x, w], dtype,
                f"rms_norm weighted {shape} {eps}")
    for shape in ((2, 7, 3), (2, 6, 3, 4), (1, 5, 2, 3, 2)):
        for size, alpha, beta, k in ((1, 1e-4, 0.75, 1.0), (2, 0.5, 0.5, 1.0),
                                     (3, 1e-2, 0.75, 2.0), (5, 1.0, 1.2, 0.5), (9, 0.3, 0.75, 1)):
            compare(lambda a: F.local_response_norm(a, size, alpha, beta, k),
                    lambda a: TF.local_response_norm(a, size, alpha, beta, k),
                    [_randn(shape, dtype, 2.0)], dtype, f"lrn {shape} {size}")
    xt, tt = fastdl.randn(3, 4), torch.randn(3, 4)
    assert_same_error(lambda: F.rms_norm(xt, (3,)), lambda: TF.rms_norm(tt, (3,)))
    assert_same_error(lambda: F.rms_norm(xt, (4,), fastdl.ones(3)),
                      lambda: TF.rms_norm(tt, (4,), torch.ones(3)))
    assert_same_error(lambda: F.rms_norm(xt, ()), lambda: TF.rms_norm(tt, ()))
    assert_same_error(lambda: F.local_response_norm(xt, 2), lambda: TF.local_response_norm(tt, 2))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_distances_match_torch(dtype):
    rng = _rng()
    for s1, s2, dim, eps in (((4, 5), (4, 5), 1, 1e-8), ((4, 5), (4, 5), 0, 1e-8),
                             ((4, 1, 5), (3, 5), -1, 1e-8), ((3, 5), (5,), 1, 1e-8),
                             ((6, 3), (6, 3), 1, 2.0)):  # eps 2 clamps most norms
        compare(lambda a, b: F.cosine_similarity(a, b, dim, eps),
                lambda a, b: TF.cosine_similarity(a, b, dim, eps),
                [_randn(s1, dtype, rng=rng), _randn(s2, dtype, rng=rng)], dtype,
                f"cosine_similarity {s1} {s2} {dim} {eps}")
    for s1, s2 in (((4, 5), (4, 5)), ((3, 1, 5), (4, 5)), ((7,), (7,))):
        for p in (1.0, 2.0, 3.0, 0.5, float("inf")):
            for keepdim in (False, True):
                for eps in (1e-6, 0.1):
                    compare(lambda a, b: F.pairwise_distance(a, b, p, eps, keepdim),
                            lambda a, b: TF.pairwise_distance(a, b, p, eps, keepdim),
                            [_randn(s1, dtype, rng=rng), _randn(s2, dtype, rng=rng)], dtype,
                            f"pairwise_distance {s1} {s2} {p} {keepdim} {eps}")
    for shape in ((5, 3), (2, 4), (1, 3)):
        for p in (0.0, 1.0, 2.0, 3.0, float("inf")):
            compare(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p),
                    [_randn(shape, dtype, rng=rng)], dtype, f"pdist {shape} {p}")
            compare(lambda a: fastdl.pdist(a, p), lambda a: torch.pdist(a, p),
                    [_randn(shape, dtype, rng=rng)], dtype, f"fastdl.pdist {shape} {p}")
    x1, t1 = fastdl.randn(3, 4), torch.randn(3, 4)
    assert_same_error(lambda: F.cosine_similarity(x1, x1, 2), lambda: TF.cosine_similarity(
        t1, t1, 2))
    assert_same_error(lambda: F.pdist(x1.reshape(1, 3, 4)), lambda: TF.pdist(t1.reshape(1, 3, 4)))
    assert_same_error(lambda: F.pdist(x1, -1.0), lambda: TF.pdist(t1, -1.0))
    m = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    assert (m.norm, m.eps, m.keepdim) == (1.0, 0.0, True)


# ---------------------------------------------------------------------------------------------
# Random layers: eval exactly, training structure and statistics

def test_rrelu_eval_is_leaky_relu_with_the_mean_slope():
    x = _randn((4, 7), np.float32, 2.0)
    for lower, upper in ((1 / 8, 1 / 3), (0.2, 0.2), (0.0, 1.0)):
        ours = F.rrelu(fastdl.Tensor(x.copy()), lower, upper, training=False)
        theirs = TF.rrelu(torch.tensor(x), lower, upper, training=False)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert_same_error(lambda: F.rrelu(fastdl.Tensor(x), 0.5, 0.1, training=True),
                      lambda: TF.rrelu(torch.tensor(x), 0.5, 0.1, training=True))


@pytest.mark.parametrize("inplace", [False, True])
def test_rrelu_training_draws_one_slope_per_negative_element(inplace):
    fastdl.manual_seed(7)
    lower, upper = 0.1, 0.4
    x = _randn((200, 300), np.float64)
    leaf = fastdl.Tensor(x.copy(), requires_grad=True)
    out = F.rrelu(leaf * 1.0, lower, upper, training=True, inplace=inplace)
    y = out.detach().numpy()
    positive = x > 0
    np.testing.assert_array_equal(y[positive], x[positive])
    slopes = y[~positive] / x[~positive]
    assert slopes.min() >= lower and slopes.max() <= upper
    assert len(np.unique(np.round(slopes, 12))) > 0.99 * slopes.size  # independent draws
    assert abs(slopes.mean() - (lower + upper) / 2) < 5 * (upper - lower) / np.sqrt(12 * slopes.size)
    out.sum().backward()  # the gradient is the element's slope (1 for positives)
    np.testing.assert_allclose(leaf.grad.numpy()[~positive], slopes, rtol=1e-12)
    np.testing.assert_array_equal(leaf.grad.numpy()[positive], 1.0)
    module = nn.RReLU(lower, upper)
    assert module.training and not np.array_equal(module(fastdl.Tensor(x)).numpy(),
                                                   F.leaky_relu(fastdl.Tensor(x), 0.25).numpy())


SELU_ALPHA_SCALE = 1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_training_structure_and_statistics(p, feature):
    fastdl.manual_seed(11)
    shape = (400, 300, 4) if feature else (600, 400)
    x = _randn(shape, np.float64)
    leaf = fastdl.Tensor(x.copy(), requires_grad=True)
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    out = fn(leaf, p, training=True)
    y = out.detach().numpy()
    a = 1 / np.sqrt((SELU_ALPHA_SCALE ** 2 * p + 1) * (1 - p))
    kept_value = x * a + SELU_ALPHA_SCALE * a * p
    dropped_value = SELU_ALPHA_SCALE * a * (p - 1)
    kept = np.isclose(y, kept_value, rtol=1e-12, atol=1e-12)
    assert np.all(kept | np.isclose(y, dropped_value, rtol=1e-12))
    if feature:  # a channel is kept or dropped whole
        per_channel = kept.reshape(shape[0], shape[1], -1)
        assert np.all(per_channel.all(-1) | ~per_channel.any(-1))
        draws = per_channel[..., 0]
    else:
        draws = kept
    assert abs((1 - draws.mean()) - p) < 5 * np.sqrt(p * (1 - p) / draws.size)
    # the point of alpha dropout: a standard normal input stays zero-mean and unit-variance
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05
    out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), np.where(kept, a, 0.0), rtol=1e-12)


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_deterministic_cases_match_torch(name):
    x = _randn((3, 4, 5), np.float32)
    for p, training in ((0.5, False), (0.0, True), (1.0, True)):
        ours = getattr(F, name)(fastdl.Tensor(x.copy()), p, training)
        theirs = getattr(TF, name)(torch.tensor(x), p, training)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for module in (nn.AlphaDropout(0.4), nn.FeatureAlphaDropout(0.4)):
        module.eval()
        np.testing.assert_array_equal(module(fastdl.Tensor(x)).numpy(), x)
    assert_same_error(lambda: getattr(F, name)(fastdl.Tensor(x), 1.2, True),
                      lambda: getattr(TF, name)(torch.tensor(x), 1.2, True))
    target = fastdl.Tensor(x.copy())
    assert getattr(F, name)(target, 0.3, True, inplace=True) is target


# ---------------------------------------------------------------------------------------------
# Gradients against central differences (float64)

GRADCHECK = {
    "selu": lambda x: F.selu(x), "celu": lambda x: F.celu(x, 0.6), "mish": F.mish,
    "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid,
    "hardshrink": lambda x: F.hardshrink(x, 0.05), "softshrink": lambda x: F.softshrink(x, 0.05),
    "tanhshrink": F.tanhshrink, "softsign": F.softsign, "logsigmoid": F.logsigmoid,
    "threshold": lambda x: F.threshold(x, 0.05, -1.0), "glu": lambda x: F.glu(x, 0),
    "softmin": lambda x: F.softmin(x, 1), "rrelu (eval)": lambda x: F.rrelu(x),
    "prelu": lambda x: F.prelu(x, fastdl.tensor([0.3, -0.2, 0.5], dtype=fastdl.float64)),
    "pixel_shuffle": lambda x: F.pixel_shuffle(x.reshape(1, 4, 1, 3), 2),
    "pixel_unshuffle": lambda x: F.pixel_unshuffle(x.reshape(1, 1, 2, 6), 2),
    "channel_shuffle": lambda x: F.channel_shuffle(x.reshape(1, 4, 3), 2),
    "rms_norm": lambda x: F.rms_norm(x, (3,), eps=1e-3),
    "local_response_norm": lambda x: F.local_response_norm(x.reshape(1, 4, 3), 3, 0.5, 0.7),
    "cosine_similarity": lambda x: F.cosine_similarity(x[:2], x[2:], 1),
    "pairwise_distance": lambda x: F.pairwise_distance(x[:2], x[2:], 3.0),
    "pdist": lambda x: F.pdist(x, 2.0), "alpha_dropout (eval)": F.alpha_dropout,
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck_float64(name):
    x = _randn((4, 3), np.float64)
    x[np.abs(x) < 0.1] += 0.3  # away from the kinks at 0 and +-0.05 (one-sided differences)
    assert gradcheck(GRADCHECK[name], (fastdl.Tensor(x, requires_grad=True),))


def test_prelu_weight_gradcheck_float64():
    x = _randn((2, 3, 4), np.float64)
    w = fastdl.Tensor(np.array([0.3, -0.2, 0.5]), requires_grad=True)
    assert gradcheck(F.prelu, (fastdl.Tensor(x, requires_grad=True), w))
    assert gradcheck(lambda a, b: F.rms_norm(a, (4,), b),
                     (fastdl.Tensor(x, requires_grad=True),
                      fastdl.Tensor(_randn((4,), np.float64, rng=np.random.default_rng(3)),
                                    requires_grad=True)))


# ---------------------------------------------------------------------------------------------
# ParameterList and ParameterDict

def test_parameter_list_registers_indexes_and_grows():
    p0 = nn.Parameter(fastdl.zeros(2, 3))
    params = nn.ParameterList([p0, fastdl.ones(4, dtype=fastdl.float64)])
    assert isinstance(params[1], nn.Parameter) and params[1].requires_grad
    assert params[0] is p0 and params[-1] is params[1] and len(params) == 2
    params.append(nn.Parameter(fastdl.zeros(1)))
    params.extend([fastdl.zeros(5)])
    params += [nn.Parameter(fastdl.zeros(2), requires_grad=False)]
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2", "3", "4"]
    assert list(params.state_dict()) == ["0", "1", "2", "3", "4"]
    assert len(list(params.parameters())) == 5 and len(params[1:3]) == 2
    replacement = nn.Parameter(fastdl.full((2, 3), 7.0))
    params[0] = replacement
    assert params[0] is replacement and list(params)[0] is replacement
    with pytest.raises(IndexError):
        params[5]
    with pytest.raises(TypeError):
        params.extend(3)
    with pytest.raises(RuntimeError):
        params(fastdl.ones(1))
    holder = nn.Module()
    holder.params = params
    assert "params.4" in holder.state_dict()


def test_parameter_list_repr_and_state_dict_like_torch():
    shapes = [((2, 3), np.float32), ((4,), np.float64)]
    ours = nn.ParameterList([nn.Parameter(fastdl.Tensor(np.zeros(s, d))) for s, d in shapes]
                            + [3])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(np.zeros(s, d)))
                                     for s, d in shapes] + [3])
    assert repr(ours) == repr(theirs).replace("torch.", "fastdl.")
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_parameter_dict_registers_updates_and_removes():
    params = nn.ParameterDict({"b": fastdl.zeros(2), "a": nn.Parameter(fastdl.ones(3))})
    assert list(params) == ["a", "b"]  # a plain dict is taken in sorted key order (torch's)
    params.update(OrderedDict([("z", fastdl.zeros(1)), ("c", fastdl.zeros(1))]))
    params.update([("d", fastdl.zeros(1))])
    params["e"] = fastdl.zeros(1)
    assert list(params.keys()) == ["a", "b", "z", "c", "d", "e"]
    assert list(params.state_dict()) == ["a", "b", "z", "c", "d", "e"]
    assert isinstance(params["b"], nn.Parameter) and "c" in params and len(params) == 6
    removed = params.pop("z")
    assert removed.shape == (1,) and "z" not in params and "z" not in params.state_dict()
    del params["c"]
    assert params.get("c") is None and params.setdefault("f", fastdl.ones(2)).shape == (2,)
    key, _ = params.popitem()
    assert key == "f"
    merged = params | {"g": fastdl.zeros(3)}
    assert list(merged) == ["a", "b", "d", "e", "g"] and list(params) == ["a", "b", "d", "e"]
    with pytest.raises(TypeError):
        params[1] = fastdl.zeros(1)
    with pytest.raises(ValueError):
        params.update([("x", fastdl.zeros(1), 3)])
    params.clear()
    assert len(params) == 0 and not list(params.parameters())


def test_parameter_dict_repr_and_state_dict_like_torch():
    values = {"w": np.ones((2, 3), np.float32), "bias": np.zeros(4, np.float32)}
    ours = nn.ParameterDict({k: fastdl.Tensor(v.copy()) for k, v in values.items()})
    theirs = torch.nn.ParameterDict({k: torch.tensor(v) for k, v in values.items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # torch writes the dict's dtypes as legacy type names (torch.FloatTensor); fastdl keeps
    # ParameterList's spelling (fastdl.float32)
    assert repr(ours) == repr(theirs).replace("torch.FloatTensor", "fastdl.float32")
    ours.load_state_dict({k: v.numpy() * 2 for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours["w"].detach().numpy(), 2 * values["w"])


# ---------------------------------------------------------------------------------------------
# torch's top-level names (torch.selu, torch.pdist ...) and Tensor methods

def test_top_level_functions_and_tensor_methods_match_torch():
    from fastdl.nn.functional.torch_namespace import TENSOR_METHODS, __all__ as top_level
    for name in top_level:
        assert hasattr(torch, name) and name in fastdl.__all__, name
    for name in TENSOR_METHODS:
        assert hasattr(torch.Tensor, name), name
    x = _randn((2, 4, 6, 6), np.float64, 2.0)
    x2 = _randn((2, 4, 6, 6), np.float64, rng=np.random.default_rng(5))
    weight = np.array([0.1, -0.3, 0.5, 0.2])
    calls = [("selu", ()), ("celu", (0.5,)), ("hardshrink", (0.3,)), ("threshold", (0.1, 2.0)),
             ("pixel_shuffle", (2,)), ("pixel_unshuffle", (3,)), ("channel_shuffle", (2,)),
             ("native_channel_shuffle", (2,)), ("rms_norm", ((6,),)), ("rrelu", (0.1, 0.2)),
             ("alpha_dropout", (0.5, False)), ("feature_alpha_dropout", (0.5, False))]
    for name, args in calls:
        _close(getattr(fastdl, name)(fastdl.Tensor(x.copy()), *args),
               getattr(torch, name)(torch.tensor(x), *args), np.float64, name)
    for name, args in (("selu_", ()), ("celu_", (2.0,)), ("threshold_", (0.0, -1.0)),
                       ("relu_", ()), ("rrelu_", (0.2, 0.4)), ("alpha_dropout_", (0.3, False)),
                       ("feature_alpha_dropout_", (0.3, False))):
        ours, theirs = fastdl.Tensor(x.copy()), torch.tensor(x)
        assert getattr(fastdl, name)(ours, *args) is ours
        getattr(torch, name)(theirs, *args)
        _close(ours, theirs, np.float64, name)
    pairs = [("cosine_similarity", (1, 1e-8)), ("pairwise_distance", (3.0, 1e-6, True))]
    for name, args in pairs:
        _close(getattr(fastdl, name)(fastdl.Tensor(x), fastdl.Tensor(x2), *args),
               getattr(torch, name)(torch.tensor(x), torch.tensor(x2), *args), np.float64, name)
    _close(fastdl.prelu(fastdl.Tensor(x), fastdl.Tensor(weight)),
           torch.prelu(torch.tensor(x), torch.tensor(weight)), np.float64, "prelu")
    _close(fastdl.Tensor(x).prelu(fastdl.Tensor(weight)),
           torch.tensor(x).prelu(torch.tensor(weight)), np.float64, "Tensor.prelu")
    _close(fastdl.Tensor(x).hardshrink(0.7), torch.tensor(x).hardshrink(0.7), np.float64,
           "Tensor.hardshrink")
    ours = fastdl.Tensor(x.copy())
    assert ours.relu_() is ours
    np.testing.assert_array_equal(ours.numpy(), np.maximum(x, 0))
