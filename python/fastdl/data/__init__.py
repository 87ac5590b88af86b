"""Built-in data and batching: ``load_digits``, ``Dataset``, ``TensorDataset``, ``DataLoader``."""
from fastdl.data.dataset import DataLoader, Dataset, TensorDataset, default_collate
from fastdl.data.digits import load_digits, train_test_split_indices

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate", "load_digits",
           "train_test_split_indices"]
