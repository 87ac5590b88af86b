"""nn.init's deprecated names without the underscore warn like torch's and initialize alike."""
import warnings

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")

CALLS = {"uniform": ((4, 5), (-1.0, 2.0)), "normal": ((4, 5), (1.0, 0.5)),
         "constant": ((4, 5), (0.25,)), "eye": ((3, 5), ()), "dirac": ((4, 2, 3, 3), (2,)),
         "xavier_uniform": ((4, 5), (2.0,)), "xavier_normal": ((4, 5), ()),
         "kaiming_uniform": ((4, 5), (0.1,)), "kaiming_normal": ((6, 5), (0.0, "fan_out")),
         "orthogonal": ((4, 6), (1.5,)), "sparse": ((6, 5), (0.5,))}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_warns_like_torch_and_calls_the_underscore_version(name):
    shape, args = CALLS[name]
    with pytest.warns(FutureWarning) as want:
        getattr(torch.nn.init, name)(torch.empty(shape), *args)
    fastdl.manual_seed(3)
    with pytest.warns(FutureWarning) as got:
        out = getattr(fastdl.nn.init, name)(fastdl.empty(*shape), *args)
    assert [str(w.message) for w in got] == [str(w.message) for w in want]
    assert got[0].filename == __file__  # stacklevel=2: the caller's line, as torch
    fastdl.manual_seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = getattr(fastdl.nn.init, name + "_")(fastdl.empty(*shape), *args)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert getattr(fastdl.nn.init, name).__name__ == getattr(torch.nn.init, name).__name__


def test_deterministic_ones_match_torch_values():
    for name, shape, args in (("constant", (2, 3), (0.5,)), ("eye", (3, 4), ()),
                              ("dirac", (4, 2, 3), (2,))):
        with pytest.warns(FutureWarning):
            want = getattr(torch.nn.init, name)(torch.empty(shape), *args).numpy()
        with pytest.warns(FutureWarning):
            got = getattr(fastdl.nn.init, name)(fastdl.empty(*shape), *args).numpy()
        np.testing.assert_array_equal(got, want)
