"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler`` API and semantics)."""
from fastdl.optim.lr_scheduler.base import LRScheduler
from fastdl.optim.lr_scheduler.multiplicative import (ConstantLR, ExponentialLR, LambdaLR, LinearLR,
                                                      MultiplicativeLR, MultiStepLR, StepLR)
from fastdl.optim.lr_scheduler.annealing import CosineAnnealingLR, OneCycleLR, PolynomialLR
from fastdl.optim.lr_scheduler.cyclic import CosineAnnealingWarmRestarts, CyclicLR
from fastdl.optim.lr_scheduler.plateau import ReduceLROnPlateau
from fastdl.optim.lr_scheduler.composite import ChainedScheduler, SequentialLR

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "ConstantLR", "LinearLR",
           "LambdaLR", "MultiplicativeLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "PolynomialLR", "OneCycleLR",
           "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]
