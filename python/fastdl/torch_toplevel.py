"""The rest of torch's top-level names that users call: signal windows, nn.functional ops
under their ATen signatures (and the native_* norms), the ATen recurrent cells and layers,
in-place functions, the complex-number API on real tensors (conj, real, angle ...), ATen
names (constant_pad_nd, nonzero_static ...), dtype queries and constructors, the ``*_copy``
view ops, global flags and process switches, vmap/cond/while_loop and a few linear algebra
and sampling helpers.
``fastdl/__init__.py`` re-exports ``__all__``."""
from fastdl import global_flags as _flags
from fastdl.functional import aten_internal as _aten_internal
from fastdl import control_flow as _control
from fastdl import process_state as _process
from fastdl._vmap import vmap  # noqa: F401
from fastdl.functional import aten_more as _aten_more
from fastdl.functional import segment_reduce as _segment_reduce
from fastdl.functional import (aten_misc as _aten, complex_parts as _complex,
                               inplace_toplevel as _inplace, toplevel_math as _math,
                               toplevel_utils as _utils, windows as _windows)
from fastdl.global_flags import *  # noqa: F401,F403
from fastdl.process_state import *  # noqa: F401,F403
from fastdl.control_flow import *  # noqa: F401,F403
from fastdl.functional.aten_misc import *  # noqa: F401,F403
from fastdl.functional.aten_internal import *  # noqa: F401,F403
from fastdl.functional.aten_more import *  # noqa: F401,F403
from fastdl.functional.complex_parts import *  # noqa: F401,F403
from fastdl.functional.segment_reduce import *  # noqa: F401,F403
from fastdl.functional.inplace_toplevel import *  # noqa: F401,F403
from fastdl.functional.toplevel_math import *  # noqa: F401,F403
from fastdl.functional.toplevel_utils import *  # noqa: F401,F403
from fastdl.functional.windows import *  # noqa: F401,F403
from fastdl.nn.functional import torch_toplevel as _nn
from fastdl.nn.functional.torch_toplevel import *  # noqa: F401,F403
from fastdl.nn.functional import native_norms as _native
from fastdl.nn.functional import aten_nn_extra as _nn_extra
from fastdl.nn.functional.aten_nn_extra import *  # noqa: F401,F403
from fastdl.nn.functional import rnn_toplevel as _rnn
from fastdl.nn.functional.rnn_toplevel import *  # noqa: F401,F403
from fastdl.nn.functional.native_norms import *  # noqa: F401,F403
from fastdl.nn.functional import batch_norm_parts as _bn_parts
from fastdl.nn.functional.batch_norm_parts import *  # noqa: F401,F403

__all__ = sorted({*_flags.__all__, *_inplace.__all__, *_math.__all__, *_utils.__all__,
                  *_windows.__all__, *_nn.__all__, *_aten.__all__, *_complex.__all__,
                  *_native.__all__, *_aten_more.__all__, *_aten_internal.__all__,
                  *_segment_reduce.__all__, *_process.__all__, *_control.__all__, "vmap",
                  *_nn_extra.__all__, *_rnn.__all__, *_bn_parts.__all__})
