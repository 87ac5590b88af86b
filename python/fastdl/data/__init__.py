"""Built-in data and batching (also importable as ``fastdl.utils.data``, torch's path):
``load_digits``, ``make_moons``; datasets (``Dataset``, ``IterableDataset``, ``TensorDataset``,
``Subset``, ``ConcatDataset``, ``StackDataset``, ``ChainDataset``, ``random_split``); samplers
(``Sampler``, ``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``,
``WeightedRandomSampler``, ``BatchSampler``, ``DistributedSampler``); ``DataLoader`` with
``default_collate`` / ``default_convert``."""
from fastdl.data.collate import default_collate, default_convert
from fastdl.data.dataloader import DataLoader, WorkerInfo, get_worker_info
from fastdl.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,
                                 StackDataset, Subset, TensorDataset, random_split)
from fastdl.data.digits import load_digits, train_test_split_indices
from fastdl.data.distributed import DistributedSampler
from fastdl.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                 SubsetRandomSampler, WeightedRandomSampler)
from fastdl.data.synthetic import make_moons

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "WorkerInfo", "default_collate", "default_convert",
           "get_worker_info", "load_digits", "make_moons", "random_split",
           "train_test_split_indices"]
