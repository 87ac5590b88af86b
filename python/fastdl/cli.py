"""The `fastdl` command: `fastdl info`, `fastdl bench NAME`, `fastdl --version`."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

# Modules a bench needs beyond fastdl's own dependencies, and the extra that installs them.
_BENCH_EXTRA_MODULES = {"threadpoolctl": "bench", "torch": "bench", "cupy": "cuda",
                        "torch_geometric": "bench"}


def _bench_names():
    import fastdl.bench
    return sorted(m.name for m in pkgutil.iter_modules(fastdl.bench.__path__)
                  if m.name not in ("common",) and not m.name.startswith("_"))


def _version():
    from fastdl import _C
    return _C.__version__


def _run_bench(name, rest):
    """`fastdl bench NAME ARGS...`: the bench module parses its own arguments (so `-h` shows its
    options); a missing optional dependency names the extra that installs it."""
    try:
        module = importlib.import_module(f"fastdl.bench.{name}")
        result = module.main(rest)
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if top not in _BENCH_EXTRA_MODULES:
            raise
        extra = _BENCH_EXTRA_MODULES[top]
        print(f"fastdl bench {name}: needs the Python package '{top}', which is not installed; "
              f"install the '{extra}' extra: pip install 'fastdl[{extra}]' "
              f"(from a source tree: pip install '.[{extra}]')", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="fastdl", description="fastdl: deep learning on "
                                     "hand-written C++ and CUDA kernels.")
    parser.add_argument("--version", action="version", version=f"fastdl {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, compiler, SIMD path, threads, CUDA (architectures "
                                "built, GPUs)")
    names = _bench_names()
    bench = sub.add_parser("bench", help="benchmark kernels against peers (run "
                                         "`fastdl bench NAME -h` for a bench's options)")
    bench.add_argument("name", choices=names)
    # `fastdl bench NAME ...`: everything after NAME (-h included) belongs to the bench.
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] in names:
        return _run_bench(argv[1], argv[2:])
    args = parser.parse_args(argv)
    if args.command == "info":
        import fastdl
        fastdl.info()
        return 0
    return _run_bench(args.name, [])


if __name__ == "__main__":
    sys.exit(main())
