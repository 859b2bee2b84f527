#!/usr/bin/env bash
# nnspec vs PyTorch, step by step: for each model, nnspec_bench_train_steps runs the first
# 20 train steps with nnspec (its own initial weights, batch order and dropout masks) and
# writes them out; bench/compare_torch.py replays them in PyTorch (float32, 1 thread) and
# fails when a step's loss differs by more than 1e-4 relative.
# Usage: bench/compare_torch.sh [SPEC SWEEP]...   (default: the q3 MLP, the amath482 CNN
#        and dat565's LeNet-5). BUILD_DIR (default build) is the CMake build to use; the
#        bench target is built there with one job. Installs Debian's python3-torch if missing.
# Not part of ctest: PyTorch is a benchmark-only dependency.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
steps=${STEPS:-20}
packages=()
/usr/bin/python3 -c "import torch, numpy, threadpoolctl" 2>/dev/null || packages+=(python3-torch python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec_bench_train_steps >/dev/null
if [ $# -eq 0 ]; then
  set -- specs/q3_fashion_mlp.nnspec baseline \
         specs/amath482_fashion.nnspec convolutional \
         specs/dat565_mnist.nnspec lenet
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
while [ $# -ge 2 ]; do
  spec=$1 sweep=$2
  shift 2
  out="$work/$(basename "$spec" .nnspec)-$sweep"
  echo "== $spec, sweep $sweep"
  (cd "$root" && "$build/bench/nnspec_bench_train_steps" "$spec" "$sweep" "$out" "$steps") || { status=1; continue; }
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$root/bench/compare_torch.py" "$out" || status=1
  echo
done
exit $status
