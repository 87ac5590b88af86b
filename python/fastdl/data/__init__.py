"""Built-in data and batching: ``load_digits``, ``make_moons``, ``Dataset``, ``TensorDataset``,
``Subset``, ``ConcatDataset``, ``random_split``, ``DataLoader`` (also importable as
``fastdl.utils.data``)."""
from fastdl.data.dataset import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                                 WorkerInfo, default_collate, get_worker_info, random_split)
from fastdl.data.digits import load_digits, train_test_split_indices
from fastdl.data.synthetic import make_moons

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "WorkerInfo",
           "default_collate", "get_worker_info", "load_digits", "make_moons", "random_split",
           "train_test_split_indices"]
