"""Benchmarks of fastdl's kernels against peers measured in the same run (`fastdl bench NAME`)."""
