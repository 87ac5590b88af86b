"""Utilities for training modules (``torch.nn.utils``): gradient clipping, parameters as one
vector, variable-length batches (``rnn``), weight and spectral normalization (hook-based and
as ``parametrizations``), ``parametrize``, pruning (``prune``), conv/linear + BatchNorm fusion,
``skip_init`` and ``stateless``."""
from fastdl.nn.utils import parametrizations, parametrize, prune, rnn, stateless
from fastdl.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                                       clip_grads_with_norm_, get_total_norm)
from fastdl.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from fastdl.nn.utils.fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights,
                                    fuse_linear_bn_eval, fuse_linear_bn_weights)
from fastdl.nn.utils.init import skip_init
from fastdl.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from fastdl.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights", "get_total_norm", "parameters_to_vector",
           "parametrizations", "parametrize", "prune", "remove_spectral_norm",
           "remove_weight_norm", "rnn", "skip_init", "spectral_norm", "stateless",
           "vector_to_parameters", "weight_norm"]
