"""``fastdl.signal``: torch.signal's namespace (its ``windows`` module).

>>> fastdl.signal.windows.hann(3).tolist()
[0.0, 1.0, 0.0]
"""
from fastdl.signal import windows

__all__ = ["windows"]
