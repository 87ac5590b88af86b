"""fp32 GEMM vs numpy (OpenBLAS) and torch: same as `fastdl bench gemm` (see its --help)."""
from fastdl.bench.gemm import main

if __name__ == "__main__":
    main()
