"""The examples in the docstrings of the nn layer classes run and print what they say."""
import doctest
import importlib
import pkgutil

import pytest

import fastdl
import fastdl.nn.modules

MODULES = [info.name for info in pkgutil.iter_modules(fastdl.nn.modules.__path__,
                                                      "fastdl.nn.modules.")]


@pytest.mark.parametrize("name", MODULES)
def test_nn_module_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
