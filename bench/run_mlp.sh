#!/usr/bin/env bash
# nnspec vs PyTorch, one training epoch of 784-500-300-10 (ReLU, SGD lr 0.1, batch 128) on
# Debian's python3 (/usr/bin/python3) has python3-torch; another python3 on PATH may not.
# the 60k Fashion-MNIST images, both single-threaded, measured in the same run: the runs
# alternate (nnspec, torch, nnspec, ...) and the medians are compared.
# Usage: bench/run_mlp.sh [ROUNDS]   (default 5; installs Debian's python3-torch if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
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
cmake --build "$root/build" -j2 --target nnspec_bench_train_epoch >/dev/null
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
nn=(); pt=(); compile=()
for round in $(seq 1 "$rounds"); do
  line=$("$root/build/bench/nnspec_bench_train_epoch" "$root/bench/specs/mlp_784_500_300_10.nnspec")
  echo "round $round: $line"
  nn+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
  compile+=("$(sed -E 's/.*compile_ms=([0-9.]+).*/\1/' <<<"$line")")
  line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$root/bench/torch_mlp_epoch.py" 784,500,300,10 128 0.1 "$round")
  echo "round $round: $line"
  pt+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_pt=$(median "${pt[@]}"); m_c=$(median "${compile[@]}")
echo "median samples/s: nnspec $m_nn, pytorch $m_pt (torch $(/usr/bin/python3 -c "import torch; print(torch.__version__)"), 1 thread each)"
echo "ratio nnspec/pytorch: $(awk -v a="$m_nn" -v b="$m_pt" 'BEGIN {printf "%.2f", a/b}')"
echo "nnspec JIT compile time (784-500-300-10 train step): ${m_c} ms (median)"
