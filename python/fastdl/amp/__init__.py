"""Mixed precision (``torch.amp``): ``autocast`` regions run matrix products and convolutions in
float16, and ``GradScaler`` keeps float16 gradients from underflowing."""
from fastdl.amp.autocast_mode import (autocast, get_autocast_dtype, is_autocast_available,
                                      is_autocast_enabled)
from fastdl.amp.grad_scaler import GradScaler, OptState

__all__ = ["autocast", "get_autocast_dtype", "is_autocast_available", "is_autocast_enabled",
           "GradScaler", "OptState"]
