"""Layer classes (torch.nn's names)."""
from fastdl.nn.modules.activation import (ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU,
                                          ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from fastdl.nn.modules.container import ModuleDict, ModuleList, Sequential
from fastdl.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                                    ConvTranspose3d)
from fastdl.nn.modules.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from fastdl.nn.modules.graph import GATConv, GCNConv, SAGEConv
from fastdl.nn.modules.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from fastdl.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                    KLDivLoss, L1Loss, MSELoss, MultiMarginLoss, NLLLoss,
                                    SmoothL1Loss)
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm,
                                             InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
                                             LayerNorm)
from fastdl.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d,
                                       ConstantPad1d, ConstantPad2d, ConstantPad3d,
                                       ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                                       ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                                       ZeroPad1d, ZeroPad2d, ZeroPad3d)
from fastdl.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d,
                                       AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d,
                                       AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d,
                                       MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d, Upsample,
                                       UpsamplingBilinear2d, UpsamplingNearest2d)
from fastdl.nn.modules.positional import (KVCache, LearnedPositionalEmbedding, RotaryEmbedding,
                                          SinusoidalPositionalEncoding)
from fastdl.nn.modules.rnn import (GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell,
                                   RNNCellBase)
from fastdl.nn.modules.sparse import Embedding
from fastdl.nn.modules.transformer import (MultiheadAttention, Transformer, TransformerDecoder,
                                           TransformerDecoderLayer, TransformerEncoder,
                                           TransformerEncoderLayer)

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
           "Bilinear", "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d",
           "ConstantPad2d", "ConstantPad3d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
           "ConvTranspose2d", "ConvTranspose3d", "CrossEntropyLoss", "Dropout", "Dropout1d",
           "Dropout2d", "Dropout3d", "ELU", "Embedding", "Flatten", "GELU", "GRU", "GRUCell",
           "GroupNorm", "Hardtanh", "HuberLoss", "Identity", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "KLDivLoss", "L1Loss", "LSTM", "LSTMCell", "LayerNorm", "LeakyReLU",
           "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "MultiMarginLoss", "NLLLoss", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "ReLU",
           "ReLU6", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "Sequential", "SiLU", "Sigmoid",
           "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Unflatten", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d"]
# pooling and upsampling (nn/modules/pooling.py)
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
            "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
            "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
            "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
# attention and Transformers (nn/modules/transformer.py, positional.py)
__all__ += ["KVCache", "LearnedPositionalEmbedding", "MultiheadAttention", "RotaryEmbedding",
            "SinusoidalPositionalEncoding", "Transformer", "TransformerDecoder",
            "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer"]
# graph neural network layers (nn/modules/graph.py, issue #13)
__all__ += ["GATConv", "GCNConv", "SAGEConv"]
# margin, embedding and likelihood losses (nn/modules/loss_more.py)
from fastdl.nn.modules.loss_more import (CosineEmbeddingLoss, CTCLoss,  # noqa: E402
                                         GaussianNLLLoss,
                                         HingeEmbeddingLoss, MarginRankingLoss,
                                         MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                                         PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss,
                                         TripletMarginWithDistanceLoss)
__all__ += ["CosineEmbeddingLoss", "CTCLoss", "GaussianNLLLoss", "HingeEmbeddingLoss",
            "MarginRankingLoss",
            "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "PoissonNLLLoss",
            "SoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss"]
# im2col / col2im (nn/modules/fold.py)
from fastdl.nn.modules.fold import Fold, Unfold  # noqa: E402
__all__ += ["Fold", "Unfold"]
# bags of embeddings (nn/modules/embedding_bag.py)
from fastdl.nn.modules.embedding_bag import EmbeddingBag  # noqa: E402
__all__ += ["EmbeddingBag"]
# power-average pooling (nn/modules/lp_pool.py)
from fastdl.nn.modules.lp_pool import LPPool1d, LPPool2d, LPPool3d  # noqa: E402
__all__ += ["LPPool1d", "LPPool2d", "LPPool3d"]
# more activations, simple layers and parameter containers
from fastdl.nn.modules.activation_more import (CELU, GLU, SELU, Hardshrink,  # noqa: E402
                                               Hardsigmoid, Hardswish, LogSigmoid, Mish, PReLU,
                                               RReLU, Softmax2d, Softmin, Softshrink, Softsign,
                                               Tanhshrink, Threshold)
from fastdl.nn.modules.container_params import ParameterDict, ParameterList  # noqa: E402
from fastdl.nn.modules.layers_more import (AlphaDropout, ChannelShuffle,  # noqa: E402
                                           CosineSimilarity, FeatureAlphaDropout,
                                           LocalResponseNorm, PairwiseDistance, PixelShuffle,
                                           PixelUnshuffle, RMSNorm)

__all__ += ["AlphaDropout", "CELU", "ChannelShuffle", "CosineSimilarity", "FeatureAlphaDropout",
            "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "LocalResponseNorm", "LogSigmoid",
            "Mish", "PReLU", "PairwiseDistance", "ParameterDict", "ParameterList",
            "PixelShuffle", "PixelUnshuffle", "RMSNorm", "RReLU", "SELU", "Softmax2d",
            "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold"]
# lazy modules (nn/modules/lazy.py)
from fastdl.nn.modules.lazy import (LazyBatchNorm1d, LazyBatchNorm2d,  # noqa: E402
                                    LazyBatchNorm3d, LazyConv1d, LazyConv2d, LazyConv3d,
                                    LazyConvTranspose1d, LazyConvTranspose2d,
                                    LazyConvTranspose3d, LazyLinear)

__all__ += ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
            "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
            "LazyLinear"]
# nn-gaps: modules torch has that fastdl lacked
from fastdl.nn.modules.pooling_fractional import (FractionalMaxPool2d,  # noqa: E402
                                                  FractionalMaxPool3d)
from fastdl.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: E402
from fastdl.nn.modules.cross_map_lrn import CrossMapLRN2d  # noqa: E402
from fastdl.nn.modules.lazy import (LazyInstanceNorm1d, LazyInstanceNorm2d,  # noqa: E402
                                    LazyInstanceNorm3d)

__all__ += ["AdaptiveLogSoftmaxWithLoss", "CrossMapLRN2d", "FractionalMaxPool2d", "FractionalMaxPool3d",
            "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]
# a Linear head fused with cross entropy, and its chunking options (torch 2.13)
from fastdl.nn.functional.linear_cross_entropy_options import LinearCrossEntropyOptions  # noqa: E402
from fastdl.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss  # noqa: E402

__all__ += ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]
# torch's deprecated alias of NLLLoss
from fastdl.nn.modules.loss import NLLLoss2d  # noqa: E402

__all__ += ["NLLLoss2d"]
# batch norm across the ranks of fastdl.distributed
from fastdl.nn.modules.sync_batchnorm import SyncBatchNorm  # noqa: E402

__all__ += ["SyncBatchNorm"]
