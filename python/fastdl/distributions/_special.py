"""The special functions the distributions use: fastdl's own differentiable ops (fastdl.lgamma,
digamma, polygamma, erf, erfinv) and, for the samplers' and cdfs' plain-array code, the array
functions behind them (one implementation: fastdl/functional/_special_arrays.py)."""
from fastdl.functional._special_arrays import digamma as _digamma_array  # noqa: F401
from fastdl.functional._special_arrays import lgamma as _lgamma_array  # noqa: F401
from fastdl.functional.elementwise_math import (digamma, erf, erfinv, lgamma,  # noqa: F401
                                                polygamma)
