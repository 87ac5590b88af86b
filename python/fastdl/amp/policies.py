"""Which ops autocast casts, per device type: torch's "Autocast Op Reference" lists, restricted
to the ops fastdl has (the functions carrying ``@autocast_op(name)``).

"lower": float32 arguments run in the region's dtype (float16). "fp32": float16 arguments run
in float32. "promote": all floating arguments run in the widest of their types. "keep": no cast.
"banned": an error with float16 arguments (CUDA's binary_cross_entropy, unsafe after a float16 sigmoid).
"""
from __future__ import annotations

# torch's CPU lists (lower precision, float32, promote). einsum is in no CPU list but torch's
# runs its products through bmm, which is, so its result is float16: listed to match.
_CPU_LOWER = ("linear", "matmul", "mm", "bmm", "addmm", "addbmm", "baddbmm", "vecdot",
              "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "scaled_dot_product_attention", "einsum")
_CPU_FP32 = ("avg_pool3d", "binary_cross_entropy", "grid_sample", "polar", "prod", "quantile",
             "nanquantile", "stft", "cdist", "trace", "cholesky", "cholesky_inverse",
             "cholesky_solve", "inverse", "lu_solve", "pinverse", "max_pool3d", "max_unpool2d",
             "max_unpool3d", "adaptive_avg_pool3d", "mse_loss", "cosine_embedding_loss",
             "nll_loss", "hinge_embedding_loss", "poisson_nll_loss", "smooth_l1_loss",
             "cross_entropy", "l1_loss", "huber_loss", "margin_ranking_loss", "soft_margin_loss",
             "triplet_margin_loss", "multi_margin_loss", "ctc_loss", "kl_div",
             "multilabel_margin_loss", "binary_cross_entropy_with_logits", "qr", "svd",
             "triangular_solve", "fractional_max_pool2d", "fractional_max_pool3d",
             "adaptive_max_pool3d")
_CPU_PROMOTE = ("cat", "stack", "index_copy")

# torch's CUDA lists
_CUDA_LOWER = ("linear", "matmul", "mm", "bmm", "addmm", "addbmm", "baddbmm", "vecdot",
               "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "scaled_dot_product_attention", "einsum", "addmv", "addr",
               "mv", "chain_matmul", "multi_dot", "lstm_cell", "gru_cell", "rnn_tanh_cell",
               "rnn_relu_cell")
_CUDA_FP32 = ("acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
              "reciprocal", "rsqrt", "sinh", "tan", "pow", "softplus", "layer_norm",
              "group_norm", "norm", "vector_norm", "matrix_norm", "cosine_similarity",
              "poisson_nll_loss", "cosine_embedding_loss", "nll_loss", "hinge_embedding_loss",
              "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss",
              "margin_ranking_loss", "multilabel_margin_loss", "soft_margin_loss",
              "triplet_margin_loss", "multi_margin_loss", "binary_cross_entropy_with_logits",
              "dist", "pdist", "cdist", "renorm", "logsumexp", "softmax", "log_softmax",
              "softmin", "cumsum", "cumprod", "prod", "sum", "cross_entropy", "normalize")
_CUDA_PROMOTE = ("addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "grid_sample",
                 "index_put", "scatter_add", "tensordot")


# fastdl's C++ kernels for these take float32/float64 only: on the CPU their float16 arguments
# run in float32 (values already rounded to float16) and the results are rounded back to
# float16, the dtype torch's CPU kernels give. The pooling layers are in no torch list ("keep":
# no cast) but follow a float16 convolution in every CNN.
CPU_FLOAT16_VIA_FLOAT32 = frozenset((
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "scaled_dot_product_attention", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "layer_norm", "group_norm"))
_CPU_KEEP = ("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
             "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
             "layer_norm", "group_norm")  # torch's CPU norms take float16 input, float32 affine


def _table(lower, fp32, promote, banned=(), keep=()):
    table = {name: "keep" for name in keep}
    table.update({name: "lower" for name in lower})
    table.update({name: "fp32" for name in fp32})
    table.update({name: "promote" for name in promote})
    table.update({name: "banned" for name in banned})
    return table


POLICIES = {"cpu": _table(_CPU_LOWER, _CPU_FP32, _CPU_PROMOTE, keep=_CPU_KEEP),
            "cuda": _table(_CUDA_LOWER, _CUDA_FP32, _CUDA_PROMOTE,
                           banned=("binary_cross_entropy",))}


def banned_message(name):
    return (f"fastdl.nn.functional.{name} and fastdl.nn.BCELoss are unsafe to autocast.\n"
            "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
            "In this case, combine the two layers using "
            "fastdl.nn.functional.binary_cross_entropy_with_logits\n"
            "or fastdl.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and "
            "BCEWithLogits are\nsafe to autocast.")
