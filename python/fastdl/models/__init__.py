"""Model zoo built from ``fastdl.nn`` (torchvision's module names where torchvision has the
model, so its state dicts load)."""
from fastdl.models.bert import BERT, BERTConfig, bert_from_pretrained
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.lenet import LeNet5
from fastdl.models.mlp import MLP
from fastdl.models.mobilenet import MobileNetV2, mobilenet_v2
from fastdl.models.pretrained import gpt2_from_pretrained
from fastdl.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from fastdl.models.sequence import CharLM, Forecaster, Seq2Seq, SequenceClassifier
from fastdl.models.t5 import T5, T5Config, relative_position_bucket, t5_from_pretrained
from fastdl.models.vgg import VGG, vgg11, vgg11_bn
from fastdl.models.vit import ViT, vit_b_16

__all__ = ["BERT", "BERTConfig", "BasicBlock", "Bottleneck", "CharLM", "Forecaster",
           "GPT", "GPTConfig", "LeNet5", "MLP", "MobileNetV2", "ResNet", "Seq2Seq",
           "SequenceClassifier", "T5", "T5Config", "VGG", "ViT", "bert_from_pretrained",
           "gpt2_from_pretrained", "mobilenet_v2", "relative_position_bucket",
           "resnet18", "resnet34", "resnet50", "t5_from_pretrained", "vgg11",
           "vgg11_bn", "vit_b_16"]
