"""The `fastdl` command: `fastdl info`, `fastdl bench NAME`, `fastdl demo`."""
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
    demo = sub.add_parser("demo", help="train the MLP on the built-in digits data")
    demo.add_argument("--epochs", type=int, default=None)
    args, rest = parser.parse_known_args(argv)
    if args.command == "info":
        import fastdl
        fastdl.info()
    elif args.command == "bench":
        importlib.import_module(f"fastdl.bench.{args.name}").main(rest)
    elif args.command == "demo":
        from fastdl.models.demo import train_digits_mlp
        train_digits_mlp(**({} if args.epochs is None else {"epochs": args.epochs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
