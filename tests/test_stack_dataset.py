"""data.StackDataset (tuple and dict forms, batched __getitems__, errors) and random_split with
fractions, against torch 2.13's torch.utils.data."""
import numpy as np
import pytest
import torch
import torch.utils.data as torch_data

import fastdl
from fastdl import data

RNG_SEED = 20261130


def _columns():
    rng = np.random.default_rng(RNG_SEED)
    return rng.standard_normal((6, 3)), rng.integers(0, 10, 6)


def _as_numpy(item):
    if isinstance(item, dict):
        return {k: _as_numpy(v) for k, v in item.items()}
    if isinstance(item, (tuple, list)):
        return type(item)(_as_numpy(v) for v in item)
    return np.asarray(item.detach().numpy() if hasattr(item, "detach") else item)


def _assert_same(got, expected):
    assert type(got) is type(expected)
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for key in expected:
            _assert_same(got[key], expected[key])
    elif isinstance(expected, (tuple, list)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            _assert_same(g, e)
    else:
        np.testing.assert_array_equal(got, expected)


def _both_stacks(form):
    features, labels = _columns()
    t_members = (torch_data.TensorDataset(torch.from_numpy(features)), labels.tolist())
    f_members = (data.TensorDataset(fastdl.tensor(features)), labels.tolist())
    if form == "tuple":
        return torch_data.StackDataset(*t_members), data.StackDataset(*f_members)
    return (torch_data.StackDataset(x=t_members[0], y=t_members[1]),
            data.StackDataset(x=f_members[0], y=f_members[1]))


@pytest.mark.parametrize("form", ["tuple", "dict"])
def test_stack_dataset_items_match_torch(form):
    t_stack, f_stack = _both_stacks(form)
    assert len(f_stack) == len(t_stack) == 6
    for i in range(6):
        _assert_same(_as_numpy(f_stack[i]), _as_numpy(t_stack[i]))
    indices = [4, 0, 2]
    _assert_same(_as_numpy(f_stack.__getitems__(indices)),
                 _as_numpy(t_stack.__getitems__(indices)))


@pytest.mark.parametrize("form", ["tuple", "dict"])
def test_stack_dataset_batches_through_the_dataloader(form):
    _, f_stack = _both_stacks(form)
    batch = next(iter(data.DataLoader(f_stack, batch_size=4)))
    features, labels = _columns()
    first, second = (batch[0], batch[1]) if form == "tuple" else (batch["x"], batch["y"])
    np.testing.assert_array_equal(first[0].numpy(), features[:4])
    np.testing.assert_array_equal(second.numpy(), labels[:4])


@pytest.mark.parametrize("case", ["both_forms", "none", "size_mismatch", "nested_mismatch"])
def test_stack_dataset_errors_match_torch(case):
    class ShortBatches:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i

        def __getitems__(self, indices):
            return list(indices)[:-1]

    def attempt(module):
        if case == "both_forms":
            module.StackDataset([1], y=[2])
        elif case == "none":
            module.StackDataset()
        elif case == "size_mismatch":
            module.StackDataset([1, 2], [3])
        else:
            module.StackDataset(ShortBatches(), [1, 2, 3]).__getitems__([0, 1])

    with pytest.raises(ValueError) as t_err:
        attempt(torch_data)
    with pytest.raises(ValueError) as f_err:
        attempt(data)
    assert str(f_err.value) == str(t_err.value)


def test_random_split_with_fractions_has_torch_lengths():
    # torch gives the remainder of the floors round-robin to the first splits
    for fractions in ([0.3, 0.7], [0.5, 0.25, 0.25], [0.34, 0.33, 0.33], [1.0, 0.0]):
        for n in (10, 7, 1):
            t_lengths = [len(s) for s in torch_data.random_split(range(n), fractions)]
            f_lengths = [len(s) for s in data.random_split(list(range(n)), fractions)]
            assert f_lengths == t_lengths, (fractions, n)
            f_items = sorted(i for s in data.random_split(list(range(n)), fractions) for i in s)
            assert f_items == list(range(n))
