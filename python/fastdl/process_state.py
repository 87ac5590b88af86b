"""torch's remaining process-wide switches and tensor queries on fastdl's terms: ``detach``,
``typename``, ``is_inference``, ``is_storage``, ``get_device``, the default device, the
inter-op thread count, ``set_warn_always``, anomaly detection and ``set_flush_denormal``.

Which of torch's effects fastdl has:

- default device: only 'cpu'. fastdl's creation functions take ``device='cuda'`` one call at
  a time; making 'cuda' the default would need every creation path (``tensor``, ``zeros``,
  ``randn``, windows, ``*_like`` ...) to consult it, so ``set_default_device('cuda')`` raises.
- inter-op threads: fastdl runs ops one after another on the calling thread (only the threads
  inside a kernel, ``set_num_threads``, run in parallel), so there is no inter-op pool. The
  count is validated as torch does, recorded and reported, and changes nothing.
- ``set_warn_always``: fastdl has no warn-once warnings (its warnings go through Python's
  ``warnings`` filters), so the flag is recorded and reported and changes nothing.
- ``set_flush_denormal``: fastdl cannot set the CPU's flush-to-zero / denormals-are-zero bits
  (nor would they reach its kernel threads), so it returns False as torch does where they are
  unsupported, and leaves arithmetic unchanged.
- ``is_inference``: fastdl's ``inference_mode`` works like ``no_grad`` and makes no inference
  tensors, so it is False for every tensor; ``is_storage``: fastdl has no storage objects.
"""
from __future__ import annotations

from fastdl._argcheck import check_tensor_arg
from fastdl.autograd.anomaly_mode import (is_anomaly_check_nan_enabled, is_anomaly_enabled,
                                          set_anomaly_enabled)
from fastdl.tensor import Tensor, _parse_device

_FLAGS = {"interop_threads": 1, "interop_set": False, "warn_always": False}


def detach(input):
    """``input``'s values in a new tensor cut from the autograd graph (shares its memory).

    >>> x = fastdl.ones(2, requires_grad=True)
    >>> fastdl.detach(x * 2).requires_grad
    False
    """
    return check_tensor_arg(input, "detach").detach()


def typename(obj, /):
    """A fully qualified name of ``obj``'s type: a tensor's type name ('fastdl.FloatTensor',
    ...), else ``module.QualName`` (the bare name for builtins).

    >>> fastdl.typename(fastdl.ones(2)), fastdl.typename(fastdl.nn.Linear(2, 2)), fastdl.typename(3)
    ('fastdl.FloatTensor', 'fastdl.nn.modules.linear.Linear', 'int')
    """
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = None
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    if module in ("", "builtins"):
        return qualname
    return f"{module}.{qualname}"


def is_inference(input):
    """Whether ``input`` is an inference tensor: always False, since fastdl's
    ``inference_mode`` makes ordinary tensors (it works like ``no_grad``).

    >>> fastdl.is_inference(fastdl.ones(1))
    False
    """
    check_tensor_arg(input, "is_inference")
    return False


def is_storage(obj):
    """Whether ``obj`` is a storage object: always False (fastdl tensors own numpy or cupy
    arrays, not storages).

    >>> fastdl.is_storage(fastdl.ones(1))
    False
    """
    return False


def get_device(input):
    """-1 for a CPU tensor, the cupy device id for a CUDA one.

    >>> fastdl.get_device(fastdl.ones(2))
    -1
    """
    x = check_tensor_arg(input, "get_device")
    if x.device == "cpu":
        return -1
    return int(x._data.device.id)


def get_default_device():
    """The device creation functions use when given none: always 'cpu' in fastdl.

    >>> fastdl.get_default_device()
    'cpu'
    """
    return "cpu"


def set_default_device(device):
    """Set the default device of creation functions. fastdl supports only 'cpu' (or None,
    torch's reset); for CUDA pass ``device='cuda'`` to each creation call.

    >>> fastdl.set_default_device("cpu"); fastdl.zeros(1).device
    'cpu'
    """
    if device is None:
        return
    try:
        kind = _parse_device(device)
    except ValueError:
        raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: "
                           f"{device}") from None
    if kind != "cpu":
        raise RuntimeError(f"set_default_device: fastdl's default device is always 'cpu' (got "
                           f"{device!r}); pass device={str(device)!r} to the creation calls "
                           "instead")


def get_num_interop_threads():
    """The inter-op thread count last set (1 at start: fastdl runs ops one at a time on the
    calling thread; ``get_num_threads`` is the kernels' own count).

    >>> fastdl.get_num_interop_threads() >= 1
    True
    """
    return _FLAGS["interop_threads"]


def set_num_interop_threads(n):
    """Record the inter-op thread count, with torch's checks (a positive int, set once). It
    changes nothing: fastdl has no inter-op thread pool (see ``set_num_threads``).

    >>> try:
    ...     fastdl.set_num_interop_threads(0)
    ... except RuntimeError as e:
    ...     print(e)
    set_num_interop_threads expects a positive integer
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got "
                           f"{type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    if _FLAGS["interop_set"]:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                           "has started or set_num_interop_threads called")
    _FLAGS["interop_threads"], _FLAGS["interop_set"] = n, True


def set_warn_always(b, /):
    """Record torch's warn-always flag. fastdl has no warn-once warnings, so nothing changes.

    >>> fastdl.set_warn_always(True); fastdl.is_warn_always_enabled()
    True
    >>> fastdl.set_warn_always(False)
    """
    if not isinstance(b, bool):
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got {type(b).__name__}")
    _FLAGS["warn_always"] = b


def is_warn_always_enabled():
    """The flag ``set_warn_always`` last set (False at start).

    >>> fastdl.is_warn_always_enabled()
    False
    """
    return _FLAGS["warn_always"]


def set_flush_denormal(mode):
    """Would make the CPU flush denormal floats to zero; fastdl cannot set that, so this
    returns False (torch's answer where it is unsupported) and changes nothing.

    >>> fastdl.set_flush_denormal(True)
    False
    """
    if not isinstance(mode, bool):
        raise RuntimeError(f"flush_denormal expects a bool, but got {type(mode).__name__}")
    return False


__all__ = ["detach", "get_default_device", "get_device", "get_num_interop_threads",
           "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_inference", "is_storage",
           "is_warn_always_enabled", "set_anomaly_enabled", "set_default_device",
           "set_flush_denormal", "set_num_interop_threads", "set_warn_always", "typename"]
