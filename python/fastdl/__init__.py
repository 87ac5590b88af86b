"""fastdl: deep learning on hand-written C++ (SIMD, threaded) and CUDA kernels."""
from fastdl import _C
from fastdl._env import warn_about_environment as _warn_about_environment
from fastdl._threads import get_num_threads, set_num_threads
from fastdl import backend, cuda, ops
from fastdl._info import info
from fastdl.tensor import (Tensor, tensor, float16, float32, float64, int8, int16, int32, int64,
                           uint8, bool_ as bool)
from fastdl.tensor import float32 as float, float64 as double, int64 as long  # torch aliases
from fastdl.tensor import contiguous_format, memory_format, preserve_format
from fastdl import autograd, functional, random, testing
from fastdl.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from fastdl.random import manual_seed
from fastdl.creation import *  # noqa: F401,F403  (tensor, zeros, ones, randn, from_dlpack ...)
from fastdl.functional import *  # noqa: F401,F403  (sum, mean, exp, cat, stack, where, matmul ...)
from fastdl.serialization import load, save
from fastdl import optim
from fastdl import data, models, nn

__version__ = _C.__version__
_warn_about_environment(_C)

__all__ = ["backend", "cuda", "ops", "info", "get_num_threads", "set_num_threads", "__version__",
           "save", "load", "optim", "nn", "models", "data"]
