#!/usr/bin/env bash
# The kernels under AddressSanitizer + UndefinedBehaviorSanitizer: builds fastdl._C and
# fastdl._C_cudaemu with FASTDL_SANITIZE=ON into build/sanitize, next to a copy of the Python
# package, and runs the kernel and emulator tests against them. Any out-of-bounds access, use after
# free or undefined behaviour (misaligned vector loads, overflow, ...) aborts the run.
# Usage: .ci/sanitize.sh [pytest args...]; run from any directory with the venv active.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/sanitize
pkg=$build/pkg
# The tests of every kernel family and of the emulator. The GEMM codegen test reads the release
# build's machine code, which instrumentation changes; tests/test_sanitize.py proves reports work.
tests=(tests/test_gemm.py tests/test_cuda_emu.py tests/test_sanitize.py tests/test_pooling.py
       tests/test_interpolate.py tests/test_cuda_conv_pool.py tests/test_norm_kernels.py
       tests/test_graph_cuda_emu.py tests/test_conv_valid_taps.py
       tests/test_conv_subpixel_winograd.py tests/test_attention_flash.py
       tests/test_attention_cuda_emu.py)

# The build tools that pip's isolated build had (CMakeLists.txt needs CMake >= 3.25).
if ! python - <<'EOF'
import shutil, subprocess, sys
try:
    import nanobind  # noqa: F401
except ImportError:
    sys.exit(1)
if not (shutil.which("ninja") and shutil.which("cmake")):
    sys.exit(1)
version = subprocess.run(["cmake", "--version"], capture_output=True, text=True).stdout.split()[2]
sys.exit(0 if tuple(int(p) for p in version.split(".")[:2]) >= (3, 25) else 1)
EOF
then
  python -m pip install --quiet "nanobind>=2.4" "cmake>=3.25" ninja
fi

start=$SECONDS
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r python/fastdl "$pkg/"
find "$pkg" \( -name '*.so' -o -name __pycache__ \) -prune -exec rm -rf {} +
# RelWithDebInfo: reports name files and lines, and nanobind does not strip the modules.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTDL_SANITIZE=ON \
  -DFASTDL_CUDA=OFF -DFASTDL_OUTPUT_DIR="$PWD/$pkg/fastdl" \
  -DPython_EXECUTABLE="$(command -v python)" >"$build.configure.log" ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "${FASTDL_SANITIZE_JOBS:-$(nproc)}"
echo "== sanitizer build: $((SECONDS - start)) s"

modules=("$pkg"/fastdl/_C.*.so "$pkg"/fastdl/_C_cudaemu.*.so)
for module in "${modules[@]}"; do
  # Instrumented code calls ASan's checks; an uninstrumented module would pass every test silently.
  # (grep without -q: under pipefail, -q's early exit would fail nm with SIGPIPE)
  nm -D --undefined-only "$module" | grep __asan_report_load >/dev/null ||
    { echo "sanitize.sh: $module is not instrumented" >&2; exit 1; }
done
# Python itself is not instrumented: the ASan runtime must be loaded before everything else, and
# libstdc++ with it, or ASan finds no __cxa_throw to intercept and aborts at our first C++ throw.
preload=""
for lib in libasan libstdc++; do
  path=$(ldd "${modules[0]}" | awk -v lib="$lib" 'index($1, lib) == 1 {print $3}')
  [ -f "$path" ] || { echo "sanitize.sh: no $lib among ${modules[0]}'s libraries" >&2; exit 1; }
  preload="$preload${preload:+ }$path"
done

export PYTHONPATH="$PWD/$pkg${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$preload"
# CPython and numpy keep allocations until exit by design: leak reports would be noise.
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1
python -c "import fastdl; assert fastdl.__file__.startswith('$PWD/$pkg'), fastdl.__file__; \
assert fastdl.cuda.emulator().sanitizers, 'not the sanitizer build'"
start=$SECONDS
# --capture=sys: a sanitizer report goes to file descriptor 2 and then the process exits; pytest's
# default capture would swallow it with the process.
python -m pytest -q -p no:cacheprovider --capture=sys "${tests[@]}" "$@"
echo "== sanitizer tests: $((SECONDS - start)) s"
