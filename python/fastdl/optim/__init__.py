"""Optimizers and learning-rate schedules (PyTorch's ``torch.optim`` API)."""
from fastdl.optim.optimizer import Optimizer
from fastdl.optim.sgd import SGD
from fastdl.optim.adam import Adam, AdamW
from fastdl.optim.adam_variants import Adamax, NAdam, RAdam
from fastdl.optim.rmsprop import RMSprop
from fastdl.optim.adagrad import Adagrad
from fastdl.optim.adadelta import Adadelta
from fastdl.optim.asgd import ASGD, Rprop
from fastdl.optim.adafactor import Adafactor
from fastdl.optim.lbfgs import LBFGS
from fastdl.optim.sparse_adam import SparseAdam
from fastdl.optim.muon import Muon
from fastdl.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
           "Adadelta", "ASGD", "Rprop", "Adafactor", "LBFGS", "SparseAdam", "Muon", "lr_scheduler"]
