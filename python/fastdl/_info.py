"""`fastdl.info()`: what this build is and what it runs on."""
from __future__ import annotations

import platform

from fastdl import _C, cuda


def info_dict() -> dict:
    return {
        "version": _C.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "compiler": _C.compiler,
        "openmp": _C.openmp,
        "simd_path": _C.simd_path(),
        "simd_available": list(_C.available_simd_paths()),
        "threads": _C.get_num_threads(),
        "hardware_threads": _C.max_hardware_threads(),
        "cuda_built": cuda.is_built(),
        "cuda_architectures": cuda.architectures(),
        "cuda_devices": cuda.device_count(),
        "cuda_emulation_built": _emu_built(),
    }


def _emu_built() -> bool:
    try:
        import fastdl._C_cudaemu  # noqa: F401
    except ImportError:
        return False
    return True


def info(print_out: bool = True) -> dict:
    """Version, compiler, SIMD path in use and available, threads, CUDA built / GPU available.

    Prints a table (``print_out=True``) and returns the same facts as a dict.

    >>> d = fastdl.info(print_out=False)
    >>> d["version"] == fastdl.__version__, d["threads"] >= 1
    (True, True)
    """
    d = info_dict()
    if print_out:
        width = max(map(len, d))
        for key, value in d.items():
            if isinstance(value, list):
                value = ", ".join(value) if value else "none"
            print(f"{key:<{width}}  {value}")
    return d
