"""The examples in the docstrings of the nn layer classes, of fastdl.masked's functions and of
the optimizers and schedules run and print what they say."""
import doctest
import importlib
import pkgutil

import pytest

import fastdl
import fastdl.nn.modules
import fastdl.optim.lr_scheduler

MODULES = [info.name for info in pkgutil.iter_modules(fastdl.nn.modules.__path__,
                                                      "fastdl.nn.modules.")]
# fastdl.masked's functions are not in fastdl.__all__, whose examples test_first_contact runs
MODULES += [info.name for info in pkgutil.iter_modules(fastdl.masked.__path__, "fastdl.masked.")]
# fastdl.optim's classes are not in fastdl.__all__ either
for package in (fastdl.optim, fastdl.optim.lr_scheduler):
    MODULES += [info.name for info in pkgutil.iter_modules(package.__path__,
                                                          package.__name__ + ".")]

# torch.utils.checkpoint's and torch.nn.attention's counterparts are not in fastdl.__all__
MODULES += ["fastdl.utils.checkpoint", "fastdl.utils.hooks", "fastdl.nn.attention", "fastdl.nn.attention.bias"]


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
