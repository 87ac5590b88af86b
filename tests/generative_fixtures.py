"""Fixtures shared by the generative-model tests (test_gan.py, test_diffusion.py,
test_examples_generative.py): import them into a test module's namespace and pytest finds them.
"""
from __future__ import annotations

import pytest

import fastdl


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny (8x8 images): one thread is fastest, and on a busy shared machine a
    second OpenMP thread only waits on barriers (measured: a U-Net step 0.1 s at 1 thread,
    0.3-1.3 s at 2 with the other core loaded)."""
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    yield
    fastdl.set_num_threads(before)
