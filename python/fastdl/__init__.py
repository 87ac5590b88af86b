"""fastdl: deep learning on hand-written C++ (SIMD, threaded) and CUDA kernels."""
from fastdl._omp_env import spin_env as _spin_env

with _spin_env():  # libgomp reads its spin count when _C loads it (see _omp_env.py)
    from fastdl import _C
from fastdl._env import warn_about_environment as _warn_about_environment
from fastdl._threads import get_num_threads, set_num_threads
from fastdl import backend, cuda, ops
from fastdl._info import info
from fastdl.tensor import (Tensor, tensor, bfloat16, float16, float32, float64, int8, int16,
                           int32, int64, uint8, bool_ as bool)
from fastdl.tensor import float32 as float, float64 as double, int64 as long  # torch aliases
from fastdl.tensor import float16 as half
from fastdl.tensor import contiguous_format, memory_format, preserve_format
from fastdl.tensor import get_default_dtype, set_default_dtype, set_printoptions
from fastdl import autograd, functional, random, testing
from fastdl.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from fastdl.random import Generator, manual_seed, seed
from fastdl.creation import *  # noqa: F401,F403  (tensor, zeros, ones, randn, from_dlpack ...)
from fastdl.functional import *  # noqa: F401,F403  (sum, mean, exp, cat, stack, where, matmul ...)
from fastdl.serialization import load, save
from fastdl._compile import compile  # noqa: A001  (torch.compile's name; a no-op here)
from fastdl import linalg  # torch.linalg's namespace (after the star import: see functional)
from fastdl import optim
from fastdl import distributions
from fastdl import amp
from fastdl.amp import autocast, get_autocast_dtype, is_autocast_enabled
from fastdl import data, func, models, nn, utils
from fastdl.nn.functional import torch_namespace as _nn_torch_namespace
from fastdl.nn.functional.torch_namespace import *  # noqa: F401,F403  (selu, pdist, prelu ...)
_nn_torch_namespace.install(Tensor)
from fastdl import signal, special
from fastdl import masked  # torch.masked's namespace (after the star imports: sum, amax ...)

__version__ = _C.__version__
_warn_about_environment(_C)


def is_tensor(obj) -> bool:
    """True when ``obj`` is a ``fastdl.Tensor`` (``torch.is_tensor``).

    >>> fastdl.is_tensor(fastdl.ones(2)), fastdl.is_tensor([1.0])
    (True, False)
    """
    return isinstance(obj, Tensor)


def _public_api():
    import fastdl.creation as _creation
    import fastdl.functional as _functional
    # fastdl.bool, fastdl.float and fastdl.compile exist (torch's names) but stay out of
    # __all__: a star import would shadow the builtins
    names = ["Tensor", "tensor", "is_tensor", "bfloat16", "float16", "float32", "float64",
             "int8", "int16", "int32", "int64", "uint8", "double", "long", "half",
             "contiguous_format", "memory_format", "preserve_format", "layout", "strided",
             "get_default_dtype", "set_default_dtype", "set_printoptions",
             "enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
             "Generator", "manual_seed", "seed", "save", "load", "info", "get_num_threads",
             "set_num_threads", "__version__", "autocast", "get_autocast_dtype",
             "is_autocast_enabled",
             "amp", "autograd", "backend", "cuda", "data", "distributions", "func", "functional",
             "linalg", "masked", "models", "nn", "ops", "optim", "random", "signal",
             "special", "testing", "utils"]
    names += [n for n in _creation.__all__ if n not in names]
    names += [n for n in _functional.__all__ if n not in names]
    names += [n for n in _nn_torch_namespace.__all__ if n not in names]
    return names


__all__ = _public_api()

from fastdl import _docstrings  # noqa: E402  (docstrings for the ops defined in tables)
_docstrings.apply()

# torch.orgqr (the linalg.householder_product alias)
from fastdl.linalg.householder import orgqr  # noqa: E402
__all__.append("orgqr")

# randomized low-rank SVD and PCA (linalg/lowrank.py)
from fastdl.linalg.lowrank import pca_lowrank, svd_lowrank  # noqa: E402
__all__ += ["pca_lowrank", "svd_lowrank"]

# torch's remaining top-level names (windows, ATen-signature nn ops, in-place functions, ...)
from fastdl import torch_toplevel as _torch_toplevel  # noqa: E402
from fastdl.torch_toplevel import *  # noqa: E402,F401,F403
__all__ += [n for n in _torch_toplevel.__all__ if n not in __all__]

# torch.ops.aten.slice, kept out of __all__: a star import would shadow the builtin slice
from fastdl.functional.aten_internal import aten_slice as slice  # noqa: E402,A001
# torch.strided (after the star imports, which bind the functional.strided module here)
from fastdl.functional.tensor_methods_more import layout, strided  # noqa: E402
