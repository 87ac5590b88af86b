"""VGG-11 (Simonyan & Zisserman 2014, configuration "A") with torchvision's names
(``features``, ``avgpool``, ``classifier``), optionally with BatchNorm (``vgg11_bn``).

Defaults give torchvision's model; ``in_channels``, ``pool_size`` (the adaptive pool's output,
7 in torchvision) and ``hidden`` (the classifier's width, 4096) shrink it for small images
(``vgg11(10, in_channels=1, pool_size=1, hidden=256)`` is a small VGG for 32x32 inputs).
"""
from __future__ import annotations

from fastdl import nn
from fastdl.functional.shape import flatten

CFG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def make_layers(cfg, batch_norm=False, in_channels=3):
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            conv = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else \
                [conv, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5, *,
                 pool_size=7, hidden=4096, feature_channels=512):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(feature_channels * pool_size * pool_size, hidden), nn.ReLU(True),
            nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(True),
            nn.Dropout(p=dropout), nn.Linear(hidden, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def vgg11(num_classes=1000, *, in_channels=3, batch_norm=False, dropout=0.5, pool_size=7,
          hidden=4096, init_weights=True):
    """VGG-11 (configuration A)."""
    return VGG(make_layers(CFG_A, batch_norm, in_channels), num_classes, init_weights, dropout,
               pool_size=pool_size, hidden=hidden)


def vgg11_bn(num_classes=1000, **kwargs):
    """VGG-11 with BatchNorm after every convolution."""
    return vgg11(num_classes, batch_norm=True, **kwargs)
