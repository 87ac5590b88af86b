"""Model zoo built from ``fastdl.nn`` (torchvision's module names where torchvision has the
model, so its state dicts load)."""
from fastdl.models.bert import BERT, BERTConfig, bert_from_pretrained
from fastdl.models.gnn import GAT, GCN, GraphClassifier, GraphSAGE
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.lenet import LeNet5
from fastdl.models.mlp import MLP
from fastdl.models.mobilenet import MobileNetV2, mobilenet_v2
from fastdl.models.pretrained import gpt2_from_pretrained
from fastdl.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from fastdl.models.sequence import CharLM, Forecaster, Seq2Seq, SequenceClassifier
from fastdl.models.vgg import VGG, vgg11, vgg11_bn

__all__ = ["BERT", "BERTConfig", "BasicBlock", "Bottleneck", "CharLM", "Forecaster", "GPT",
           "GPTConfig", "LeNet5", "MLP", "MobileNetV2", "ResNet", "Seq2Seq", "SequenceClassifier",
           "VGG", "bert_from_pretrained", "gpt2_from_pretrained", "mobilenet_v2", "resnet18",
           "resnet34", "resnet50", "vgg11", "vgg11_bn"]
__all__ += ["GAT", "GCN", "GraphClassifier", "GraphSAGE"]  # graph neural networks (models/gnn.py)
