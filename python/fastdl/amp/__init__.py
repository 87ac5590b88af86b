"""Mixed precision (``torch.amp``): ``autocast`` regions run matrix products and convolutions in
float16, and ``GradScaler`` keeps float16 gradients from underflowing."""
from fastdl.amp.grad_scaler import GradScaler, OptState

__all__ = ["GradScaler", "OptState"]
