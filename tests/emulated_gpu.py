"""Running a GPU test module (tests/test_*_device.py, which bench/gpu_check.sh runs where a GPU
is lent, rarely) on this machine: numpy stands in for cupy and the CUDA emulator for
fastdl._C_cuda (its kernels called without the `stream=` argument), so a mistake in the GPU tests
shows before a loan."""
from __future__ import annotations

import contextlib
import importlib.util
import pathlib
import sys
import types

import numpy as np

import fastdl


class _FakeStream(contextlib.nullcontext):
    ptr = 0

    def __init__(self, **kw):
        super().__init__()

    def synchronize(self):
        pass


class _EmulatorAsCuda:
    """The emulator module with `stream=` dropped from every call."""

    def __init__(self, emu):
        self._emu = emu

    def __getattr__(self, name):
        fn = getattr(self._emu, name)

        def call(*a, stream=None, **kw):
            return fn(*a, **kw)
        return call


def load_device_tests(monkeypatch, emu, filename):
    """The GPU test module `filename` (beside this file), imported against the emulator."""
    fake_cp = types.SimpleNamespace(
        asarray=lambda a: np.array(a), asnumpy=np.asarray, empty=np.empty, int64=np.int64,
        float32=np.float32,
        cuda=types.SimpleNamespace(Device=lambda: types.SimpleNamespace(synchronize=lambda: None),
                                   Stream=_FakeStream))
    fake_cuda = _EmulatorAsCuda(emu)
    monkeypatch.setitem(sys.modules, "cupy", fake_cp)
    monkeypatch.setitem(sys.modules, "fastdl._C_cuda", fake_cuda)
    monkeypatch.setattr(fastdl, "_C_cuda", fake_cuda, raising=False)
    monkeypatch.setattr(fastdl.cuda, "is_available", lambda: True)
    path = pathlib.Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"{path.stem}_dry_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.cuda_mod is fake_cuda
    return mod
