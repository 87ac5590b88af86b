"""fastdl.data against torch.utils.data (the oracle): samplers, Subset/ConcatDataset/random_split,
DataLoader's argument checks, IterableDataset loading, batch_size=None, drop_last and len(),
default_collate / default_convert over nested structures."""
import collections
import doctest
import inspect

import numpy as np
import pytest

import fastdl
from fastdl import data

torch = pytest.importorskip("torch")
tud = torch.utils.data


def plain(value):
    """A structure comparable across libraries: tensors become ("tensor", dtype, values);
    containers keep their type's name (so a list is not a tuple, nor a dict a namedtuple)."""
    if isinstance(value, torch.Tensor):
        array = value.numpy()
        return ("tensor", array.dtype.name, array.tolist())
    if isinstance(value, fastdl.Tensor):
        array = np.asarray(value.data)
        return ("tensor", array.dtype.name, array.tolist())
    if isinstance(value, dict):
        return (type(value).__name__, {key: plain(v) for key, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(v) for v in value])
    return value


def outcome(fn):
    """("ok", plain result) or ("error", exception type name, message)."""
    try:
        return ("ok", plain(fn()))
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return ("error", type(error).__name__, str(error))


def fresh(seed):
    return fastdl.Generator().manual_seed(seed)


# --- deterministic samplers and datasets: the same sequences as torch ---------------------------

@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler_matches_torch(n):
    ours, theirs = data.SequentialSampler(range(n)), tud.SequentialSampler(range(n))
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n", [0, 1, 9, 10, 11])
@pytest.mark.parametrize("batch_size", [1, 3, 10, 12])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    for make_source in (lambda m: m.SequentialSampler(range(n)), lambda m: list(range(n)),
                        lambda m: m.RandomSampler(range(max(n, 1)), num_samples=n or 1,
                                                  generator=fastdl_or_torch_generator(m))):
        ours = data.BatchSampler(make_source(data), batch_size, drop_last)
        theirs = tud.BatchSampler(make_source(tud), batch_size, drop_last)
        got, want = list(ours), list(theirs)
        assert len(ours) == len(theirs) == len(got) == len(want)
        assert [len(b) for b in got] == [len(b) for b in want]
        assert all(isinstance(b, list) and all(type(i) is int for i in b) for b in got)
        if not isinstance(make_source(data), data.RandomSampler):
            assert got == want


def fastdl_or_torch_generator(module):
    return fresh(0) if module is data else torch.Generator().manual_seed(0)


@pytest.mark.parametrize("kwargs", [dict(batch_size=0, drop_last=False),
                                    dict(batch_size=True, drop_last=False),
                                    dict(batch_size=2.0, drop_last=False),
                                    dict(batch_size=2, drop_last=1)])
def test_batch_sampler_argument_errors_match_torch(kwargs):
    ours = outcome(lambda: data.BatchSampler(range(4), **kwargs))
    theirs = outcome(lambda: tud.BatchSampler(range(4), **kwargs))
    assert ours == theirs and ours[0] == "error"


def test_subset_and_concat_match_torch():
    base = list(range(100, 110))
    ours = data.Subset(base, [9, 0, 3, 3])
    theirs = tud.Subset(base, [9, 0, 3, 3])
    assert [ours[i] for i in range(4)] == [theirs[i] for i in range(4)]
    assert len(ours) == len(theirs) and ours.__getitems__([1, 2]) == theirs.__getitems__([1, 2])
    parts = [list("abc"), [], list("de"), list("f")]
    ours, theirs = data.ConcatDataset(parts), tud.ConcatDataset(parts)
    assert ours.cumulative_sizes == theirs.cumulative_sizes and len(ours) == len(theirs)
    for index in list(range(-6, 6)) + [6, -7]:
        assert outcome(lambda: ours[index])[:2] == outcome(lambda: theirs[index])[:2], index
    assert (data.Subset(base, [1]) + data.Subset(base, [2]))[1] == 102


def test_dataset_add_and_chain():
    joined = data.TensorDataset(np.arange(3)) + data.TensorDataset(np.arange(5, 7))
    assert isinstance(joined, data.ConcatDataset) and [int(joined[i][0]) for i in range(5)] == [
        0, 1, 2, 5, 6]
    chained = Stream(0, 2) + Stream(5, 7)
    assert isinstance(chained, data.ChainDataset) and list(chained) == [0, 1, 5, 6]
    with pytest.raises(TypeError, match="IterableDataset"):
        data.ConcatDataset([Stream(0, 2)])


def test_random_split_lengths_match_torch_and_are_reproducible():
    for n, lengths in [(10, [0.5, 0.3, 0.2]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]),
                       (10, [3, 7]), (5, [1.0])]:
        ours = data.random_split(range(n), lengths, generator=fresh(4))
        theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(4))
        assert [len(p) for p in ours] == [len(p) for p in theirs]
        assert sorted(i for p in ours for i in p.indices) == list(range(n))
        again = data.random_split(range(n), lengths, generator=fresh(4))
        assert [p.indices for p in again] == [p.indices for p in ours]
    assert (data.random_split(range(50), [25, 25], generator=fresh(1))[0].indices
            != data.random_split(range(50), [25, 25], generator=fresh(2))[0].indices)


# --- random samplers: structure and statistics ---------------------------------------------------

def test_random_sampler_is_a_permutation_reproducible_by_seed():
    ds = range(30)
    first = list(data.RandomSampler(ds, generator=fresh(7)))
    assert sorted(first) == list(range(30)) and first != list(range(30))
    assert list(data.RandomSampler(ds, generator=fresh(7))) == first
    assert list(data.RandomSampler(ds, generator=fresh(8))) != first
    sampler = data.RandomSampler(ds, generator=fresh(7))
    assert list(sampler) == first and list(sampler) != first  # a new order each epoch
    fastdl.manual_seed(3)
    global_order = list(data.RandomSampler(ds))
    fastdl.manual_seed(3)
    assert list(data.RandomSampler(ds)) == global_order


def test_random_sampler_num_samples_and_replacement():
    longer = list(data.RandomSampler(range(4), num_samples=10, generator=fresh(0)))
    assert len(longer) == 10
    # whole permutations, then part of one: each index twice, two of them three times
    assert sorted(collections.Counter(longer).values()) == [2, 2, 3, 3]
    assert sorted(longer[:4]) == sorted(longer[4:8]) == [0, 1, 2, 3]
    shorter = list(data.RandomSampler(range(10), num_samples=4, generator=fresh(0)))
    assert len(shorter) == len(set(shorter)) == 4
    drawn = list(data.RandomSampler(range(3), replacement=True, num_samples=3000,
                                    generator=fresh(0)))
    counts = collections.Counter(drawn)
    assert len(drawn) == 3000 and set(counts) == {0, 1, 2}
    assert all(900 < c < 1100 for c in counts.values())
    assert len(data.RandomSampler(range(5), replacement=True)) == 5
    assert all(type(i) is int for i in data.RandomSampler(range(5), generator=fresh(0)))


@pytest.mark.parametrize("kwargs", [dict(replacement=1), dict(num_samples=0),
                                    dict(num_samples=-2), dict(num_samples=2.0)])
def test_random_sampler_argument_errors_match_torch(kwargs):
    ours = outcome(lambda: data.RandomSampler(range(4), **kwargs))
    theirs = outcome(lambda: tud.RandomSampler(range(4), **kwargs))
    assert ours == theirs and ours[0] == "error"
    assert outcome(lambda: data.RandomSampler([]))[:2] == outcome(lambda: tud.RandomSampler([]))[:2]
    with pytest.raises(TypeError, match="generator"):
        data.RandomSampler(range(3), generator=torch.Generator())


def test_subset_random_sampler():
    indices = [10, 20, 30, 40, 50]
    first = list(data.SubsetRandomSampler(indices, generator=fresh(1)))
    assert sorted(first) == indices and len(data.SubsetRandomSampler(indices)) == 5
    assert list(data.SubsetRandomSampler(indices, generator=fresh(1))) == first
    orders = {tuple(data.SubsetRandomSampler(indices, generator=fresh(s))) for s in range(10)}
    assert len(orders) > 1


def test_weighted_sampler_draws_in_proportion():
    weights = [1.0, 0.0, 3.0, 6.0]
    drawn = list(data.WeightedRandomSampler(weights, 20000, generator=fresh(0)))
    counts = collections.Counter(drawn)
    assert len(drawn) == 20000 and 1 not in counts
    for index, weight in enumerate(weights):
        expected = 20000 * weight / 10
        assert abs(counts[index] - expected) <= 5 * np.sqrt(expected + 1), (index, counts)
    assert list(data.WeightedRandomSampler(weights, 50, generator=fresh(5))) == list(
        data.WeightedRandomSampler(weights, 50, generator=fresh(5)))
    no_repeat = list(data.WeightedRandomSampler([5, 1, 1, 0, 2], 4, replacement=False,
                                                generator=fresh(0)))
    assert sorted(no_repeat) == [0, 1, 2, 4]
    # without replacement, heavy weights come first more often
    firsts = collections.Counter(next(iter(data.WeightedRandomSampler(
        [8, 1, 1], 2, replacement=False, generator=fresh(s)))) for s in range(300))
    assert firsts[0] > 200
    assert len(data.WeightedRandomSampler(fastdl.tensor([1.0, 2.0]), 7)) == 7
    # as torch: without replacement, zero weights are drawn only after all the others
    for seed in range(20):
        drawn = list(data.WeightedRandomSampler([1.0, 0.0, 2.0, 0.0], 3, replacement=False,
                                                generator=fresh(seed)))
        assert sorted(drawn[:2]) == [0, 2] and drawn[2] in (1, 3)
        theirs = list(tud.WeightedRandomSampler([1.0, 0.0, 2.0, 0.0], 3, replacement=False,
                                                generator=torch.Generator().manual_seed(seed)))
        assert sorted(theirs[:2]) == [0, 2] and theirs[2] in (1, 3)


@pytest.mark.parametrize("args", [([1.0, 2.0], 0), ([1.0, 2.0], True), ([1.0, 2.0], 2.5),
                                  ([1.0, 2.0], 2, 1), ([[1.0, 2.0]], 2)])
def test_weighted_sampler_argument_errors_match_torch(args):
    ours = outcome(lambda: data.WeightedRandomSampler(*args))
    theirs = outcome(lambda: tud.WeightedRandomSampler(*args))
    assert ours == theirs and ours[0] == "error"


def test_weighted_sampler_rejects_bad_weights_up_front():
    # torch takes these and fails (RuntimeError) only at the first draw
    for weights, count, replacement in [([1.0, -1.0], 2, True), ([0.0, 0.0], 1, True),
                                        ([1.0, np.nan], 1, True), ([1.0, 0.0, 2.0], 4, False)]:
        with pytest.raises(ValueError, match="WeightedRandomSampler"):
            data.WeightedRandomSampler(weights, count, replacement=replacement)
        with pytest.raises(RuntimeError):
            list(tud.WeightedRandomSampler(weights, count, replacement=replacement))


# --- DataLoader ---------------------------------------------------------------------------------

class Stream(data.IterableDataset):
    """range(start, end), split between workers as torch's IterableDataset docs show."""

    def __init__(self, start, end, with_len=False):
        self.start, self.end, self.with_len = start, end, with_len

    def __iter__(self):
        info = data.get_worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per_worker = -(-(self.end - self.start) // info.num_workers)
        begin = self.start + info.id * per_worker
        return iter(range(begin, min(begin + per_worker, self.end)))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return self.end - self.start


class TorchStream(tud.IterableDataset):
    def __init__(self, start, end, with_len=False):
        self.start, self.end, self.with_len = start, end, with_len

    def __iter__(self):
        return iter(range(self.start, self.end))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return self.end - self.start


LOADER_ARGUMENT_CASES = [
    dict(shuffle=True, sampler="seq"),
    dict(batch_sampler="batches", batch_size=2),
    dict(batch_sampler="batches", shuffle=True),
    dict(batch_sampler="batches", sampler="seq"),
    dict(batch_sampler="batches", drop_last=True),
    dict(batch_size=None, drop_last=True),
    dict(batch_size=0),
    dict(batch_size=-1),
    dict(drop_last=1),
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(persistent_workers=True),
    dict(multiprocessing_context="spawn"),
    dict(batch_sampler="batches"),
    dict(sampler="seq", batch_size=3),
    dict(shuffle=False, sampler="seq"),
]


def _resolve(kwargs, module, n):
    resolved = dict(kwargs)
    if resolved.get("sampler") == "seq":
        resolved["sampler"] = module.SequentialSampler(range(n))
    if resolved.get("batch_sampler") == "batches":
        resolved["batch_sampler"] = [[0, 1], [2]]
    return resolved


@pytest.mark.parametrize("kwargs", LOADER_ARGUMENT_CASES)
def test_loader_argument_checks_match_torch(kwargs):
    values = list(range(5))
    ours = outcome(lambda: len(data.DataLoader(values, **_resolve(kwargs, data, 5))))
    theirs = outcome(lambda: len(tud.DataLoader(values, **_resolve(kwargs, tud, 5))))
    assert ours[:2] == theirs[:2]
    if ours[0] == "error" and "multiprocessing" not in ours[2]:
        assert ours[2].split(";")[0] == theirs[2].split(";")[0]


@pytest.mark.parametrize("kwargs", [dict(shuffle=True), dict(sampler=[0, 1]),
                                    dict(batch_sampler=[[0, 1]]), dict(shuffle=False),
                                    dict(batch_size=None, drop_last=True)])
def test_loader_argument_checks_for_iterable_datasets_match_torch(kwargs):
    ours = outcome(lambda: (data.DataLoader(Stream(0, 4), **kwargs), "made")[1])
    theirs = outcome(lambda: (tud.DataLoader(TorchStream(0, 4), **kwargs), "made")[1])
    assert ours[:2] == theirs[:2] and (ours[0] == "ok" or ours[2] == theirs[2])


def test_loader_attributes_are_frozen_like_torch():
    loader = data.DataLoader(list(range(4)), batch_size=2)
    for name in ("batch_size", "sampler", "drop_last", "dataset"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
            setattr(loader, name, None)
    loader.num_workers = 0  # others may change, as in torch
    assert isinstance(loader.sampler, data.SequentialSampler)
    assert isinstance(loader.batch_sampler, data.BatchSampler)
    assert data.DataLoader(range(3), shuffle=True).sampler.__class__ is data.RandomSampler
    assert data.DataLoader(range(3), batch_size=None).batch_sampler is None


@pytest.mark.parametrize("n", [0, 1, 9, 10, 11])
@pytest.mark.parametrize("batch_size", [1, 3, 10, None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_len_and_batches_match_torch(n, batch_size, drop_last):
    if batch_size is None and drop_last:
        return
    values = [float(i) for i in range(n)]
    ours = data.DataLoader(values, batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(values, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert plain(list(ours)) == plain(list(theirs))


def test_loader_with_custom_sampler_and_batch_sampler_matches_torch():
    values = [np.array([i, -i], dtype=np.float32) for i in range(8)]
    order = [7, 0, 3, 3, 5]
    for kwargs in (dict(sampler=order, batch_size=2), dict(sampler=order, batch_size=None),
                   dict(batch_sampler=[[1, 2, 3], [0], [7, 6]]),
                   dict(sampler=order, batch_size=2, drop_last=True)):
        ours = data.DataLoader(values, **kwargs)
        theirs = tud.DataLoader(values, **kwargs)
        assert plain(list(ours)) == plain(list(theirs)) and len(ours) == len(theirs), kwargs
    # a sampler object of ours, with the same indices torch's gets
    ours = data.DataLoader(values, sampler=data.SubsetRandomSampler([1, 4, 6], generator=fresh(2)),
                           batch_size=2)
    assert sorted(v for b in ours for v in b[:, 0].tolist()) == [1.0, 4.0, 6.0]


def test_batch_size_none_converts_each_sample_like_torch():
    Point = collections.namedtuple("Point", "x y")
    samples = [{"image": np.ones((2, 2), np.float32) * i, "label": i, "name": f"s{i}",
                "pair": (np.int64(i), 1.5), "point": Point(np.array([i]), [i])}
               for i in range(3)]
    ours = list(data.DataLoader(samples, batch_size=None))
    theirs = list(tud.DataLoader(samples, batch_size=None))
    assert plain(ours) == plain(theirs)
    assert isinstance(ours[0]["point"], Point)
    collated = list(data.DataLoader(samples, batch_size=None, collate_fn=lambda s: s["label"]))
    assert collated == [0, 1, 2]


def test_iterable_dataset_loading_matches_torch():
    for kwargs in (dict(batch_size=2), dict(batch_size=2, drop_last=True), dict(batch_size=None),
                   dict(batch_size=5), dict(batch_size=3, collate_fn=lambda b: sum(b))):
        ours = list(data.DataLoader(Stream(3, 10), **kwargs))
        theirs = list(tud.DataLoader(TorchStream(3, 10), **kwargs))
        assert plain(ours) == plain(theirs), kwargs
        with_len = dict(kwargs)
        assert (len(data.DataLoader(Stream(3, 10, with_len=True), **with_len))
                == len(tud.DataLoader(TorchStream(3, 10, with_len=True), **with_len)))
    with pytest.raises(TypeError):
        len(data.DataLoader(Stream(0, 3)))


def test_iterable_dataset_with_workers_takes_batches_in_turn():
    # torch's documented result for this split over 2 workers: [3], [5], [4], [6]
    loader = data.DataLoader(Stream(3, 7), num_workers=2)
    assert [b.tolist() for b in loader] == [[3], [5], [4], [6]]
    # uneven shares: a finished worker is skipped; drop_last applies per worker, as in torch
    got = [b.tolist() for b in data.DataLoader(Stream(0, 7), batch_size=2, num_workers=3)]
    assert got == [[0, 1], [3, 4], [6], [2], [5]]
    got = [b.tolist() for b in data.DataLoader(Stream(0, 7), batch_size=2, num_workers=3,
                                               drop_last=True)]
    assert got == [[0, 1], [3, 4]]
    seen = []
    list(data.DataLoader(Stream(0, 4), num_workers=2, worker_init_fn=seen.append))
    assert sorted(seen) == [0, 1]


def test_iterable_dataset_worker_errors_reach_the_caller():
    class Broken(data.IterableDataset):
        def __iter__(self):
            yield 1
            raise KeyError("stream broke")

    with pytest.raises(KeyError, match="stream broke"):
        list(data.DataLoader(Broken(), num_workers=2))
    # leaving early stops the workers instead of blocking them
    loader = data.DataLoader(Stream(0, 10_000), num_workers=2, prefetch_factor=1)
    for batch in loader:
        break


def test_out_of_range_sampler_indices_raise_index_error():
    ds = data.TensorDataset(np.arange(5.0))
    for dataset in (ds, list(range(5)), data.Subset(ds, [0, 1]), data.ConcatDataset([ds, ds])):
        for kwargs in (dict(sampler=[0, 12], batch_size=2), dict(sampler=[12], batch_size=None),
                       dict(batch_sampler=[[0, 12]])):
            with pytest.raises(IndexError):
                list(data.DataLoader(dataset, **kwargs))
            with pytest.raises(IndexError):
                list(data.DataLoader(dataset, num_workers=2, **kwargs))


def test_tensor_dataset_keeps_its_fast_path(monkeypatch):
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = data.TensorDataset(X, np.arange(20))

    def no_single_rows(self, index):
        raise AssertionError("the fast path should not index single rows")

    monkeypatch.setattr(data.TensorDataset, "__getitem__", no_single_rows)
    batches = list(data.DataLoader(ds, batch_size=6, shuffle=True, generator=fresh(0)))
    assert isinstance(batches[0], list) and batches[0][0].shape == (6, 2)
    assert sorted(np.concatenate([b[1].data for b in batches]).tolist()) == list(range(20))
    train, _ = data.random_split(ds, [0.75, 0.25], generator=fresh(1))
    split = list(data.DataLoader(train, batch_size=4))
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in split]), train.indices)
    monkeypatch.undo()
    slow = list(data.DataLoader(train, batch_size=4, collate_fn=lambda b: data.default_collate(b)))
    assert plain(slow) == plain(split)


def test_seeded_order_does_not_depend_on_num_workers():
    ds = data.TensorDataset(np.arange(30))
    orders = [[v for b in data.DataLoader(ds, batch_size=4, shuffle=True, generator=fresh(9),
                                          num_workers=workers) for v in b[0].tolist()]
              for workers in (0, 2)]
    assert orders[0] == orders[1] and sorted(orders[0]) == list(range(30))
    loader = data.DataLoader(ds, batch_size=30, shuffle=True, generator=fresh(9))
    assert list(loader)[0][0].tolist() != list(loader)[0][0].tolist()  # a new order each epoch


# --- default_collate / default_convert ----------------------------------------------------------

Pair = collections.namedtuple("Pair", "left right")

COLLATE_CASES = {
    "ints": [1, 2, 3],
    "floats": [1.5, 2.0],
    "bools": [True, False],
    "strings": ["a", "bc"],
    "bytes": [b"a", b"b"],
    "numpy scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy bools": [np.bool_(True), np.bool_(False)],
    "numpy int32 arrays": [np.arange(3, dtype=np.int32), np.arange(3, 6, dtype=np.int32)],
    "dict of tuples of arrays": [{"a": (np.zeros(2), np.ones((2, 1), np.float32)), "b": 1},
                                 {"a": (np.ones(2), np.zeros((2, 1), np.float32)), "b": 2}],
    "namedtuples": [Pair(1, "x"), Pair(2, "y")],
    "nested namedtuple": [{"p": Pair(np.arange(2), 0.5)}, {"p": Pair(np.arange(2, 4), 1.5)}],
    "tuples with strings": [("a", 1, 2.5, True), ("b", 3, 4.5, False)],
    "lists": [[1, 2.0], [3, 4.0]],
    "list of lists": [[[1, 2], [3]], [[4, 5], [6]]],
    "mismatched lengths": [[1, 2], [3]],
    "mismatched shapes": [np.zeros(2), np.zeros(3)],
    "string array": [np.array(["a"]), np.array(["b"])],
    "unsupported": [object(), object()],
    "none": [None, None],
}


@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    ours = outcome(lambda: data.default_collate(batch))
    theirs = outcome(lambda: tud.default_collate(batch))
    assert ours[:2] == theirs[:2]
    if ours[0] == "error" and "equal size" in theirs[2]:
        assert "equal size" in ours[2]
    if name == "namedtuples":
        assert type(data.default_collate(batch)) is Pair


def test_default_collate_of_tensors_and_mappings():
    batch = [{"x": fastdl.ones(2, 3), "y": fastdl.tensor(1)} for _ in range(4)]
    out = data.default_collate(batch)
    assert out["x"].shape == (4, 2, 3) and out["y"].tolist() == [1, 1, 1, 1]
    ordered = collections.OrderedDict(b=1, a=2.0)
    collated = data.default_collate([ordered, ordered])
    assert type(collated) is collections.OrderedDict and list(collated) == ["b", "a"]
    with pytest.raises(RuntimeError, match="equal size"):
        data.default_collate([fastdl.ones(2), fastdl.ones(3)])


@pytest.mark.parametrize("sample", [
    np.arange(3), np.float32(2.0), 5, "text", (np.arange(2), 1, "x"), [np.ones(1), 2.0],
    {"a": np.zeros(2), "b": [np.int64(3)]}, Pair(np.arange(2), "r"), np.array(["s"]),
])
def test_default_convert_matches_torch(sample):
    assert plain(data.default_convert(sample)) == plain(tud.default_convert(sample))


# --- docstrings ---------------------------------------------------------------------------------

NEW_NAMES = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
             "WeightedRandomSampler", "BatchSampler", "Dataset", "IterableDataset",
             "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "random_split",
             "DataLoader", "default_collate", "default_convert", "WorkerInfo", "get_worker_info"]


def test_public_data_names_are_the_torch_ones():
    import fastdl.utils.data as utils_data
    for name in NEW_NAMES:
        assert name in data.__all__ and getattr(utils_data, name) is getattr(data, name)
        # fastdl's WorkerInfo is torch.utils.data._utils.worker.WorkerInfo
        assert hasattr(tud, name) or name == "WorkerInfo", name


@pytest.mark.parametrize("name", NEW_NAMES)
def test_docstring_example_runs(name):
    doc = inspect.getdoc(getattr(data, name)) or ""
    assert ">>>" in doc, f"{name} has no >>> example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    test = doctest.DocTestParser().get_doctest(doc, {"fastdl": fastdl}, name, None, 0)
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
