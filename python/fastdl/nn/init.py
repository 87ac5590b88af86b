"""In-place parameter initialisers with PyTorch's names, gains and fan computations.

Each writes ``tensor.data`` in place (no autograd record) and returns ``tensor``. Random draws come
from ``generator`` (a ``fastdl.Generator``, as torch's ``generator=``, or a
``numpy.random.Generator``) or, without one, fastdl's global generator (seeded by
``fastdl.manual_seed``); values are drawn in float64 on the host and cast once.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import warnings

import numpy as np

# True inside skipping_init(): every filling initializer returns its tensor untouched (and draws
# nothing from the generator), as torch's initializers do on its "meta" device
_SKIPPING = contextvars.ContextVar("fastdl_skipping_init", default=False)


@contextlib.contextmanager
def skipping_init():
    """Within this block the initializers below leave tensors as they are (what
    ``nn.utils.skip_init`` builds modules under)."""
    token = _SKIPPING.set(True)
    try:
        yield
    finally:
        _SKIPPING.reset(token)


def _skippable(fill):
    @functools.wraps(fill)
    def fill_unless_skipping(tensor, *args, **kwargs):
        return tensor if _SKIPPING.get() else fill(tensor, *args, **kwargs)
    return fill_unless_skipping


_LINEAR_GAIN_NAMES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                      "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table)."""
    if nonlinearity in _LINEAR_GAIN_NAMES:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = size(1) * receptive field, fan_out = size(0) * receptive field."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (shape {shape})")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _generator(generator):
    """The numpy Generator to draw from."""
    if isinstance(generator, np.random.Generator):
        return generator
    from fastdl import random as fastdl_random
    return fastdl_random._numpy_rng(generator)  # None: the global one


def _write(tensor, values):
    """Copy host float64 ``values`` into ``tensor.data`` in place, on its device and dtype."""
    data = tensor.data
    if isinstance(data, np.ndarray):
        data[...] = values
    else:
        from fastdl import backend
        data[...] = backend.array_module(data).asarray(values, dtype=data.dtype)
    return tensor


def _check_floating(tensor, fn: str):
    if tensor.data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating-point tensor, got dtype {tensor.data.dtype}")


@_skippable
def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with draws from U(a, b)."""
    _check_floating(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _write(tensor, _generator(generator).uniform(a, b, size=tuple(tensor.shape)))


@_skippable
def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with draws from N(mean, std^2)."""
    _check_floating(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _write(tensor, _generator(generator).normal(mean, std, size=tuple(tensor.shape)))


@_skippable
def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """Fill with draws from N(mean, std^2) restricted to [a, b] (ViT's initialization), as
    torch's: draws outside are redrawn, or, when [a, b] holds under 1% of the mass, the
    normal's inverse CDF is taken of uniform draws between the bounds' CDFs.

    >>> w = fastdl.nn.init.trunc_normal_(fastdl.empty(1000), std=0.02, a=-0.04, b=0.04)
    >>> bool((w.abs() <= 0.04).all())
    True
    """
    _check_floating(tensor, "trunc_normal_")
    if std < 0 or not a <= b:
        raise ValueError(f"trunc_normal_: expected std >= 0 and a <= b, got std={std}, a={a}, "
                         f"b={b}")
    rng, shape = _generator(generator), tuple(tensor.shape)
    if std == 0:
        return _write(tensor, np.full(shape, float(np.clip(mean, a, b))))
    cdf = [0.5 * (1.0 + math.erf((v - mean) / (std * math.sqrt(2.0)))) for v in (a, b)]
    if cdf[1] - cdf[0] >= 0.01:
        x = rng.normal(mean, std, size=shape)
        for _ in range(1000):
            outside = (x < a) | (x > b)
            if not outside.any():
                return _write(tensor, x)
            x[outside] = rng.normal(mean, std, size=int(outside.sum()))
    from statistics import NormalDist
    inverse = np.vectorize(NormalDist(mean, std).inv_cdf)
    u = rng.uniform(cdf[0], cdf[1], size=shape)
    return _write(tensor, np.clip(inverse(np.clip(u, 1e-300, 1 - 1e-16)), a, b))


@_skippable
def constant_(tensor, val: float):
    """Fill with ``val``."""
    return _write(tensor, val)


@_skippable
def ones_(tensor):
    return _write(tensor, 1.0)


@_skippable
def zeros_(tensor):
    return _write(tensor, 0.0)


@_skippable
def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the main diagonal)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, np.eye(*tensor.shape))


@_skippable
def dirac_(tensor, groups: int = 1):
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta (torch's): in each of the
    ``groups`` groups, output channel d of the group passes input channel d through at the
    kernel's centre, so the convolution keeps as many input channels as it can.

    >>> w = fastdl.nn.init.dirac_(fastdl.empty(2, 2, 3))
    >>> w[:, :, 1].tolist(), float(w.sum())
    ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tuple(tensor.shape)
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(size // 2 for size in shape[2:])
    for group in range(groups):
        for channel in range(min(out_per_group, shape[1])):
            values[(group * out_per_group + channel, channel) + centre] = 1.0
    return _write(tensor, values)


@_skippable
def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """Fill a 2-D tensor with N(0, std^2) draws, then zero ``ceil(sparsity * rows)`` randomly
    chosen entries of every column (Martens 2010, torch's ``sparse_``). Unlike torch, the
    zeroed rows are drawn from ``generator`` too, so a seeded call repeats exactly.

    >>> w = fastdl.nn.init.sparse_(fastdl.empty(10, 4), sparsity=0.3)
    >>> (w == 0).sum(0).tolist()
    [3, 3, 3, 3]
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    _check_floating(tensor, "sparse_")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity}")
    rng = _generator(generator)
    rows, cols = tuple(tensor.shape)
    zeros_per_column = math.ceil(sparsity * rows)
    values = rng.normal(0.0, std, size=(rows, cols))
    for column in range(cols):
        values[rng.permutation(rows)[:zeros_per_column], column] = 0.0
    return _write(tensor, values)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(-bound, bound), bound = gain(nonlinearity, a) * sqrt(3 / fan)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, std^2), std = gain(nonlinearity, a) / sqrt(fan)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


@_skippable
def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian draw, as PyTorch:
    rows (or columns, whichever are fewer) are orthonormal; dims past the first are flattened."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _generator(generator).normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    # Sign fix makes Q uniformly distributed (Haar) rather than biased by QR's conventions.
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tuple(tensor.shape)))


# ---- torch's deprecated names without the trailing underscore ---------------------------------
# Each warns (FutureWarning, torch's text) and calls the in-place initializer; the example call
# of each docstring needs arguments that initializer accepts.
_DEPRECATED_EXAMPLES = {
    "uniform_": "fastdl.empty(2, 3)", "normal_": "fastdl.empty(2, 3)",
    "constant_": "fastdl.empty(2, 3), 0.5", "eye_": "fastdl.empty(2, 3)",
    "dirac_": "fastdl.empty(2, 2, 3)", "xavier_uniform_": "fastdl.empty(2, 3)",
    "xavier_normal_": "fastdl.empty(2, 3)", "kaiming_uniform_": "fastdl.empty(2, 3)",
    "kaiming_normal_": "fastdl.empty(2, 3)", "orthogonal_": "fastdl.empty(2, 3)",
    "sparse_": "fastdl.empty(2, 3), 0.5",
}


def _make_deprecate(meth):
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return meth(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"""Deprecated alias of :func:`{new_name}` (torch's
    ``nn.init.{old_name}``): warns with a FutureWarning, then initializes in place.

    >>> import warnings
    >>> import fastdl
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     t = fastdl.nn.init.{old_name}({_DEPRECATED_EXAMPLES[new_name]})
    >>> caught[0].category.__name__, str(caught[0].message)
    ('FutureWarning', '`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.')
    """
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
