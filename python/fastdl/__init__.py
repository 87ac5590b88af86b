"""fastdl: deep learning on hand-written C++ (SIMD, threaded) and CUDA kernels."""
from fastdl import _C
from fastdl._threads import get_num_threads, set_num_threads
from fastdl import backend, cuda, ops
from fastdl._info import info

__version__ = _C.__version__

__all__ = ["backend", "cuda", "ops", "info", "get_num_threads", "set_num_threads", "__version__"]
