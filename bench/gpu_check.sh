#!/usr/bin/env bash
# The GPU check, for a session lent a GPU machine (README: "Checking the CUDA kernels on a GPU").
# In one run of under 8 minutes: builds and installs fastdl with CUDA for that GPU only, runs every
# CUDA test on it (cupy arrays vs the CPU kernels and the emulator; attention included), and
# times each CUDA kernel against the vendor library through PyTorch (`fastdl bench cuda`: GEMM
# vs cuBLAS, conv/pool/LSTM/GRU vs cuDNN, attention vs torch's fp32 SDPA and FlashAttention-2 in
# fp16). Everything it finds goes to $OUT (default build/gpu_check), which the device tool brings
# back: gpu_check.md (the summary), bench_cuda.md/.json, cuda_tests.xml and the logs.
#
# The GPU machine reaches no package registry: it builds with what is installed there
# (--no-build-isolation). If it lacks pytest, carry one: `pip install --target build/gpu_pydeps
# pytest` here, then run with carry=["build/gpu_pydeps"].
#
# Exit status: 0 all passed; 1 a step failed (see gpu_check.md); 2 no usable GPU (nothing checked).
# FASTDL_CUDA_ARCHS overrides the architecture (default 90, the H200's sm_90).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
OUT=${OUT:-$root/build/gpu_check}
mkdir -p "$OUT"
summary=$OUT/gpu_check.md
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
fail() { note "FAILED: $*"; exit 1; }
started=$SECONDS
elapsed() { echo "$((SECONDS - started)) s"; }

note "# fastdl GPU check"
note ""
note "$(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo "no git") on $(hostname)"

# No GPU: say so before spending minutes on a build.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  note "SKIPPED: no NVIDIA GPU here (nvidia-smi is missing or lists no device): nothing was built or checked."
  exit 2
fi
note "$(nvidia-smi -L)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv >>"$summary" 2>&1

# The machine's Python may answer only to python3 (the steps below call `python`).
if ! command -v python >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
  shim=$(mktemp -d) && ln -s "$(command -v python3)" "$shim/python" && export PATH="$shim:$PATH"
fi
if [ -d build/gpu_pydeps ]; then
  export PYTHONPATH="$root/build/gpu_pydeps${PYTHONPATH:+:$PYTHONPATH}"
fi
missing=$(python - <<'EOF'
import importlib
missing = []
for name in ("numpy", "cupy", "torch", "nanobind", "scikit_build_core", "pytest"):
    try:
        importlib.import_module(name)
    except Exception as e:
        missing.append(f"{name} ({type(e).__name__}: {e})")
try:
    import torch
    if not torch.cuda.is_available():
        missing.append(f"a CUDA build of torch (torch {torch.__version__} sees no GPU)")
except Exception:
    pass
print("; ".join(missing))
EOF
)
case $missing in *pytest*) missing="$missing -- for pytest: pip install --target build/gpu_pydeps pytest where a registry is reachable, and carry build/gpu_pydeps" ;; esac
[ -z "$missing" ] || fail "missing on this machine: $missing"
command -v nvcc >/dev/null || fail "nvcc is not on PATH"
note "nvcc: $(nvcc --version | tail -1)"

# 1. Build and install (the CPU modules too: the tests compare against them).
note ""
note "## Build ($(elapsed))"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
if ! timeout 300 python -m pip install --no-build-isolation --no-deps --no-index \
    -C cmake.define.FASTDL_CUDA=ON -C cmake.define.FASTDL_CUDA_ARCHS="${FASTDL_CUDA_ARCHS:-90}" \
    -C build-dir=build/gpu . >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log" >>"$summary"
  fail "build (log: build.log)"
fi
# From outside the checkout, so the installed package is the one imported.
(cd / && python -c "import fastdl; fastdl.info()") >>"$summary" 2>&1 || fail "import fastdl"
(cd / && python -c "import fastdl, sys; sys.exit(0 if fastdl.cuda.is_available() else 1)") ||
  fail "fastdl.cuda.is_available() is False on a GPU machine"
note "built and installed ($(elapsed))"

# 2. Every CUDA test, on the device. A skip here means a test did not run where it must.
note ""
note "## CUDA tests ($(elapsed))"
timeout 240 python -m pytest -q -rs -p no:cacheprovider --junitxml="$OUT/cuda_tests.xml" \
  tests/test_cuda_build.py tests/test_cuda_device.py tests/test_cuda_conv_pool_device.py \
  tests/test_rnn_cuda_device.py \
  tests/test_attention_cuda_device.py \
  >"$OUT/cuda_tests.log" 2>&1
tests_status=$?
tail -15 "$OUT/cuda_tests.log" >>"$summary"
skipped=$(python -c "import sys, xml.etree.ElementTree as E
print(sum(int(s.get('skipped', 0)) for s in E.parse(sys.argv[1]).getroot().iter('testsuite')))" \
  "$OUT/cuda_tests.xml" 2>/dev/null || echo "?")
[ "$tests_status" -eq 0 ] || note "FAILED: CUDA tests (status $tests_status, log: cuda_tests.log)"
[ "$skipped" = 0 ] || note "FAILED: $skipped CUDA tests skipped on a GPU machine"

# 3. Timings against the vendor libraries (validated first, inside the harness).
note ""
note "## Benchmark ($(elapsed))"
timeout 240 python -m fastdl.cli bench cuda --out "$OUT/bench_cuda" >"$OUT/bench_cuda.log" 2>&1
bench_status=$?
if [ -f "$OUT/bench_cuda.md" ]; then cat "$OUT/bench_cuda.md" >>"$summary"; fi
[ "$bench_status" -eq 0 ] || { tail -20 "$OUT/bench_cuda.log" >>"$summary"; note "FAILED: benchmark (status $bench_status, log: bench_cuda.log)"; }

note ""
if [ "$tests_status" -eq 0 ] && [ "$skipped" = 0 ] && [ "$bench_status" -eq 0 ]; then
  note "PASSED in $(elapsed)"
  exit 0
fi
note "FAILED in $(elapsed)"
exit 1
