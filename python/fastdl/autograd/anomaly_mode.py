"""Anomaly detection's switches (torch.set_anomaly_enabled / is_anomaly_enabled /
is_anomaly_check_nan_enabled).

With anomaly mode on and ``check_nan`` set, the engine checks every gradient a backward formula
returns and raises torch's "Function 'XBackward' returned nan values in its Nth output."
error on the first NaN (fastdl's node names, e.g. 'MulScalarBackward', differ from torch's).
torch's other half of anomaly mode, keeping each forward op's Python traceback to print
beside a backward error, is not done: fastdl's nodes record no traceback.
The switches are process-wide, as torch's are.
"""
from __future__ import annotations

from fastdl._argcheck import check_bool_arg

_STATE = {"enabled": False, "check_nan": True}


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly detection on or off. While on (and ``check_nan``, the default), a backward
    formula that returns a NaN gradient raises a RuntimeError naming its node.

    >>> x = fastdl.tensor([1.0], requires_grad=True)
    >>> fastdl.set_anomaly_enabled(True)
    >>> try:
    ...     (x * float("nan")).sum().backward()
    ... except RuntimeError as e:
    ...     print(e)
    Function 'MulScalarBackward' returned nan values in its 0th output.
    >>> fastdl.set_anomaly_enabled(False); fastdl.is_anomaly_enabled()
    False
    """
    check_bool_arg(enabled, "set_anomaly_enabled", "enabled", 1)
    check_bool_arg(check_nan, "set_anomaly_enabled", "check_nan", 2)
    _STATE["enabled"], _STATE["check_nan"] = enabled, check_nan


def is_anomaly_enabled():
    """True while anomaly detection is on (``set_anomaly_enabled``).

    >>> fastdl.is_anomaly_enabled()
    False
    """
    return _STATE["enabled"]


def is_anomaly_check_nan_enabled():
    """Whether anomaly detection, when on, checks backward results for NaN (the ``check_nan``
    of the last ``set_anomaly_enabled`` call; True at start).

    >>> fastdl.is_anomaly_check_nan_enabled()
    True
    """
    return _STATE["check_nan"]


def checking_nan():
    return _STATE["enabled"] and _STATE["check_nan"]


def check_nan(node, grads):
    """torch's anomaly check on one backward call's results."""
    for i, g in enumerate(grads):
        if g is not None and g._data.dtype.kind == "f" and bool(g._data.__ne__(g._data).any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               "output.")


__all__ = ["is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_anomaly_enabled"]
