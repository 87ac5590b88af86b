"""Pick the kernel set from the array type: numpy -> fastdl._C, cupy -> fastdl._C_cuda."""
from __future__ import annotations

import importlib

import numpy as np

from fastdl import _C

_cupy = None
_cuda_mod = None


def _cupy_module():
    global _cupy
    if _cupy is None:
        try:
            _cupy = importlib.import_module("cupy")
        except ImportError:
            _cupy = False
    return _cupy or None


def is_cupy_array(x) -> bool:
    if type(x) is np.ndarray:  # the common case, checked first: this sits on every op's path
        return False
    return type(x).__module__.startswith("cupy")


# Element types the C++ kernels are instantiated for.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def kernel_arrays(*arrays) -> bool:
    """True when the C++ kernels take these arrays as they are: numpy, C-contiguous, all of one
    float dtype they are instantiated for."""
    dt = arrays[0].dtype
    return dt in KERNEL_DTYPES and all(
        type(a) is np.ndarray and a.dtype == dt and a.flags.c_contiguous for a in arrays)


def array_module(*arrays):
    """numpy or cupy for these arrays; mixing devices is an error."""
    ndarray = np.ndarray
    if all(type(x) is ndarray for x in arrays):
        return np
    kinds = {is_cupy_array(x) for x in arrays}
    if len(kinds) > 1:
        raise TypeError("arrays are on different devices (numpy and cupy mixed)")
    if kinds == {True}:
        return _cupy_module()
    for x in arrays:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"expected a numpy or cupy array, got {type(x).__name__}")
    return np


def device_of_arrays(arrays, what="op"):
    """'cpu' or 'cuda' for an op's input arrays; a mixture is a TypeError naming the devices."""
    devices = set()
    for x in arrays:
        if type(x) is np.ndarray or isinstance(x, np.ndarray):
            devices.add("cpu")
        elif is_cupy_array(x):
            devices.add("cuda")
        else:
            raise TypeError(f"{what}: expected numpy or cupy arrays, got {type(x).__name__}")
    if len(devices) > 1:
        raise TypeError(f"{what}: expected all tensors on the same device, got tensors on cpu "
                        "(numpy) and cuda (cupy); move them with .to('cuda') or .cpu()")
    return devices.pop() if devices else "cpu"


def cuda_kernels():
    """fastdl._C_cuda (raises a clear error when fastdl was built without CUDA)."""
    global _cuda_mod
    if _cuda_mod is None:
        try:
            _cuda_mod = importlib.import_module("fastdl._C_cuda")
        except ImportError:
            raise RuntimeError("got a cupy array but fastdl was built without CUDA "
                               "(reinstall with nvcc available and FASTDL_CUDA not OFF)") from None
    return _cuda_mod


def kernels_for(x):
    """The compiled kernel module serving arrays like ``x``."""
    if type(x) is not np.ndarray and is_cupy_array(x):
        return cuda_kernels()
    return _C
