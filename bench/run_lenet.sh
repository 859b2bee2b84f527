#!/usr/bin/env bash
# nnspec vs PyTorch, one training epoch of dat565's LeNet-5 (specs/dat565_mnist.nnspec,
# model lenet5: zero pad 2, conv 6x5 relu, avg pool 2/2, conv 16x5 relu, avg pool 2/2,
# dense 120 relu, dropout 0.5, dense 84 relu, dense 10; L2 1e-4 on the two hidden dense
# kernels; Adam lr 1e-3, batch 128) on the 60k Fashion-MNIST training images, both
# single-threaded, measured in the same run: the runs alternate (nnspec, torch, nnspec,
# ...) and the medians are compared. Each run times the whole epoch (shuffle, batch
# assembly, forward, backward, update); nnspec's JIT compile time is reported apart.
# Usage: bench/run_lenet.sh [ROUNDS]   (default 5; installs Debian's python3-torch if missing)
#        BUILD_DIR (default build) is the CMake build to use; its targets are built with
#        one job. NO_DROPOUT=1 benchmarks both sides without the dropout layer
#        (bench/specs/lenet5_no_dropout.nnspec), as does a build that cannot lower dropout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-5}
# PyTorch as Debian ships it links the reference BLAS unless OpenBLAS is installed, which
# makes it ~20x slower; a fair comparison gives it OpenBLAS (pinned to one thread).
packages=()
/usr/bin/python3 -c "import torch, numpy, threadpoolctl" 2>/dev/null || packages+=(python3-torch python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec_bench_train_epoch nnspec >/dev/null
spec="$root/bench/specs/lenet5.nnspec"
torch_flags=()
if [ "${NO_DROPOUT:-0}" = 1 ] || ! "$build/nnspec" compile "$spec" --emit=ir >/dev/null 2>&1; then
  spec="$root/bench/specs/lenet5_no_dropout.nnspec"
  torch_flags=(--no-dropout)
  echo "note: without the dropout layer on both sides ($(basename "$spec"))"
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores)"
nn=(); pt=(); compile=()
for round in $(seq 1 "$rounds"); do
  line=$("$build/bench/nnspec_bench_train_epoch" "$spec")
  echo "round $round: $line"
  nn+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
  compile+=("$(sed -E 's/.*compile_ms=([0-9.]+).*/\1/' <<<"$line")")
  line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$root/bench/torch_lenet_epoch.py" 128 1e-3 "$round" \
    ${torch_flags[@]+"${torch_flags[@]}"})
  echo "round $round: $line"
  pt+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_pt=$(median "${pt[@]}"); m_c=$(median "${compile[@]}")
echo "median samples/s: nnspec $m_nn, pytorch $m_pt (torch $(/usr/bin/python3 -c "import torch; print(torch.__version__)"), 1 thread each)"
echo "median epoch seconds: nnspec $(awk -v r="$m_nn" 'BEGIN {printf "%.2f", 60000/r}'), pytorch $(awk -v r="$m_pt" 'BEGIN {printf "%.2f", 60000/r}')"
echo "ratio nnspec/pytorch: $(awk -v a="$m_nn" -v b="$m_pt" 'BEGIN {printf "%.2f", a/b}')"
echo "nnspec JIT compile time (LeNet-5 train step, batch 128): ${m_c} ms (median)"
