"""``fastdl.nn.functional``: layers, activations and losses as functions (torch's names)."""
from fastdl.functional.shape import flatten
from fastdl.nn.functional.activation import (elu, gelu, hardtanh, leaky_relu, log_softmax,
                                             relu, relu6, sigmoid, silu, softmax, softplus,
                                             tanh)
from fastdl.nn.functional.attention import scaled_dot_product_attention
from fastdl.nn.functional.conv import (conv1d, conv2d, conv3d, conv_transpose1d,
                                       conv_transpose2d, conv_transpose3d)
from fastdl.nn.functional.dropout import dropout, dropout1d, dropout2d, dropout3d
from fastdl.nn.functional.graph import (edge_softmax, global_add_pool, global_max_pool,
                                        global_mean_pool, scatter, sddmm, spmm)
from fastdl.nn.functional.linear import bilinear, linear
from fastdl.nn.functional.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                       huber_loss, kl_div, l1_loss, mse_loss, smooth_l1_loss)
from fastdl.nn.functional.loss_classification import cross_entropy, multi_margin_loss, nll_loss
from fastdl.nn.functional.normalization import (batch_norm, group_norm, instance_norm,
                                                layer_norm, normalize)
from fastdl.nn.functional.padding import pad
from fastdl.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                          adaptive_avg_pool3d, adaptive_max_pool1d,
                                          adaptive_max_pool1d_with_indices, adaptive_max_pool2d,
                                          adaptive_max_pool2d_with_indices, adaptive_max_pool3d,
                                          adaptive_max_pool3d_with_indices, avg_pool1d,
                                          avg_pool2d, avg_pool3d, max_pool1d,
                                          max_pool1d_with_indices, max_pool2d,
                                          max_pool2d_with_indices, max_pool3d,
                                          max_pool3d_with_indices, max_unpool1d, max_unpool2d,
                                          max_unpool3d)
from fastdl.nn.functional.sparse import embedding, one_hot
from fastdl.nn.functional.upsampling import (interpolate, upsample, upsample_bilinear,
                                             upsample_nearest)

__all__ = ["batch_norm", "bilinear", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "cross_entropy", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "elu", "embedding", "flatten", "gelu", "group_norm", "hardtanh", "huber_loss",
           "instance_norm", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear",
           "log_softmax", "mse_loss",
           "multi_margin_loss", "nll_loss", "normalize", "one_hot", "pad", "relu", "relu6",
           "scaled_dot_product_attention", "sigmoid", "silu",
           "smooth_l1_loss", "softmax", "softplus", "tanh"]
# pooling and interpolation (nn/functional/pooling.py, upsampling.py)
__all__ += ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
            "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d",
            "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d",
            "adaptive_max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
            "interpolate", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
            "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices", "max_unpool1d",
            "max_unpool2d", "max_unpool3d", "upsample", "upsample_bilinear", "upsample_nearest"]
# graph ops (nn/functional/graph.py, issue #13)
__all__ += ["edge_softmax", "global_add_pool", "global_max_pool", "global_mean_pool", "scatter",
            "sddmm", "spmm"]
# margin, embedding and likelihood losses (nn/functional/loss_margin.py, loss_likelihood.py)
from fastdl.nn.functional.loss_likelihood import gaussian_nll_loss, poisson_nll_loss  # noqa: E402
from fastdl.nn.functional.loss_margin import (cosine_embedding_loss,  # noqa: E402
                                              hinge_embedding_loss, margin_ranking_loss,
                                              multilabel_margin_loss,
                                              multilabel_soft_margin_loss, soft_margin_loss,
                                              triplet_margin_loss,
                                              triplet_margin_with_distance_loss)
__all__ += ["cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss",
            "margin_ranking_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
            "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss",
            "triplet_margin_with_distance_loss"]
# im2col / col2im (nn/functional/fold.py)
from fastdl.nn.functional.fold import fold, unfold  # noqa: E402
__all__ += ["fold", "unfold"]
# sampling grids (nn/functional/grid_sample.py)
from fastdl.nn.functional.grid_sample import affine_grid, grid_sample  # noqa: E402
__all__ += ["affine_grid", "grid_sample"]
# connectionist temporal classification (nn/functional/ctc.py)
from fastdl.nn.functional.ctc import ctc_loss  # noqa: E402
__all__ += ["ctc_loss"]
# bags of embeddings (nn/functional/embedding_bag.py)
from fastdl.nn.functional.embedding_bag import embedding_bag  # noqa: E402
__all__ += ["embedding_bag"]
# power-average pooling (nn/functional/lp_pool.py)
from fastdl.nn.functional.lp_pool import lp_pool1d, lp_pool2d, lp_pool3d  # noqa: E402
__all__ += ["lp_pool1d", "lp_pool2d", "lp_pool3d"]
# more activations, random activations/dropouts, distances, shuffles, RMS/LRN normalization
from fastdl.nn.functional.activation_more import (celu, celu_, elu_, glu, hardshrink,  # noqa: E402
                                                  hardsigmoid, hardswish, hardtanh_,
                                                  leaky_relu_, logsigmoid, mish, prelu, relu_,
                                                  selu, selu_, softmin, softshrink, softsign,
                                                  tanhshrink, threshold, threshold_)
from fastdl.nn.functional.distance import cosine_similarity, pairwise_distance, pdist  # noqa: E402
from fastdl.nn.functional.dropout_alpha import (alpha_dropout, feature_alpha_dropout,  # noqa: E402
                                                rrelu, rrelu_)
from fastdl.nn.functional.normalization_more import local_response_norm, rms_norm  # noqa: E402
from fastdl.nn.functional.shuffle import (channel_shuffle, native_channel_shuffle,  # noqa: E402
                                          pixel_shuffle, pixel_unshuffle)

__all__ += ["alpha_dropout", "celu", "celu_", "channel_shuffle", "cosine_similarity", "elu_",
            "feature_alpha_dropout", "glu", "hardshrink", "hardsigmoid", "hardswish",
            "hardtanh_", "leaky_relu_", "local_response_norm", "logsigmoid", "mish",
            "native_channel_shuffle", "pairwise_distance", "pdist", "pixel_shuffle",
            "pixel_unshuffle", "prelu", "relu_", "rms_norm", "rrelu", "rrelu_", "selu", "selu_",
            "softmin", "softshrink", "softsign", "tanhshrink", "threshold", "threshold_"]

# nn-gaps: fractional max pooling, gumbel_softmax
from fastdl.nn.functional.fractional_pool import (  # noqa: E402
    fractional_max_pool2d, fractional_max_pool2d_with_indices, fractional_max_pool3d,
    fractional_max_pool3d_with_indices)
from fastdl.nn.functional.gumbel import gumbel_softmax  # noqa: E402
__all__ += ["fractional_max_pool2d", "fractional_max_pool2d_with_indices",
            "fractional_max_pool3d", "fractional_max_pool3d_with_indices", "gumbel_softmax"]

# multi-head attention, the functional behind nn.MultiheadAttention
from fastdl.nn.functional.multi_head_attention import multi_head_attention_forward  # noqa: E402
__all__ += ["multi_head_attention_forward"]

# cross entropy of a linear projection, optionally in row chunks (torch 2.13)
from fastdl.nn.functional.linear_cross_entropy import linear_cross_entropy  # noqa: E402
__all__ += ["linear_cross_entropy"]

# torch.nn.functional.conv_tbc is torch.conv_tbc
from fastdl.nn.functional.aten_nn_extra import conv_tbc  # noqa: E402
__all__ += ["conv_tbc"]
