"""fastdl.data: the shipped digits, TensorDataset and DataLoader."""
import numpy as np
import pytest

import fastdl
from fastdl.data import DataLoader, Dataset, TensorDataset, load_digits, train_test_split_indices


def test_digits_shape_range_and_agreement_with_sklearn():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    assert load_digits(flatten=False)[0].shape == (1797, 8, 8)
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ref = sklearn_datasets.load_digits()
    np.testing.assert_array_equal(X * 16, ref.data.astype(np.float32))
    np.testing.assert_array_equal(y, ref.target)


def test_split_is_a_reproducible_partition():
    train, test = train_test_split_indices(100, 0.25, seed=3)
    assert len(test) == 25 and len(train) == 75
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    again = train_test_split_indices(100, 0.25, seed=3)
    np.testing.assert_array_equal(train, again[0])
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split_indices(10, 1.0)


def test_tensor_dataset_items_and_errors():
    X = fastdl.tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    ds = TensorDataset(X, np.arange(6))
    assert len(ds) == 6
    x3, y3 = ds[3]
    assert x3.tolist() == [6.0, 7.0] and y3.item() == 3
    with pytest.raises(ValueError, match=r"size mismatch.*\(6, 2\), \(5,\)"):
        TensorDataset(X, np.arange(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_batches_cover_the_data(drop_last):
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    loader = DataLoader(TensorDataset(X, np.arange(10)), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (2 if drop_last else 3)
    ys = np.concatenate([b[1].data for b in batches])
    np.testing.assert_array_equal(ys, np.arange(8 if drop_last else 10))
    assert isinstance(batches[0][0], fastdl.Tensor) and batches[0][0].shape == (4, 2)


def test_loader_shuffle_follows_manual_seed_and_generator():
    ds = TensorDataset(np.arange(50))

    def order(**kwargs):
        return np.concatenate([b[0].data for b in DataLoader(ds, batch_size=7, shuffle=True,
                                                                **kwargs)])

    fastdl.manual_seed(1)
    first = order()
    fastdl.manual_seed(1)
    np.testing.assert_array_equal(order(), first)
    assert sorted(first.tolist()) == list(range(50)) and first.tolist() != list(range(50))
    a = order(generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a, order(generator=np.random.default_rng(5)))


def test_loader_with_map_style_dataset_and_default_collate():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.array([i, i * i], dtype=np.float32), "label": i % 2}

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[1]["x"].tolist() == [[2.0, 4.0], [3.0, 9.0]]
    assert batches[2]["label"].tolist() == [0]
    assert [item["label"] for item in DataLoader(Squares(), batch_size=None)] == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Squares(), batch_size=0)


def test_digits_file_is_inside_the_package():
    import os

    import fastdl.data
    path = os.path.join(os.path.dirname(fastdl.data.__file__), "digits.npz")
    assert os.path.getsize(path) < 100_000
