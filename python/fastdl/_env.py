"""Checks of fastdl's environment variables, run once at import: a value fastdl cannot use is
reported (the kernels then fall back to a working default) instead of being ignored silently."""
from __future__ import annotations

import os
import warnings

SIMD_PATHS = ("avx512", "avx2", "scalar")


def check_simd_env(available, active) -> str | None:
    """The warning for ``FASTDL_SIMD`` (or None when it is unset or honoured)."""
    want = os.environ.get("FASTDL_SIMD", "")
    if not want:
        return None
    if want not in SIMD_PATHS:
        return (f"FASTDL_SIMD={want!r} is not a SIMD path; valid values: "
                f"{', '.join(SIMD_PATHS)} (this CPU supports {', '.join(available)}); "
                f"using {active}")
    if want not in available:
        return (f"FASTDL_SIMD={want!r} is not supported on this CPU (it supports "
                f"{', '.join(available)}); using {active}")
    return None


def warn_about_environment(_C) -> None:
    msg = check_simd_env(list(_C.available_simd_paths()), _C.simd_path())
    if msg is not None:
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
