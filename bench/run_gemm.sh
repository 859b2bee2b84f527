#!/usr/bin/env bash
# The train steps' GEMM shapes at every CPU level of the runtime kernels against OpenBLAS
# (one thread) and Eigen for AVX2 + FMA: GFLOP/s, share of the measured FMA peak, ratios.
# Usage: bench/run_gemm.sh [MIN_MS]   (default 40 ms per measurement; needs libopenblas0-pthread)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends libopenblas0-pthread >/dev/null
fi
cmake --build "$root/build" -j2 --target nnspec_bench_gemm_shapes >/dev/null
export OPENBLAS_NUM_THREADS=1
"$root/build/bench/nnspec_bench_gemm_shapes" "$@"
