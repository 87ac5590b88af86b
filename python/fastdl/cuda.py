"""CUDA availability. The CUDA module is optional at build time and needs a GPU at run time."""
from __future__ import annotations

import importlib


def _module():
    try:
        return importlib.import_module("fastdl._C_cuda")
    except ImportError:
        return None


def is_built() -> bool:
    """True when this installation was compiled with nvcc (fastdl._C_cuda exists)."""
    return _module() is not None


def architectures() -> list:
    """The CUDA architectures this installation's kernels were compiled for (``["80", "90"]``:
    sm_80, sm_90); empty when the CUDA module is not built."""
    mod = _module()
    return [] if mod is None else str(mod.architectures).split()


def device_count() -> int:
    mod = _module()
    return mod.device_count() if mod is not None else 0


def is_available() -> bool:
    """True when the CUDA module is built and at least one GPU is usable."""
    return device_count() > 0


def emulator():
    """fastdl._C_cudaemu: the CUDA kernels run on the CPU by the CUDA emulator (for tests)."""
    return importlib.import_module("fastdl._C_cudaemu")
