"""What a new user meets first (issue #9): the `fastdl` command's help and version, a bench
without its extra, `fastdl info`'s CUDA architectures, FASTDL_SIMD typos, percentages of a
measured peak, and help(fastdl)."""
import os
import subprocess
import sys

import pytest

import fastdl
from fastdl import cli


def _fastdl(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fastdl.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_bench_name_help_is_the_bench_help():
    out = _fastdl("bench", "gemm", "-h")
    assert out.returncode == 0
    assert out.stdout.startswith("usage: fastdl bench gemm")
    assert "--dtype" in out.stdout and "--shapes" in out.stdout


def test_version_flag():
    out = _fastdl("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fastdl {fastdl.__version__}"


def test_help_lists_commands():
    out = _fastdl("--help")
    assert out.returncode == 0 and "info" in out.stdout and "bench" in out.stdout
    assert "--version" in out.stdout


def test_bench_without_its_extra_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ModuleNotFoundError
    rc = cli.main(["bench", "gemm", "--shapes", "8x8x8", "--threads", "1", "--repeats", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "threadpoolctl" in err and "fastdl[bench]" in err


def test_info_lists_cuda_architectures():
    d = fastdl.info(print_out=False)
    assert "cuda_architectures" in d
    if d["cuda_built"]:
        assert d["cuda_architectures"] and all(a.isdigit() for a in d["cuda_architectures"])
    else:
        assert d["cuda_architectures"] == []
    assert "cuda_architectures" in _fastdl("info").stdout


def test_bogus_simd_env_warns_with_the_valid_values():
    env = dict(os.environ, FASTDL_SIMD="bogus")
    out = subprocess.run([sys.executable, "-c", "import fastdl; print(fastdl._C.simd_path())"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0
    assert "FASTDL_SIMD='bogus'" in out.stderr
    assert "avx512, avx2, scalar" in out.stderr
    assert out.stdout.strip() == fastdl._C.available_simd_paths()[0]


def test_valid_simd_env_does_not_warn():
    env = dict(os.environ, FASTDL_SIMD="scalar")
    out = subprocess.run([sys.executable, "-W", "error", "-c", "import fastdl"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and "FASTDL_SIMD" not in out.stderr


def test_percent_of_peak_never_exceeds_100_silently(monkeypatch):
    from fastdl.bench import gemm
    assert gemm.percent(50, 100) == "50%"
    assert gemm.percent(140, 100) == "140%*"
    # a peak measured in a busy moment (here: absurdly low) marks the rows and says why
    monkeypatch.setattr(gemm, "peak_gflops", lambda *a, **k: 1e-3)
    monkeypatch.setattr(gemm, "microkernel_gflops", lambda *a, **k: 1e-3)
    out = gemm.run([(16, 16, 16)], [1], 1)
    row = next(line for line in out.splitlines() if line.startswith("| 16x16x16"))
    cells = [c.strip() for c in row.split("|")]
    assert any(c.endswith("%*") for c in cells)
    assert "*: above 100%" in out


def test_help_fastdl_lists_the_public_api():
    for name in ("Tensor", "tensor", "zeros", "randn", "float32", "no_grad", "manual_seed",
                 "matmul", "cat", "save", "load", "nn", "optim", "data", "is_tensor",
                 "Generator", "inference_mode", "einsum", "sort", "topk"):
        assert name in fastdl.__all__, name
    for name in fastdl.__all__:
        assert hasattr(fastdl, name), name


def _own_doc(obj):
    doc = getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def test_every_public_tensor_attribute_has_a_docstring():
    import inspect
    T = fastdl.Tensor
    assert _own_doc(T) and "Tensor" in T.__doc__
    missing = []
    for name in dir(T):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(T, name)
        target = attr.fget if isinstance(attr, property) and not attr.__doc__ else attr
        if isinstance(attr, property):
            ok = _own_doc(attr)
        else:
            ok = _own_doc(target) and target.__doc__ != type(target).__doc__
        if not ok:
            missing.append(name)
    assert not missing, f"Tensor attributes without a docstring: {missing}"


def test_every_nn_class_has_its_own_docstring():
    import inspect
    from fastdl import nn
    missing = [name for name in dir(nn) if inspect.isclass(getattr(nn, name))
               and issubclass(getattr(nn, name), nn.Module)
               and not (vars(getattr(nn, name)).get("__doc__") or "").strip()]
    assert not missing, f"nn classes showing Module's docstring: {missing}"
    assert ">>>" in nn.ReLU.__doc__ and "Shape" in nn.MSELoss.__doc__


def test_every_public_function_has_a_docstring():
    import inspect
    missing = [n for n in fastdl.__all__ if callable(getattr(fastdl, n))
               and not inspect.isclass(getattr(fastdl, n)) and not _own_doc(getattr(fastdl, n))]
    assert not missing, f"fastdl functions without a docstring: {missing}"


def test_help_fastdl_shows_the_api():
    import pydoc
    text = pydoc.render_doc(fastdl, renderer=pydoc.plaintext)
    for name in ("einsum", "randn", "Generator", "is_tensor", "save"):
        assert name in text


def test_docstring_examples_of_the_tables_run():
    import doctest
    from fastdl import _docstrings as D
    docs = dict(D._DOCS)
    docs.update({"Tensor." + k: v for k, v in D._TENSOR.items()})
    docs.update({"nn." + n: D._nn_doc(n) for n in dir(fastdl.nn) if D._nn_doc(n)})
    parser, failed = doctest.DocTestParser(), []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for name, doc in docs.items():
        result = runner.run(parser.get_doctest(doc, {"fastdl": fastdl}, name, None, 0),
                            out=lambda s: None)
        if result.failed:
            failed.append(name)
    assert not failed, f"docstring examples that fail: {failed}"


def _public_docs():
    """{name: its own docstring} for every callable in fastdl.__all__, every public Tensor
    attribute (methods and properties) and every nn Module class (inherited docstrings do not
    count: a class or method without its own shows its base's)."""
    import inspect
    from fastdl import nn

    def own(obj):
        return (vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__) or ""

    docs = {f"fastdl.{n}": own(getattr(fastdl, n)) for n in fastdl.__all__
            if callable(getattr(fastdl, n))}
    T = fastdl.Tensor
    for n in dir(T):
        if n.startswith("_"):
            continue
        attr = inspect.getattr_static(T, n)
        if isinstance(attr, property):
            docs[f"Tensor.{n}"] = attr.__doc__ or ""
        elif callable(getattr(T, n)):
            docs[f"Tensor.{n}"] = own(getattr(T, n))
    for n in dir(nn):
        cls = getattr(nn, n)
        if inspect.isclass(cls) and issubclass(cls, nn.Module):
            docs[f"nn.{n}"] = own(cls)
    return docs


def test_every_public_name_has_an_example():
    # issue #9: every public name gets a docstring with its shapes and a short example
    docs = _public_docs()
    assert sum(k.startswith("fastdl.") for k in docs) >= 170
    assert sum(k.startswith("Tensor.") for k in docs) >= 170
    assert sum(k.startswith("nn.") for k in docs) >= 95
    missing = sorted(k for k, doc in docs.items() if ">>>" not in doc)
    assert not missing, f"public names without a >>> example: {missing}"


def test_every_public_docstring_example_runs():
    # the examples of every public function, Tensor attribute and nn class, wherever they are
    # defined (next to the code or in fastdl._docstrings), run and print what they say
    import doctest
    import inspect
    parser, failed, seen = doctest.DocTestParser(), [], set()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0

    def global_state():  # what an example may change but must put back
        return (fastdl.get_default_dtype(), fastdl.is_grad_enabled(), fastdl.get_num_threads(),
                repr(fastdl.tensor([1 / 3, 1e-9])))

    before = global_state()
    for name, doc in _public_docs().items():
        if ">>>" not in doc or doc in seen:  # aliases (clip, seed, Tensor.clamp ...) run once
            continue
        seen.add(doc)
        report = []
        test = parser.get_doctest(inspect.cleandoc(doc), {"fastdl": fastdl}, name, None, 0)
        result = runner.run(test, out=report.append)
        ran += result.attempted
        if result.failed:
            failed.append(f"{name}:\n{''.join(report)[-1500:]}")
        if global_state() != before:
            failed.append(f"{name}: leaves the global state changed: {global_state()}")
            fastdl.set_default_dtype(before[0])
            fastdl.set_grad_enabled(before[1])
            fastdl.set_num_threads(before[2])
            fastdl.set_printoptions(profile="default")
    assert ran > 500
    assert not failed, "docstring examples that fail:\n" + "\n".join(failed)


def test_openmp_spin_count_is_set_while_c_loads_and_not_inherited():
    # libgomp reads GOMP_SPINCOUNT once, when fastdl._C loads it: set then, removed after (so
    # child processes do not inherit it); a user's setting (or FASTDL_SPIN=default) wins.
    code = ("import os, fastdl._omp_env as e\n"
            "with e.spin_env():\n    inside = os.environ.get('GOMP_SPINCOUNT')\n"
            "print(inside, os.environ.get('GOMP_SPINCOUNT'))")
    run = lambda env: subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True, env=env, check=True).stdout.split()
    base = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "FASTDL_SPIN")}
    from fastdl._omp_env import SPIN_COUNT
    assert run(base) == [str(SPIN_COUNT), "None"]
    assert run(dict(base, GOMP_SPINCOUNT="1000")) == ["1000", "1000"]
    assert run(dict(base, OMP_WAIT_POLICY="passive")) == ["None", "None"]
    assert run(dict(base, FASTDL_SPIN="default")) == ["None", "None"]
    out = subprocess.run([sys.executable, "-c", "import os, fastdl; "
                          "print('GOMP_SPINCOUNT' in os.environ)"], capture_output=True,
                         text=True, env=base, check=True).stdout.strip()
    assert out == "False"


def test_openmp_workers_keep_spinning_after_a_parallel_call():
    # After a 2-thread product the worker spins instead of sleeping at once: it burns CPU time
    # during a following idle pause (libgomp's own default: ~4 ms of spinning, then a sleep).
    code = ("import time, numpy as np, fastdl\n"
            "fastdl.set_num_threads(2)\n"
            "a = np.ones((256, 256), np.float32); c = np.empty_like(a)\n"
            "burnt = []\n"
            "for _ in range(3):\n"
            "    fastdl.ops.gemm(a, a, c); t0 = time.process_time(); time.sleep(0.5)\n"
            "    burnt.append(time.process_time() - t0)\n"
            "print(sorted(burnt)[1])")
    if (os.cpu_count() or 1) < 2:  # the child sets 2 threads itself, whatever this process uses
        pytest.skip("needs 2 CPUs")
    base = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "FASTDL_SPIN",
                         "FASTDL_NUM_THREADS", "OMP_NUM_THREADS")}
    spin = lambda env: float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                            text=True, env=env, check=True,
                                            timeout=120).stdout)
    default, ours = spin(dict(base, FASTDL_SPIN="default")), spin(base)
    assert ours > default + 0.005, (default, ours)
