"""Model zoo built from ``fastdl.nn`` (torchvision's module names where torchvision has the
model, so its state dicts load)."""
from fastdl.models.lenet import LeNet5
from fastdl.models.mlp import MLP
from fastdl.models.mobilenet import MobileNetV2, mobilenet_v2
from fastdl.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from fastdl.models.vgg import VGG, vgg11, vgg11_bn

__all__ = ["BasicBlock", "Bottleneck", "LeNet5", "MLP", "MobileNetV2", "ResNet", "VGG",
           "mobilenet_v2", "resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn"]
