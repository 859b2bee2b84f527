#!/usr/bin/env bash
# nnspec vs PyTorch, one training epoch of the small MLP 784-64-64-10 (ReLU, SGD lr 0.1,
# batch 128; bench/specs/mlp_784_64_64_10.nnspec) on the 60k Fashion-MNIST images, both
# single-threaded, measured in the same run: the runs alternate (nnspec, torch, nnspec,
# ...) and the medians are compared. Each run times the whole epoch (shuffle, batch
# assembly, forward, backward, update); nnspec's JIT compile time is reported apart.
# Prints the median samples/s of both, their ratio, and each one's effective GFLOP/s
# (bench/flops.py's count: 0.229 MFLOP a sample) against the machine's FMA peak,
# measured before and after the rounds (nnspec_bench_gemm_shapes --peak; the better one).
# Usage: bench/run_mlp_small.sh [ROUNDS]   (default 5; installs Debian's python3-torch if missing)
#        BUILD_DIR (default build) is the CMake build to use; its targets are built with one job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-5}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS=$rounds is not a positive integer (e.g. bench/run_mlp_small.sh 5)" >&2; exit 2; }
widths=784,64,64,10
# PyTorch as Debian ships it links the reference BLAS unless OpenBLAS is installed, which
# makes it ~20x slower; a fair comparison gives it OpenBLAS (pinned to one thread).
packages=()
/usr/bin/python3 -c "import torch, numpy, threadpoolctl" 2>/dev/null || packages+=(python3-torch python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec_bench_train_epoch nnspec_bench_gemm_shapes >/dev/null
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
peak() { "$build/bench/nnspec_bench_gemm_shapes" --peak | sed -E 's/.*avx512 ([0-9.]+).*avx2 ([0-9.]+).*/\1 \2/' | awk '{print ($1 > $2) ? $1 : $2}'; }
peak_before=$(peak)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores); FMA peak ${peak_before} GFLOP/s"
nn=(); pt=(); compile=(); jit=()
for round in $(seq 1 "$rounds"); do
  line=$("$build/bench/nnspec_bench_train_epoch" "$root/bench/specs/mlp_784_64_64_10.nnspec")
  echo "round $round: $line"
  nn+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
  compile+=("$(sed -E 's/.*compile_ms=([0-9.]+).*/\1/' <<<"$line")")
  jit+=("$(sed -E 's/.*jit=([a-z]+).*/\1/' <<<"$line")")
  line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$root/bench/torch_mlp_epoch.py" "$widths" 128 0.1 "$round")
  echo "round $round: $line"
  pt+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
done
peak_after=$(peak)
peak=$(awk -v a="$peak_before" -v b="$peak_after" 'BEGIN {print (a > b) ? a : b}')
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); FMA peak ${peak_after} GFLOP/s"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_pt=$(median "${pt[@]}"); m_c=$(median "${compile[@]}")
echo "median samples/s: nnspec $m_nn, pytorch $m_pt (torch $(/usr/bin/python3 -c "import torch; print(torch.__version__)"), 1 thread each)"
echo "median epoch seconds: nnspec $(awk -v r="$m_nn" 'BEGIN {printf "%.3f", 60000/r}'), pytorch $(awk -v r="$m_pt" 'BEGIN {printf "%.3f", 60000/r}')"
echo "ratio nnspec/pytorch: $(awk -v a="$m_nn" -v b="$m_pt" 'BEGIN {printf "%.2f", a/b}')"
/usr/bin/python3 "$root/bench/flops.py" mlp "$widths" --peak "$peak" --samples-per-s "$m_nn" --label nnspec \
  --samples-per-s "$m_pt" --label pytorch
loaded=$(printf '%s\n' "${jit[@]}" | grep -c '^loaded$' || true)
echo "nnspec JIT compile time (784-64-64-10 train step): ${m_c} ms (median; $loaded of $rounds runs loaded the step from the compile cache)"
