#!/usr/bin/env bash
# nnspec vs PyTorch, one training epoch of amath482's CNN (specs/amath482_fashion.nnspec,
# model cnn; bench/specs/amath482_cnn.nnspec: conv 10x5 same elu, max pool 4/2, conv 32x5
# same elu, max pool 4/2, conv 120x5 elu, dense 64 elu, dense 10; L2 1e-4 on the two dense
# kernels; Adam lr 1e-3, batch 32) on the 60k Fashion-MNIST training images, both
# single-threaded, measured in the same run: the runs alternate (nnspec, torch, nnspec,
# ...) and the medians are compared. Each run times the whole epoch (shuffle, batch
# assembly, forward, backward, update); nnspec's JIT compile time is reported apart.
# The effective GFLOP/s of each count the convolutions' and dense layers' multiply-adds
# of forward, weight and input gradients (bench/flops.py, 9.52 MFLOP a sample), against
# an FMA peak of PEAK (default 220) GFLOP/s for the one core.
# Usage: bench/run_cnn.sh [ROUNDS]   (default 3; installs Debian's python3-torch if missing)
#        BUILD_DIR (default build) is the CMake build to use; its targets are built with
#        one job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-3}
peak=${PEAK:-220}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS '$rounds' is not a positive integer (usage: bench/run_cnn.sh [ROUNDS])" >&2; exit 2; }
[[ "$peak" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "error: PEAK '$peak' is not a number of GFLOP/s (e.g. PEAK=220)" >&2; exit 2; }
# PyTorch as Debian ships it links the reference BLAS unless OpenBLAS is installed, which
# makes it ~20x slower; a fair comparison gives it OpenBLAS (pinned to one thread).
packages=()
/usr/bin/python3 -c "import torch, numpy, threadpoolctl" 2>/dev/null || packages+=(python3-torch python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec_bench_train_epoch >/dev/null
spec="$root/bench/specs/amath482_cnn.nnspec"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
flops=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$root/bench'); import flops; \
print(flops.cnn_flops(flops.PRESETS['amath482_cnn'].split(','))[0])")
echo "training FLOPs a sample (multiply-adds x 2; forward, weight and input gradients): $flops"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores)"
nn=(); pt=(); compile=()
for round in $(seq 1 "$rounds"); do
  line=$("$build/bench/nnspec_bench_train_epoch" "$spec")
  echo "round $round: $line"
  nn+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
  compile+=("$(sed -E 's/.*compile_ms=([0-9.]+).*/\1/' <<<"$line")")
  line=$(cd "$root/bench" && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 torch_cnn_epoch.py 32 1e-3 "$round")
  echo "round $round: $line"
  pt+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_pt=$(median "${pt[@]}"); m_c=$(median "${compile[@]}")
gf() { awk -v r="$1" -v f="$flops" -v p="$peak" 'BEGIN {printf "%.1f GFLOP/s (%.1f%% of %s)", r*f/1e9, 100*r*f/1e9/p, p}'; }
echo "median samples/s: nnspec $m_nn, pytorch $m_pt (torch $(/usr/bin/python3 -c "import torch; print(torch.__version__)"), 1 thread each)"
echo "median epoch seconds: nnspec $(awk -v r="$m_nn" 'BEGIN {printf "%.2f", 60000/r}'), pytorch $(awk -v r="$m_pt" 'BEGIN {printf "%.2f", 60000/r}')"
echo "effective: nnspec $(gf "$m_nn"), pytorch $(gf "$m_pt")"
echo "ratio nnspec/pytorch: $(awk -v a="$m_nn" -v b="$m_pt" 'BEGIN {printf "%.2f", a/b}')"
echo "nnspec JIT compile time (amath482 CNN train step, batch 32): ${m_c} ms (median)"
