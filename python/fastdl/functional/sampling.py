"""torch's random sampling functions and in-place random fills (bernoulli, multinomial, normal,
poisson, randint_like, Tensor.random_/exponential_/geometric_/log_normal_/cauchy_ ...).

Every draw comes from fastdl's global numpy Generator (``fastdl.manual_seed``) or from the
``generator=`` given, so seeding makes them reproducible. CUDA tensors are filled from the same
host generator (drawn on the host, then copied), so a seed gives the same numbers on both
devices (Tensor.uniform_ and normal_, in tensor.py, draw on the device as randn does). The
samples are constants: like torch's, their gradient is zero.
"""
from __future__ import annotations

import numpy as np

from fastdl import random as _random
from fastdl.functional import arithmetic as A
from fastdl.functional._core import Tensor, _wrap, xp_of
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.windows import is_strided
from fastdl.tensor import int64


def _on_device_of(like, array):
    """A host array as a constant tensor on ``like``'s device."""
    if like is None or type(like._data) is np.ndarray:
        return _wrap(array)
    return _wrap(xp_of(like._data).asarray(array))


def _host(t):
    d = t._data
    return d if type(d) is np.ndarray else d.get()


def _with_zero_gradient(sample, *inputs):
    """The sample, joined to the graph of the inputs that require grad with a zero gradient
    (torch's derivative of normal with respect to mean and std is zero): ``where`` with an
    all-false condition passes the sample's values and sends the inputs zeros."""
    never = _wrap(xp_of(sample._data).zeros(sample._data.shape, dtype=bool))
    for x in inputs:
        if x.requires_grad:
            sample = A.where(never, x.to(sample._data.dtype), sample)
    return sample


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples, 1 with probability ``input`` elementwise (or with ``p`` for every element
    when given), in input's dtype; as in torch, the gradient to ``input`` is zero.

    Shape: input's.

    >>> g = fastdl.Generator().manual_seed(0)
    >>> fastdl.bernoulli(fastdl.tensor([0.0, 1.0]), generator=g).tolist()
    [0.0, 1.0]
    """
    check_tensor_arg(input, "bernoulli")
    probs = _host(input) if p is None else np.full(input._data.shape, float(p))
    if probs.size and not ((probs >= 0) & (probs <= 1)).all():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    draw = _random._numpy_rng(generator).random(probs.shape)
    return _with_zero_gradient(_on_device_of(input, (draw < probs).astype(input._data.dtype)),
                               input)


def bernoulli_(self, p=0.5, *, generator=None):
    """self filled with 0/1 samples, 1 with probability ``p`` (a number, or a tensor that
    broadcasts to self). Returns self.

    >>> fastdl.zeros(3).bernoulli_(1.0).tolist()
    [1.0, 1.0, 1.0]
    """
    if isinstance(p, Tensor):
        probs = _wrap(np.broadcast_to(_host(p), self._data.shape).astype(np.float64))
        return self.copy_(bernoulli(probs, generator=generator))
    return self.copy_(bernoulli(self.detach(), float(p), generator=generator))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Category indices drawn with probabilities proportional to the rows of ``input``
    (non-negative weights): with replacement, independently; without, each category at most
    once (zero-weight categories come only after every other one, as in torch).

    Shape: (num_samples,) for a 1-D input, (rows, num_samples) for a 2-D one; int64.

    >>> g = fastdl.Generator().manual_seed(0)
    >>> sorted(fastdl.multinomial(fastdl.tensor([1.0, 0.0, 2.0]), 2, generator=g).tolist())
    [0, 2]
    """
    check_tensor_arg(input, "multinomial")
    w = _host(input).astype(np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input._data.dtype}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = w.reshape(-1, w.shape[-1])
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _random._numpy_rng(generator)
    if replacement:  # inverse CDF of each row at uniform draws
        cdf = np.cumsum(rows, 1)
        cdf /= cdf[:, -1:]
        u = rng.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)])
        out = np.minimum(out, rows.shape[1] - 1)
    else:  # the race of exponential clocks: category i rings at E_i / w_i, the first k win
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=rows.shape) / rows
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    return _on_device_of(input, out.reshape(w.shape[:-1] + (num_samples,)).astype(int64))


def _float_arg(v):
    return float(v.item()) if isinstance(v, Tensor) else float(v)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, layout=None,
           device=None):
    """Normal samples: elementwise with tensor ``mean`` and/or ``std`` (broadcast together), or
    of shape ``size`` with number mean and std (the default dtype unless ``dtype``). ``layout``
    can only be strided (torch.strided, "strided" or None).

    >>> fastdl.normal(fastdl.zeros(2, 3), 1.0).shape
    (2, 3)
    >>> fastdl.normal(0.0, 1.0, (4,)).dtype
    dtype('float32')
    """
    if not is_strided(layout):
        raise RuntimeError(f"normal: fastdl tensors are strided (dense), got layout {layout}")
    rng = _random._numpy_rng(generator)
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with number mean and std, give the size")
        from fastdl.creation import _dt, _finish, _size, _xp
        if _float_arg(std) < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_float_arg(std)}")
        draw = rng.normal(_float_arg(mean), _float_arg(std), _size((size,)))
        return _finish(_xp(device).asarray(draw.astype(_dt(dtype))), False)
    if size is not None:
        raise RuntimeError("normal(): size is only allowed with number mean and std")
    m = _host(mean) if isinstance(mean, Tensor) else np.asarray(float(mean))
    s = _host(std) if isinstance(std, Tensor) else np.asarray(float(std))
    if s.size and (s < 0).any():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    dt = np.result_type(*[t._data.dtype for t in tensors])
    if dt.kind != "f":
        raise RuntimeError(f"normal expects floating point mean and std, got {dt}")
    shape = np.broadcast_shapes(m.shape, s.shape)
    draw = (m + s * rng.standard_normal(shape)).astype(dt)
    return _with_zero_gradient(_on_device_of(tensors[0], draw), *tensors)


def poisson(input, generator=None):
    """Poisson samples with rates ``input`` (non-negative floats), in input's dtype.

    Shape: input's.

    >>> fastdl.poisson(fastdl.zeros(3)).tolist()
    [0.0, 0.0, 0.0]
    """
    check_tensor_arg(input, "poisson")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"poisson not implemented for '{input._data.dtype}'")
    rates = _host(input)
    if rates.size and not (rates >= 0).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    draw = _random._numpy_rng(generator).poisson(rates)
    return _on_device_of(input, draw.astype(input._data.dtype))


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False):
    """Integers in [low, high) shaped like input (``randint_like(x, high)`` starts at 0), in
    input's dtype unless ``dtype``.

    >>> x = fastdl.randint_like(fastdl.zeros(2, 2), 3)
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 3)).all())
    ((2, 2), dtype('float32'), True)
    """
    from fastdl.creation import randint
    check_tensor_arg(input, "randint_like")
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, generator=generator,
                   dtype=dtype or input._data.dtype, device=device or input.device,
                   requires_grad=requires_grad)


# ---- in-place fills ----
def _fill(self, draw):
    """self <- the host array ``draw`` (cast to self's dtype), recorded as a copy."""
    return self.copy_(_on_device_of(self, draw.astype(self._data.dtype)))


def floating_self(self, name, error=RuntimeError):
    """torch's continuous in-place samplers refuse integer and bool tensors (the samples would
    be truncated to integers without a word): cauchy_ and exponential_ with a RuntimeError,
    uniform_, normal_ and log_normal_ with NotImplementedError (no kernel for the dtype)."""
    dt = self._data.dtype
    if dt.kind != "f":
        raise error(f"{name}: a continuous distribution needs a floating point tensor, got "
                    f"dtype {dt}")


def _random_upper(dtype):
    """torch's default random_ range end: every integer the dtype holds exactly (2**24 for
    float32, 2**53 for float64, its max + 1 for integers)."""
    if dtype == np.bool_:
        return 2
    if dtype.kind == "f":
        return 2 ** (np.finfo(dtype).nmant + 1) + 1
    return int(np.iinfo(dtype).max) + 1


def random_(self, from_=0, to=None, *, generator=None, **kwargs):
    """self filled with integers drawn uniformly from [from, to): ``random_(to)`` starts at 0,
    ``random_()`` covers every integer self's dtype holds exactly. Returns self.

    >>> x = fastdl.zeros(4).random_(3, 5)
    >>> bool(((x >= 3) & (x < 5)).all())
    True
    """
    if "from" in kwargs:  # torch's keyword is the reserved word ``from``
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"random_() got unexpected keyword arguments {sorted(kwargs)}")
    for v in (from_, to):
        if v is not None and not isinstance(v, (int, np.integer)):
            raise TypeError(f"random_(): 'from' and 'to' must be ints, got {v!r}")
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        to = _random_upper(self._data.dtype)
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={from_} >= to={to}")
    rng = _random._numpy_rng(generator)
    return _fill(self, rng.integers(from_, to, self._data.shape, dtype=np.int64))


def exponential_(self, lambd=1.0, *, generator=None):
    """self filled with exponential samples of rate ``lambd``. Returns self.

    >>> bool((fastdl.zeros(5).exponential_(2.0) >= 0).all())
    True
    """
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    floating_self(self, "exponential_")
    draw = _random._numpy_rng(generator).exponential(1.0 / lambd, self._data.shape)
    return _fill(self, draw)


def geometric_(self, p, *, generator=None):
    """self filled with geometric samples (trials to the first success, 1, 2, ...) of success
    probability ``p``. Returns self.

    >>> bool((fastdl.zeros(5).geometric_(0.5) >= 1).all())
    True
    """
    if self._data.dtype == np.bool_:
        raise NotImplementedError("geometric_: a bool tensor cannot hold the trial counts 1, "
                                  "2, ...")
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(self, _random._numpy_rng(generator).geometric(p, self._data.shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """self filled with samples whose log is normal(mean, std). Returns self.

    >>> bool((fastdl.zeros(5).log_normal_() > 0).all())
    True
    """
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    floating_self(self, "log_normal_", NotImplementedError)
    return _fill(self, _random._numpy_rng(generator).lognormal(mean, std, self._data.shape))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """self filled with Cauchy samples of location ``median`` and scale ``sigma``. Returns
    self.

    >>> fastdl.zeros(3).cauchy_().shape
    (3,)
    """
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    floating_self(self, "cauchy_")
    draw = median + sigma * _random._numpy_rng(generator).standard_cauchy(self._data.shape)
    return _fill(self, draw)
