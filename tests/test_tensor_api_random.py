"""fastdl's random samplers (functional/sampling.py, Tensor.uniform_/normal_): reproducibility
under fastdl.manual_seed and generator=, shapes and dtypes as torch's, statistics within
generous bounds that a wrong sampler still fails, and torch's errors."""
import numpy as np
import pytest
import torch

import fastdl


def _twice(draw, seed=7):
    """Two draws after the same global seed, and two from generators with the same seed."""
    fastdl.manual_seed(seed)
    a = draw(None)
    fastdl.manual_seed(seed)
    b = draw(None)
    c = draw(fastdl.Generator().manual_seed(seed))
    d = draw(fastdl.Generator().manual_seed(seed))
    return a, b, c, d


SAMPLERS = {
    "bernoulli": lambda g: fastdl.bernoulli(fastdl.full((50,), 0.5), generator=g),
    "bernoulli_p": lambda g: fastdl.bernoulli(fastdl.zeros(50), 0.3, generator=g),
    "bernoulli_": lambda g: fastdl.zeros(50).bernoulli_(0.5, generator=g),
    "multinomial": lambda g: fastdl.multinomial(fastdl.ones(3, 20), 10, generator=g),
    "multinomial_replacement": lambda g: fastdl.multinomial(fastdl.ones(20), 30, True,
                                                            generator=g),
    "normal_tensors": lambda g: fastdl.normal(fastdl.zeros(50), fastdl.ones(50), generator=g),
    "normal_numbers": lambda g: fastdl.normal(2.0, 3.0, (50,), generator=g),
    "poisson": lambda g: fastdl.poisson(fastdl.full((50,), 4.0), generator=g),
    "randint_like": lambda g: fastdl.randint_like(fastdl.zeros(50), 3, 9, generator=g),
    "random_": lambda g: fastdl.zeros(50).random_(generator=g),
    "uniform_": lambda g: fastdl.zeros(50).uniform_(-1, 1, generator=g),
    "normal_": lambda g: fastdl.zeros(50).normal_(1, 2, generator=g),
    "exponential_": lambda g: fastdl.zeros(50).exponential_(2.0, generator=g),
    "geometric_": lambda g: fastdl.zeros(50).geometric_(0.3, generator=g),
    "log_normal_": lambda g: fastdl.zeros(50).log_normal_(0, 0.5, generator=g),
    "cauchy_": lambda g: fastdl.zeros(50).cauchy_(1, 2, generator=g),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_seeded_draws_repeat_and_differ_between_seeds(name):
    a, b, c, d = _twice(SAMPLERS[name])
    assert a.tolist() == b.tolist() and c.tolist() == d.tolist()
    fastdl.manual_seed(8)
    other = SAMPLERS[name](None)
    assert other.tolist() != a.tolist()  # 50 draws: equal by chance is ~impossible


def _moments_within(x, mean, std, n_sigma=5):
    """The sample mean within n_sigma standard errors of ``mean``."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    assert abs(x.mean() - mean) < n_sigma * std / np.sqrt(x.size), (x.mean(), mean)


N = 20000


def test_distribution_moments():
    fastdl.manual_seed(2026)
    p = 0.3
    _moments_within(fastdl.bernoulli(fastdl.full((N,), p)).numpy(), p, np.sqrt(p * (1 - p)))
    _moments_within(fastdl.zeros(N).bernoulli_(p).numpy(), p, np.sqrt(p * (1 - p)))
    _moments_within(fastdl.normal(fastdl.full((N,), 2.0), 3.0).numpy(), 2.0, 3.0)
    _moments_within(fastdl.normal(-1.0, fastdl.full((N,), 0.5)).numpy(), -1.0, 0.5)
    _moments_within(fastdl.normal(4.0, 2.0, (N,)).numpy(), 4.0, 2.0)
    _moments_within(fastdl.poisson(fastdl.full((N,), 4.0)).numpy(), 4.0, 2.0)
    _moments_within(fastdl.zeros(N).uniform_(2, 4).numpy(), 3.0, 2 / np.sqrt(12))
    _moments_within(fastdl.zeros(N).normal_(1, 2).numpy(), 1.0, 2.0)
    _moments_within(fastdl.zeros(N).exponential_(2.0).numpy(), 0.5, 0.5)
    _moments_within(fastdl.zeros(N).geometric_(0.25).numpy(), 4.0, np.sqrt(0.75) / 0.25)
    _moments_within(np.log(fastdl.zeros(N).log_normal_(1.0, 0.5).numpy()), 1.0, 0.5)
    cauchy = fastdl.zeros(N).cauchy_(3.0, 2.0).numpy()  # no mean: check the median, quartiles
    assert abs(np.median(cauchy) - 3.0) < 0.1
    assert abs(np.percentile(cauchy, 75) - 5.0) < 0.2
    ints = fastdl.randint_like(fastdl.zeros(N, dtype=fastdl.int32), 3, 9)
    assert ints.dtype == fastdl.int32 and set(np.unique(ints.numpy())) == set(range(3, 9))
    # per element probabilities are honoured
    probs = np.linspace(0, 1, 11)
    hits = np.mean([fastdl.bernoulli(fastdl.tensor(probs)).numpy() for _ in range(2000)], 0)
    assert np.all(np.abs(hits - probs) < 5 * np.sqrt(probs * (1 - probs) / 2000) + 1e-9)


def test_random_fill_ranges():
    fastdl.manual_seed(3)
    for dtype, top in [(fastdl.float32, 2 ** 24), (fastdl.float64, 2 ** 53),
                       (fastdl.int32, 2 ** 31 - 1), (fastdl.int64, 2 ** 63 - 1),
                       (fastdl.uint8, 255)]:
        x = fastdl.zeros(2000, dtype=dtype).random_().numpy().astype(np.float64)
        assert x.min() >= 0 and x.max() <= top and x.max() > top / 2
    x = fastdl.zeros(2000).random_(5).numpy()
    assert set(np.unique(x)) == {0, 1, 2, 3, 4}
    x = fastdl.zeros(2000, dtype=fastdl.int64).random_(-3, 2).numpy()
    assert set(np.unique(x)) == {-3, -2, -1, 0, 1}
    assert set(np.unique(fastdl.zeros(200, dtype=fastdl.bool).random_().numpy())) == {0, 1}


@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial(replacement):
    fastdl.manual_seed(11)
    weights = np.array([[1.0, 0.0, 3.0, 6.0], [0.0, 0.0, 1.0, 0.0]])
    out = fastdl.multinomial(fastdl.tensor(weights), 1, replacement)
    assert out.shape == (2, 1) and out.dtype == fastdl.int64 and out[1, 0].item() == 2
    draws = fastdl.multinomial(fastdl.tensor(weights[0]), 20000, True).numpy() if replacement \
        else np.concatenate([fastdl.multinomial(fastdl.tensor(weights[0]), 1).numpy()
                             for _ in range(3000)])
    freq = np.bincount(draws, minlength=4) / draws.size
    p = weights[0] / weights[0].sum()
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / draws.size) + 1e-9), freq
    if not replacement:  # never repeats; zero-weight categories only once the others ran out
        for _ in range(200):
            row = fastdl.multinomial(fastdl.tensor(np.arange(1.0, 9.0)), 8).tolist()
            assert sorted(row) == list(range(8))
        rows = fastdl.multinomial(fastdl.tensor(weights), 4).tolist()
        assert sorted(rows[0]) == [0, 1, 2, 3] and rows[0][3] == 1 and rows[1][0] == 2


def test_shapes_dtypes_and_gradients_like_torch():
    cases = [(lambda m: m.normal(m.zeros(2, 3, dtype=m.float64), 1.0)),
             (lambda m: m.normal(m.zeros(3, 1), m.ones(2))),
             (lambda m: m.normal(0.0, 1.0, (4, 2))),
             (lambda m: m.normal(1.0, m.ones(3, dtype=m.float64))),
             (lambda m: m.bernoulli(m.zeros(2, 3, dtype=m.float64))),
             (lambda m: m.poisson(m.ones(5))),
             (lambda m: m.randint_like(m.zeros(2, dtype=m.int32), 4)),
             (lambda m: m.multinomial(m.ones(4), 2)),
             (lambda m: m.ones(2, 3).multinomial(3, True)),
             (lambda m: m.ones(3, dtype=m.float64).bernoulli())]
    for case in cases:
        ours, theirs = case(fastdl), case(torch)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(theirs.dtype).replace("torch.", "") == str(ours.dtype)
    mean = fastdl.zeros(3, requires_grad=True)
    std = fastdl.ones(3, requires_grad=True)
    out = fastdl.normal(mean * 1, std * 1)
    assert out.requires_grad
    out.sum().backward()
    assert mean.grad.tolist() == [0.0] * 3 and std.grad.tolist() == [0.0] * 3


def test_errors_like_torch():
    cases = [lambda m: m.bernoulli(m.tensor([1.5])), lambda m: m.poisson(m.tensor([-1.0])),
             lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1),
             lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
             lambda m: m.multinomial(m.tensor([1.0, 1.0]), 3),
             lambda m: m.multinomial(m.ones(2, 2, 2), 1),
             lambda m: m.multinomial(m.ones(2), 0),
             lambda m: m.normal(m.zeros(2), m.tensor([-1.0, 1.0])),
             lambda m: m.zeros(2).geometric_(0), lambda m: m.zeros(2).exponential_(-1),
             lambda m: m.zeros(2).random_(5, 2), lambda m: m.zeros(2).cauchy_(0, -1),
             lambda m: m.zeros(2).log_normal_(1, -1)]
    for case in cases:
        with pytest.raises(RuntimeError):
            case(torch)
        with pytest.raises(RuntimeError):
            case(fastdl)
    with pytest.raises(RuntimeError):
        fastdl.ones(2, requires_grad=True).exponential_()
    with pytest.raises(TypeError):
        fastdl.zeros(2).random_(2.5)
