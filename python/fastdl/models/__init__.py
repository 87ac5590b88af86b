"""Model zoo built from ``fastdl.nn`` (torchvision's module names where torchvision has the
model, so its state dicts load)."""
from fastdl.models.bert import BERT, BERTConfig, bert_from_pretrained
from fastdl.models.diffusion import GaussianDiffusion, beta_schedule
from fastdl.models.gan import DCGANDiscriminator, DCGANGenerator, GANTrainer, gradient_penalty
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.lenet import LeNet5
from fastdl.models.mlp import MLP
from fastdl.models.mobilenet import MobileNetV2, mobilenet_v2
from fastdl.models.pretrained import gpt2_from_pretrained
from fastdl.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from fastdl.models.sequence import CharLM, Forecaster, Seq2Seq, SequenceClassifier
from fastdl.models.unet import UNet, sinusoidal_embedding
from fastdl.models.vgg import VGG, vgg11, vgg11_bn

__all__ = ["BERT", "BERTConfig", "BasicBlock", "Bottleneck", "CharLM", "DCGANDiscriminator",
           "DCGANGenerator", "Forecaster", "GANTrainer", "GPT", "GPTConfig", "GaussianDiffusion",
           "LeNet5", "MLP", "MobileNetV2", "ResNet", "Seq2Seq", "SequenceClassifier", "UNet",
           "VGG", "bert_from_pretrained", "beta_schedule", "gpt2_from_pretrained",
           "gradient_penalty", "mobilenet_v2", "resnet18", "resnet34", "resnet50",
           "sinusoidal_embedding", "vgg11", "vgg11_bn"]
