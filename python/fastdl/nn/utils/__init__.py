"""Utilities for training modules (``torch.nn.utils``): gradient clipping, variable-length
batches (``rnn``)."""
from fastdl.nn.utils import rnn
from fastdl.nn.utils.clip_grad import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                                       get_total_norm)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "rnn"]
