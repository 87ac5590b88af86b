"""``fastdl.nn``: modules, parameters, layers, losses, ``functional`` and ``init``."""
from fastdl.nn.parameter import Parameter
from fastdl.nn.modules import *  # noqa: F401,F403
from fastdl.nn.modules import __all__ as _module_names
from fastdl.nn import functional, init, utils

__all__ = ["Parameter", "functional", "init", "utils"] + list(_module_names)
