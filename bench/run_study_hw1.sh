#!/usr/bin/env bash
# hw1's regression study, whole, against Optuna + PyTorch in the same run: the
# `curve_study` sweep of specs/hw1_optuna.nnspec -- a TPE search of 100 points over depth
# 1-3, widths 128-256, batch 4-50, epochs 100-1000, lr, weight decay, momentum and the
# optimizer (adam, sgd, rmsprop) of a 1 -> ... -> 1 ReLU regressor, each point trained on
# 5 folds of the 100 training points, the median pruner (startup 5, warmup 10) on the first
# fold, then the best point's folds averaged (ensemble mean) and the best point refit on
# all training data -- run as
#   nnspec run SPEC --sweep curve_study --jobs JOBS --store <fresh store> --quiet --no-report
# against bench/optuna_hw1_curve.py: Optuna 3's TPESampler(seed=1) + MedianPruner(5, 10) over
# the same space, folds, data and epochs, in one process with study.optimize(n_jobs=JOBS)
# (threads sharing the GIL; its docstring lists what else differs). The tools alternate
# (nnspec, optuna, ...); each wall time is the whole process. Prints the wall times, the
# medians, the ratio optuna/nnspec and the best value (mean validation MSE over the 5
# folds) each found. TPE's draws differ between the two (different random streams), so
# the two studies train different points and prune different numbers of them: besides the
# whole study's time, each side's seconds per 1,000 epochs trained (all folds, pruned
# trials' epochs and the refit; an epoch's cost varies with its point's batch and widths,
# alike on average over the same space) gives a ratio of the work done.
# Usage: bench/run_study_hw1.sh [ROUNDS]   (default 1; installs Debian's python3-optuna and
#                                         python3-torch if missing)
#   JOBS=N     parallel trials on each side (default 2)
#   TRIALS=N   TPE points on both sides (default: the spec's 100); TRIALS=6 is CI-sized (a few minutes).
#              Other than 100, nnspec runs a copy of the spec with `trials N`.
#   BUILD_DIR  the CMake build to use (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-1}
jobs=${JOBS:-2}
trials=${TRIALS:-100}
for setting in "ROUNDS=$rounds" "JOBS=$jobs" "TRIALS=$trials"; do
  [[ "${setting#*=}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $setting is not a positive integer (e.g. ${setting%%=*}=2)" >&2; exit 2; }
done
packages=()
/usr/bin/python3 -c "import optuna, torch, numpy, threadpoolctl" 2>/dev/null ||
  packages+=(python3-optuna python3-torch python3-numpy python3-threadpoolctl)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed" || packages+=(libopenblas0-pthread)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec >/dev/null
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d /tmp/nnspec_bench_hw1.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
spec=$root/specs/hw1_optuna.nnspec
if [ "$trials" != 100 ]; then
  # The same spec with fewer trials; its CSV paths made absolute for the copy.
  grep -q 'using fit_curve trials 100 ' "$spec" ||
    { echo "error: $spec no longer reads 'using fit_curve trials 100'; update bench/run_study_hw1.sh" >&2; exit 2; }
  sed -e "s|using fit_curve trials 100 |using fit_curve trials $trials |" \
      -e "s|\"data/hw1_|\"$root/specs/data/hw1_|g" "$spec" >"$tmp/hw1_optuna.nnspec"
  spec=$tmp/hw1_optuna.nnspec
fi
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
echo "hw1 curve_study: TPE, $trials points x 5 folds, median pruning; $jobs jobs each side"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores)"
nn=(); op=(); nn_rate=(); op_rate=()
per_k() { awk -v s="$1" -v e="$2" 'BEGIN {printf "%.3f", 1000 * s / e}'; }
for round in $(seq 1 "$rounds"); do
  rm -f "$tmp"/hw1.sqlite*
  start=$(date +%s.%N)
  "$build/nnspec" run "$spec" --sweep curve_study --jobs "$jobs" --store "$tmp/hw1.sqlite" --quiet --no-report \
    >"$tmp/nnspec.out" 2>&1 || { echo "error: nnspec run failed:" >&2; cat "$tmp/nnspec.out" >&2; exit 1; }
  seconds=$(seconds_since "$start")
  best=$("$build/nnspec" export "$tmp/hw1.sqlite" --format json | /usr/bin/python3 "$root/bench/nnspec_study_best.py" curve_study)
  echo "round $round: nnspec wall=${seconds}s ${best%% scores=*}"
  # The ensemble's and the refit's test scores, the point they name cut out.
  grep -E "^sweep curve_study: " "$tmp/nnspec.out" | sed -E -e "s/^sweep curve_study: /round $round: nnspec /" \
    -e 's/(mean of the [0-9]+ models) of .*: (test[.])/\1 of the best point: \2/' -e 's/best point .* refit on/best point refit on/' || true
  nn+=("$seconds")
  nn_rate+=("$(per_k "$seconds" "$(sed -E 's/.* epochs=([0-9]+) scores=.*/\1/' <<<"$best")")")
  start=$(date +%s.%N)
  line=$(cd "$root/bench" && /usr/bin/python3 optuna_hw1_curve.py --trials "$trials" --jobs "$jobs")
  seconds=$(seconds_since "$start")
  echo "round $round: optuna wall=${seconds}s $line"
  op+=("$seconds")
  op_rate+=("$(per_k "$seconds" "$(sed -E 's/.* epochs=([0-9]+) ensemble.*/\1/' <<<"$line")")")
  echo "round $round: seconds per 1,000 epochs trained: nnspec ${nn_rate[-1]}, optuna ${op_rate[-1]}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_nn=$(median "${nn[@]}"); m_op=$(median "${op[@]}")
echo "median wall seconds: nnspec $m_nn, optuna $m_op (optuna $(/usr/bin/python3 -c "import optuna; print(optuna.__version__)"), torch $(/usr/bin/python3 -c "import torch; print(torch.__version__)"), $jobs jobs each)"
echo "ratio optuna/nnspec, whole study: $(awk -v a="$m_op" -v b="$m_nn" 'BEGIN {printf "%.2f", a/b}')"
r_nn=$(median "${nn_rate[@]}"); r_op=$(median "${op_rate[@]}")
echo "median seconds per 1,000 epochs trained: nnspec $r_nn, optuna $r_op; ratio optuna/nnspec per epoch: $(awk -v a="$r_op" -v b="$r_nn" 'BEGIN {printf "%.2f", a/b}')"
