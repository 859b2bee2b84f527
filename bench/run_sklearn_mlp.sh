#!/usr/bin/env bash
# nnspec vs scikit-learn's MLPClassifier((50,), batch_size=50), per epoch, on the 60k
# Fashion-MNIST images, both single-threaded, measured in the same run: the runs
# alternate (nnspec, sklearn, nnspec, ...), each runs EPOCHS epochs and reports its median
# epoch, and the medians of the rounds are compared.
# The configuration both run identically is MLPClassifier's default one: 784-50-10 ReLU,
# softmax cross-entropy, Adam lr 1e-3 (betas 0.9, 0.999, eps 1e-8), alpha 1e-4 (an L2 of
# alpha / (2 * batch) on the kernels: bench/specs/mlp_784_50_10.nnspec, train block b50),
# batch 50, reshuffled every epoch. What still differs: sklearn adds epsilon to sqrt(v)
# before its bias correction (PyTorch's Adam, which nnspec follows, after it), it draws
# the biases at initialization where nnspec starts them at zero, and the random streams.
# sklearn's epoch is one partial_fit call (it keeps Adam's state between calls) with
# its input validation timed apart and subtracted (bench/sklearn_mlp_epoch.py says how);
# nnspec's is runTrial's epoch (shuffle, batch assembly, step, update), JIT compile apart.
# Prints the median samples/s of both, their ratio, and each one's effective GFLOP/s
# (bench/flops.py's count: 0.160 MFLOP a sample) against the machine's FMA peak,
# measured before and after the rounds (nnspec_bench_gemm_shapes --peak; the better one).
# Usage: bench/run_sklearn_mlp.sh [ROUNDS]   (default 5; installs Debian's python3-sklearn if missing)
#        EPOCHS=N (default 3) epochs per run on both sides; BUILD_DIR (default build) is
#        the CMake build to use; its targets are built with one job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-5}
epochs=${EPOCHS:-3}
for setting in "ROUNDS=$rounds" "EPOCHS=$epochs"; do
  [[ "${setting#*=}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $setting is not a positive integer (e.g. ${setting%%=*}=3)" >&2; exit 2; }
done
widths=784,50,10
# numpy as Debian ships it links the reference BLAS unless OpenBLAS is installed; a fair
# comparison gives scikit-learn OpenBLAS (pinned to one thread).
packages=()
/usr/bin/python3 -c "import sklearn, numpy, threadpoolctl" 2>/dev/null || packages+=(python3-sklearn python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec_bench_train_epoch nnspec_bench_gemm_shapes >/dev/null
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
peak() { "$build/bench/nnspec_bench_gemm_shapes" --peak | sed -E 's/.*avx512 ([0-9.]+).*avx2 ([0-9.]+).*/\1 \2/' | awk '{print ($1 > $2) ? $1 : $2}'; }
peak_before=$(peak)
echo "784-50-10, batch 50, Adam lr 1e-3, alpha 1e-4; $epochs epochs a run, median epoch"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores); FMA peak ${peak_before} GFLOP/s"
nn=(); sk=()
for round in $(seq 1 "$rounds"); do
  line=$("$build/bench/nnspec_bench_train_epoch" --epochs "$epochs" "$root/bench/specs/mlp_784_50_10.nnspec" b50)
  echo "round $round: $line"
  nn+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
  line=$(/usr/bin/python3 "$root/bench/sklearn_mlp_epoch.py" --hidden 50 --batch 50 --epochs "$epochs" --seed "$round")
  echo "round $round: $line"
  sk+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
done
peak_after=$(peak)
peak=$(awk -v a="$peak_before" -v b="$peak_after" 'BEGIN {print (a > b) ? a : b}')
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); FMA peak ${peak_after} GFLOP/s"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_sk=$(median "${sk[@]}")
echo "median samples/s: nnspec $m_nn, sklearn $m_sk (scikit-learn $(/usr/bin/python3 -c "import sklearn; print(sklearn.__version__)"), 1 thread each)"
echo "median epoch seconds: nnspec $(awk -v r="$m_nn" 'BEGIN {printf "%.3f", 60000/r}'), sklearn $(awk -v r="$m_sk" 'BEGIN {printf "%.3f", 60000/r}')"
echo "ratio nnspec/sklearn: $(awk -v a="$m_nn" -v b="$m_sk" 'BEGIN {printf "%.2f", a/b}')"
/usr/bin/python3 "$root/bench/flops.py" mlp "$widths" --peak "$peak" --samples-per-s "$m_nn" --label nnspec \
  --samples-per-s "$m_sk" --label sklearn
