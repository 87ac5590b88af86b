"""Fixtures shared by the GEMM tests (float32: test_gemm.py, float64: test_gemm_float64.py).

Import them into a test module's namespace (`from gemm_fixtures import simd_path, threads`) and
pytest finds them there.
"""
from __future__ import annotations

import pytest

import fastdl
from fastdl import _C


@pytest.fixture(params=_C.available_simd_paths())
def simd_path(request):
    """Every SIMD kernel set this CPU supports, switched in-process."""
    before = _C.simd_path()
    _C.set_simd_path(request.param)
    yield request.param
    _C.set_simd_path(before)


@pytest.fixture(params=[1, 2])
def threads(request):
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(request.param)
    yield request.param
    fastdl.set_num_threads(before)


def with_threads(count, fn):
    """fn() run with `count` fastdl threads, the previous count restored afterwards."""
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(count)
    try:
        return fn()
    finally:
        fastdl.set_num_threads(before)
