"""``fastdl.nn``: modules, parameters, layers, losses, ``functional`` and ``init``."""
from fastdl.nn.parameter import Parameter
from fastdl.nn.modules import *  # noqa: F401,F403
from fastdl.nn.modules import __all__ as _module_names
from fastdl.nn import functional, init, parallel, utils
from fastdl.nn.functional.graph import global_add_pool, global_max_pool, global_mean_pool

__all__ = ["Parameter", "functional", "init", "parallel", "utils"] + list(_module_names)
__all__ += ["global_add_pool", "global_max_pool", "global_mean_pool"]  # graph pooling (PyG's)
from fastdl.nn.modules.lazy import UninitializedBuffer, UninitializedParameter  # noqa: E402

__all__ += ["UninitializedBuffer", "UninitializedParameter"]
from fastdl.nn.parameter import Buffer  # noqa: E402  (torch.nn.Buffer)
__all__ += ["Buffer"]
