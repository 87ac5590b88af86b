"""Layer classes (torch.nn's names)."""
from fastdl.nn.modules.activation import (ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU,
                                          Softmax, Softplus, Tanh)
from fastdl.nn.modules.container import ModuleDict, ModuleList, Sequential
from fastdl.nn.modules.dropout import Dropout
from fastdl.nn.modules.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from fastdl.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                    KLDivLoss, L1Loss, MSELoss, MultiMarginLoss, NLLLoss,
                                    SmoothL1Loss)
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.normalization import BatchNorm1d, LayerNorm
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

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "Bilinear", "CrossEntropyLoss",
           "Dropout", "ELU", "Embedding", "Flatten", "GELU", "GRU", "GRUCell", "HuberLoss",
           "Identity", "KLDivLoss", "L1Loss", "LSTM", "LSTMCell", "LayerNorm", "LeakyReLU",
           "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "MultiMarginLoss", "NLLLoss", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "ReLU",
           "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh",
           "Unflatten"]
# pooling and upsampling (nn/modules/pooling.py)
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
            "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
            "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
            "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
# attention and Transformers (nn/modules/transformer.py, positional.py)
__all__ += ["KVCache", "LearnedPositionalEmbedding", "MultiheadAttention", "RotaryEmbedding",
            "SinusoidalPositionalEncoding", "Transformer", "TransformerDecoder",
            "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer"]
