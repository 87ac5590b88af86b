"""The global random state behind ``randn``/``rand``/``uniform_``... (``fastdl.manual_seed``).

numpy arrays draw from one ``numpy.random.Generator``; cupy arrays from cupy's global state,
seeded together by ``manual_seed``.
"""
from __future__ import annotations

import numpy as np

# torch seeds its default generator with a random seed that initial_seed() reports
_initial_seed = int(np.random.SeedSequence().entropy % (2 ** 63))
_rng = np.random.default_rng(_initial_seed)


def manual_seed(seed: int):
    """Seed every generator fastdl uses (numpy's Generator here and cupy's when present).

    Returns the new numpy Generator; ``fastdl.seed`` is another name.

    >>> _ = fastdl.manual_seed(0)
    >>> a = fastdl.rand(3)
    >>> _ = fastdl.manual_seed(0)
    >>> fastdl.equal(a, fastdl.rand(3))
    True
    """
    global _rng, _initial_seed
    _rng = np.random.default_rng(int(seed))
    _initial_seed = int(seed)
    from fastdl import backend
    cp = backend._cupy_module()
    if cp is not None:
        try:
            cp.random.seed(int(seed))
        except Exception:  # no usable GPU: nothing to seed
            pass
    return _rng


seed = manual_seed


def generator() -> np.random.Generator:
    """The current numpy Generator (layers drawing their own numbers should use it)."""
    return _rng


class Generator:
    """A seeded random number generator of its own (``torch.Generator``): pass it as
    ``generator=`` to ``randn``, ``rand``, ``randint``, ``randperm``, ``DataLoader``,
    ``random_split`` and ``nn.functional.dropout`` to draw from it instead of the global state.

    >>> g = fastdl.Generator().manual_seed(0)
    >>> a = fastdl.randn(3, generator=g); _ = g.manual_seed(0)
    >>> bool((fastdl.randn(3, generator=g) == a).all())
    True
    """

    def __init__(self, device="cpu"):
        if str(device).split(":")[0] != "cpu":
            raise ValueError(f"Generator: only device='cpu' generators exist, got {device!r}")
        self.device = "cpu"
        self._initial_seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._rng = np.random.default_rng(self._initial_seed)

    def manual_seed(self, seed):
        """Reseed; returns the generator (so ``Generator().manual_seed(0)`` works)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {seed!r}")
        self._initial_seed = int(seed)
        self._rng = np.random.default_rng(int(seed) % (2 ** 64))
        return self

    def seed(self):
        """Reseed from fresh entropy; returns the new seed."""
        self._initial_seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._rng = np.random.default_rng(self._initial_seed)
        return self._initial_seed

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        """The generator's state (a dict; pass it to ``set_state`` to replay)."""
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state
        return self

    def __repr__(self):
        return f"<fastdl.Generator seed={self._initial_seed}>"


def _numpy_rng(gen):
    if gen is None:
        return _rng
    if not isinstance(gen, Generator):
        raise TypeError(f"generator must be a fastdl.Generator, got {type(gen).__name__}")
    return gen._rng


def _cupy_random():
    from fastdl import backend
    return backend._cupy_module().random


def normal_array(shape, mean, std, dtype, device="cpu", gen=None):
    dtype = np.dtype(dtype)
    _rng = _numpy_rng(gen)
    if device == "cuda":
        return _cupy_random().normal(mean, std, shape).astype(dtype)
    if dtype in (np.float32, np.float64) and mean == 0.0 and std == 1.0:
        return _rng.standard_normal(shape, dtype=dtype)
    return _rng.normal(mean, std, shape).astype(dtype)


def uniform_array(shape, low, high, dtype, device="cpu", gen=None):
    dtype = np.dtype(dtype)
    _rng = _numpy_rng(gen)
    if device == "cuda":
        return _cupy_random().uniform(low, high, shape).astype(dtype)
    if dtype in (np.float32, np.float64):
        out = _rng.random(shape, dtype=dtype)
        if low != 0.0 or high != 1.0:
            out *= (high - low)
            out += low
        return out
    return _rng.uniform(low, high, shape).astype(dtype)


def integers_array(low, high, shape, dtype, device="cpu", gen=None):
    _rng = _numpy_rng(gen)
    if device == "cuda":
        return _cupy_random().randint(low, high, shape).astype(dtype)
    return _rng.integers(low, high, shape, dtype=np.int64).astype(dtype, copy=False)


def permutation_array(n, device="cpu", gen=None):
    _rng = _numpy_rng(gen)
    if device == "cuda":
        return _cupy_random().permutation(n).astype(np.int64)
    return _rng.permutation(n).astype(np.int64)
