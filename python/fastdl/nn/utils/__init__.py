"""Utilities for training modules (``torch.nn.utils``): gradient clipping, parameters as one
vector, variable-length batches (``rnn``)."""
from fastdl.nn.utils import rnn
from fastdl.nn.utils.clip_grad import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                                       get_total_norm)
from fastdl.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "rnn", "vector_to_parameters"]
