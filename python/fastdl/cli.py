"""The `fastdl` command: `fastdl info`, `fastdl bench NAME`."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def _bench_names():
    import fastdl.bench
    return sorted(m.name for m in pkgutil.iter_modules(fastdl.bench.__path__)
                  if m.name not in ("common",) and not m.name.startswith("_"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="fastdl")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, compiler, SIMD path, threads, CUDA")
    bench = sub.add_parser("bench", help="benchmark kernels against peers (run `fastdl bench NAME -h`)")
    bench.add_argument("name", choices=_bench_names())
    args, rest = parser.parse_known_args(argv)
    if args.command == "info":
        import fastdl
        fastdl.info()
    elif args.command == "bench":
        importlib.import_module(f"fastdl.bench.{args.name}").main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
