"""Suite-wide guards."""
import pytest

import fastdl


@pytest.fixture(autouse=True)
def _restore_thread_count():
    """A test that changes fastdl's thread count must not change the tests that run after it."""
    before = fastdl.get_num_threads()
    yield
    if fastdl.get_num_threads() != before:
        fastdl.set_num_threads(before)
