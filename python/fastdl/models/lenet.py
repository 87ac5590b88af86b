"""LeNet-5 (LeCun et al. 1998) in its common modern form: two 5x5 convolutions with ReLU and
2x2 max pooling, then three fully connected layers (120, 84, classes). Names ``conv1``,
``conv2``, ``fc1``, ``fc2``, ``fc3`` (PyTorch's tutorial).

``input_size`` 28 (MNIST, conv1 padded by 2) or 32 (the original, no padding) both give 5x5x16
features before ``fc1``; other sizes work when the feature map stays at least 1x1.
"""
from __future__ import annotations

from fastdl import nn
from fastdl.functional.shape import flatten
from fastdl.nn import functional as F


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, input_size=28):
        super().__init__()
        pad = 2 if input_size < 32 else 0
        size = ((input_size + 2 * pad - 4) // 2 - 4) // 2
        if size < 1:
            raise ValueError(f"LeNet5: input_size {input_size} is too small (the feature map "
                             f"before fc1 would be {size}x{size})")
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=pad)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * size * size, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
