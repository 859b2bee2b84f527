#!/usr/bin/env bash
# One trial on two threads: an epoch of MLP 784-500-300-10 (SGD, batch 128) and of
# LeNet-5 (Adam, batch 128) on the 60k Fashion-MNIST images, nnspec with its kernels on 1
# and on 2 threads (`--threads`, what a run gives a trial that runs alone), against
# PyTorch's best two-thread configuration, searched here rather than assumed: its
# intra-op pool and OpenBLAS's pool each on 1 or 2 threads (TORCH_THREADS / BLAS_THREADS,
# bench/torch_mlp_epoch.py). Runs alternate; medians are compared.
# Prints per model: nnspec 1 and 2 threads, the speed-up 2/1, each PyTorch configuration,
# and nnspec (2 threads) / PyTorch's best.
# Usage: bench/run_threads.sh [ROUNDS]   (default 3; installs Debian's python3-torch if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-3}
packages=()
/usr/bin/python3 -c "import torch, numpy, threadpoolctl" 2>/dev/null || packages+=(python3-torch python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j2 --target nnspec_bench_train_epoch >/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc) CPUs)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rate() { sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$1"; }
configs=("1 2" "2 1" "2 2")  # TORCH_THREADS BLAS_THREADS

bench_model() {
  local name=$1 spec=$2; shift 2
  local torch_cmd=("$@")
  local one=() two=()
  declare -A pt=()
  for round in $(seq 1 "$rounds"); do
    line=$("$build/bench/nnspec_bench_train_epoch" --threads 1 "$spec"); echo "  round $round nnspec 1 thread:  $line"
    one+=("$(rate "$line")")
    line=$("$build/bench/nnspec_bench_train_epoch" --threads 2 "$spec"); echo "  round $round nnspec 2 threads: $line"
    two+=("$(rate "$line")")
    for config in "${configs[@]}"; do
      read -r torch_threads blas_threads <<<"$config"
      line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$torch_threads" \
        TORCH_THREADS="$torch_threads" BLAS_THREADS="$blas_threads" /usr/bin/python3 "${torch_cmd[@]}" "$round")
      echo "  round $round torch (intra-op $torch_threads, blas $blas_threads): $line"
      pt[$config]="${pt[$config]:-} $(rate "$line")"
    done
  done
  local m1 m2 best=0 best_config=""
  m1=$(median "${one[@]}"); m2=$(median "${two[@]}")
  echo "$name: nnspec median samples/s: 1 thread $m1, 2 threads $m2; speed-up $(awk -v a="$m2" -v b="$m1" 'BEGIN {printf "%.2f", a/b}')x"
  for config in "${configs[@]}"; do
    # shellcheck disable=SC2086
    local m; m=$(median ${pt[$config]})
    read -r torch_threads blas_threads <<<"$config"
    echo "$name: pytorch intra-op $torch_threads, blas $blas_threads: $m samples/s"
    if awk -v a="$m" -v b="$best" 'BEGIN {exit !(a > b)}'; then best=$m; best_config=$config; fi
  done
  read -r torch_threads blas_threads <<<"$best_config"
  echo "$name: ratio nnspec (2 threads) / pytorch's best (intra-op $torch_threads, blas $blas_threads): $(awk -v a="$m2" -v b="$best" 'BEGIN {printf "%.2f", a/b}')"
}

echo "== MLP 784-500-300-10, batch 128"
bench_model "mlp" "$root/bench/specs/mlp_784_500_300_10.nnspec" "$root/bench/torch_mlp_epoch.py" 784,500,300,10 128 0.1
echo "== LeNet-5, batch 128"
bench_model "lenet5" "$root/bench/specs/lenet5.nnspec" "$root/bench/torch_lenet_epoch.py" 128 1e-3
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
