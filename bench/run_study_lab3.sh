#!/usr/bin/env bash
# lab3's architecture study, whole, against scikit-learn in the same run: the `arch` sweep
# of specs/lab3_fashion_mlp.nnspec -- hidden layers (10), (25), (50), (25,10), (50,25,10)
# x 5 folds = 25 trials on 10,000 training images, SGD lr 0.1 with Nesterov momentum 0.9,
# batch 200, L2, at most 250 epochs with early stopping on the training loss -- run as
#   nnspec run SPEC --sweep arch --jobs JOBS --store <fresh store> --quiet --no-report
# against GridSearchCV(MLPClassifier(the same), cv=KFold(5), n_jobs=JOBS, refit=False) on the
# very same 10,000 images (bench/sklearn_lab3_arch.py reproduces nnspec's shuffle; its
# docstring lists what differs between the two libraries). The tools alternate
# (nnspec, sklearn, nnspec, ...); each wall time is the whole process (start-up, data,
# for nnspec also JIT compiling and the store), then the medians, the ratio, and the best
# architecture with its mean CV accuracy as each tool found it.
# Usage: bench/run_study_lab3.sh [ROUNDS]   (default 2; installs Debian's python3-sklearn if missing)
#   JOBS=N         parallel trials on each side (default 2)
#   MAX_EPOCHS=N   the epoch cap on both sides (default: the spec's 250); MAX_EPOCHS=5
#                  gives a CI-sized run of the same 25 trials
#   BUILD_DIR      the CMake build to use (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-2}
jobs=${JOBS:-2}
epochs=${MAX_EPOCHS:-250}
spec=$root/specs/lab3_fashion_mlp.nnspec
for setting in "ROUNDS=$rounds" "JOBS=$jobs" "MAX_EPOCHS=$epochs"; do
  [[ "${setting#*=}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $setting is not a positive integer (e.g. ${setting%%=*}=2)" >&2; exit 2; }
done
packages=()
/usr/bin/python3 -c "import sklearn, numpy" 2>/dev/null || packages+=(python3-sklearn python3-numpy)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec >/dev/null
# One thread per job on both sides (joblib's workers inherit these).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d /tmp/nnspec_bench_lab3.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
set_epochs=()
[ "$epochs" = 250 ] || set_epochs=(--set "epochs=$epochs")  # the spec's stop rule stays
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
echo "lab3 arch: 5 architectures x 5 folds, 10,000 images, at most $epochs epochs; $jobs jobs each side"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores)"
nn=(); sk=()
for round in $(seq 1 "$rounds"); do
  rm -f "$tmp"/lab3.sqlite*
  start=$(date +%s.%N)
  "$build/nnspec" run "$spec" --sweep arch --jobs "$jobs" --store "$tmp/lab3.sqlite" --quiet --no-report \
    ${set_epochs[@]+"${set_epochs[@]}"} >"$tmp/nnspec.out" 2>&1 ||
    { echo "error: nnspec run failed:" >&2; cat "$tmp/nnspec.out" >&2; exit 1; }
  seconds=$(seconds_since "$start")
  best=$("$build/nnspec" export "$tmp/lab3.sqlite" --format json | /usr/bin/python3 "$root/bench/nnspec_study_best.py" arch)
  echo "round $round: nnspec wall=${seconds}s $best"
  nn+=("$seconds")
  start=$(date +%s.%N)
  line=$(cd "$root/bench" && PYTHONWARNINGS=ignore /usr/bin/python3 sklearn_lab3_arch.py --epochs "$epochs" --jobs "$jobs")
  seconds=$(seconds_since "$start")
  echo "round $round: sklearn wall=${seconds}s $line"
  sk+=("$seconds")
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_sk=$(median "${sk[@]}")
echo "median wall seconds: nnspec $m_nn, sklearn $m_sk (scikit-learn $(/usr/bin/python3 -c "import sklearn; print(sklearn.__version__)"), $jobs jobs each)"
echo "ratio sklearn/nnspec: $(awk -v a="$m_sk" -v b="$m_nn" 'BEGIN {printf "%.2f", a/b}')"
