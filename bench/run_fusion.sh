#!/usr/bin/env bash
# Sweep fusion against training one trial at a time, and against PyTorch, in one run:
# three studies of small MLPs, each run as
#   nnspec run SPEC --jobs JOBS --fuse off   (one trial at a time on each job)
#   nnspec run SPEC --jobs JOBS --fuse 8     (up to 8 trials of one graph in one step; the
#                                             jobs claim groups in rounds, and a last
#                                             round too short for a group per job is
#                                             shared evenly among them)
#   python3 torch_sweep.py STUDY EPOCHS JOBS (a pool of JOBS processes, one thread each,
#                                             each training whole trials: how a user
#                                             parallelizes a PyTorch sweep on a CPU)
# The studies (bench/specs/fusion_*.nnspec):
#   q3      q3's rate sweep: 5 rates of 784-64-64-10, Adam, batch 32, 55,000 images
#   dat565  dat565's decay sweep: 5 decays x 3 replicates of 784-500-300-10, SGD, batch 128
#   lab3    lab3's rate grid: 4 rates x 5 folds of (50,), SGD Nesterov, batch 200
# Every wall time is the whole process (start-up, data, for nnspec compiling and the store).
# The tools alternate within a round (nnspec's two settings swap places every other
# round), after one untimed warm-up of each (the data files, libraries and Python modules
# read once, so the first timed run does not pay for them); medians over the rounds, then
# the ratios. The plan
# `nnspec check` prints for the default (`fuse auto`) is shown for each study, and under
# each, what bounds its speed-up (bench/fusion_bound.py), two ways: the rate in GFLOP/s at
# which the last unfused run trained, as a share of the FMA peak measured before the
# rounds, and so the most a fused step doing the same FLOPs at the full peak could gain;
# and where one unfused train step's time goes (nnspec_bench_train_epoch --breakdown, 5
# epochs of the sweep's first point), and so the most a fused step of the run's largest
# group could gain if it gathered one batch for all and ran its GEMMs at the full peak;
# and, third, with its first layer's GEMMs at the rates the fused kernels measure
# (nnspec_bench_gemm_shapes --shared: one by one, and as the one call a fused step makes).
# Usage: bench/run_fusion.sh [ROUNDS]   (default 1; installs Debian's python3-torch if missing)
#   JOBS=N                   parallel jobs on every side (default 2)
#   EPOCHS_Q3, EPOCHS_DAT565, EPOCHS_LAB3   epochs of each study (defaults 2, 3, 10; the
#                            studies train 25, 40 and up to 250)
#   STUDIES="q3 lab3"        a subset
#   BUILD_DIR                the CMake build to use (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
rounds=${1:-1}
jobs=${JOBS:-2}
declare -A epochs=([q3]=${EPOCHS_Q3:-2} [dat565]=${EPOCHS_DAT565:-3} [lab3]=${EPOCHS_LAB3:-10})
declare -A specs=([q3]=fusion_q3_rate [dat565]=fusion_dat565_decay [lab3]=fusion_lab3_rate)
# For the bound: the MLP's widths, a trial's samples per epoch and held out, the target.
declare -A widths=([q3]=784,64,64,10 [dat565]=784,500,300,10 [lab3]=784,50,10)
declare -A trained=([q3]=55000 [dat565]=7000 [lab3]=8000) held=([q3]=5000 [dat565]=1000 [lab3]=2000)
declare -A target=([q3]=2.5 [dat565]=1.2 [lab3]=2.5)
studies=${STUDIES:-q3 dat565 lab3}
for setting in "ROUNDS=$rounds" "JOBS=$jobs" "EPOCHS_Q3=${epochs[q3]}" "EPOCHS_DAT565=${epochs[dat565]}" \
               "EPOCHS_LAB3=${epochs[lab3]}"; do
  [[ "${setting#*=}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $setting is not a positive integer (e.g. ${setting%%=*}=2)" >&2; exit 2; }
done
for study in $studies; do
  [ -n "${specs[$study]:-}" ] || { echo "error: STUDIES names '$study'; use q3, dat565, lab3" >&2; exit 2; }
done
packages=()
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || packages+=(python3-torch python3-numpy)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$build" -j1 --target nnspec nnspec_bench_gemm_shapes nnspec_bench_train_epoch >/dev/null
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d /tmp/nnspec_bench_fusion.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
echo "sweep fusion: $jobs jobs on every side; $rounds round(s); torch $(/usr/bin/python3 -c "import torch; print(torch.__version__)")"
peak=$("$build/bench/nnspec_bench_gemm_shapes" --peak | sed -E 's/.*avx512 ([0-9.]+).*avx2 ([0-9.]+).*/\1 \2/' |
  awk '{print ($1 > $2) ? $1 : $2}')
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; $(nproc --all) cores); FMA peak $peak GFLOP/s a core"
# The fused kernels' own rates: each study's first-layer GEMMs one by one and shared.
"$build/bench/nnspec_bench_gemm_shapes" --shared >"$tmp/shared.txt" 2>&1 ||
  { echo "error: nnspec_bench_gemm_shapes --shared failed:" >&2; cat "$tmp/shared.txt" >&2; exit 1; }
run_nnspec() {  # SPEC EPOCHS FUSE -> wall seconds; the best point on stderr
  local spec=$1 n=$2 fuse=$3 store="$tmp/run.sqlite"
  rm -f "$store"*
  local start; start=$(date +%s.%N)
  "$build/nnspec" run "$spec" --jobs "$jobs" --fuse "$fuse" --store "$store" --no-report --set "epochs=$n" \
    >"$tmp/nnspec.out" 2>&1 || { echo "error: nnspec run failed:" >&2; cat "$tmp/nnspec.out" >&2; exit 1; }
  seconds_since "$start"
  [ "$fuse" = off ] && cp "$store" "$tmp/unfused.sqlite"
  grep -h "^  best:\|^fusion:" "$tmp/nnspec.out" | sed 's/^ *//' | tr '\n' ' ' >&2
}
# Warm-up, untimed: the first run of a process reads its libraries and the data files from
# disk; whichever tool ran first would pay for that.
first_study=${studies%% *}
"$build/nnspec" run "$root/bench/specs/${specs[$first_study]}.nnspec" --jobs "$jobs" --store "$tmp/warm.sqlite" \
  --no-report --set "epochs=1" >/dev/null 2>&1 || { echo "error: the warm-up run of nnspec failed" >&2; exit 1; }
/usr/bin/python3 -c "import torch, numpy" >/dev/null
table=()
for study in $studies; do
  spec=$root/bench/specs/${specs[$study]}.nnspec
  n=${epochs[$study]}
  echo
  echo "== $study: ${specs[$study]}.nnspec, $n epochs"
  "$build/nnspec" check "$spec" --set "epochs=$n" | grep -E "^  (trials|fusion) " | sed 's/^  /   plan: /'
  off=(); on=(); pt=()
  for round in $(seq 1 "$rounds"); do
    settings="off 8"
    [ $((round % 2)) -eq 0 ] && settings="8 off"
    for fuse in $settings; do
      s=$(run_nnspec "$spec" "$n" "$fuse" 2>"$tmp/best")
      if [ "$fuse" = off ]; then off+=("$s"); else on+=("$s"); cp "$tmp/best" "$tmp/fused_line"; fi
      printf '   round %s: nnspec --fuse %-4s %ss  %s\n' "$round" "$fuse" "$s" "$(cat "$tmp/best")"
    done
    start=$(date +%s.%N)
    line=$(cd "$root/bench" && /usr/bin/python3 torch_sweep.py "$study" "$n" "$jobs")
    s=$(seconds_since "$start"); pt+=("$s")
    echo "   round $round: pytorch            ${s}s  $line"
  done
  # The largest group of the fused run: "fusion: T trials trained in G fused groups" (the
  # scheduler sizes the groups evenly).
  group=$(sed -nE 's/.*fusion: ([0-9]+) trials trained in ([0-9]+) fused group.*/\1 \2/p' "$tmp/fused_line" |
    awk '{print int(($1 + $2 - 1) / $2)}')
  "$build/bench/nnspec_bench_train_epoch" --breakdown --epochs 5 "$spec" >"$tmp/breakdown.txt" 2>&1 ||
    { echo "error: the step breakdown failed:" >&2; cat "$tmp/breakdown.txt" >&2; exit 1; }
  (cd "$root/bench" && /usr/bin/python3 fusion_bound.py "$tmp/unfused.sqlite" "${widths[$study]}" \
    "${trained[$study]}" "${held[$study]}" "$peak" "${target[$study]}" --step "$tmp/breakdown.txt" "${group:-1}" \
    --shared "$tmp/shared.txt" "$study") |
    sed 's/^/   /'
  table+=("$(printf '%-7s %9s %9s %9s %15s %15s' "$study" "$(median "${off[@]}")" "$(median "${on[@]}")" \
    "$(median "${pt[@]}")" "$(ratio "$(median "${off[@]}")" "$(median "${on[@]}")")" \
    "$(ratio "$(median "${pt[@]}")" "$(median "${on[@]}")")")")
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median wall seconds ($jobs jobs each):"
printf '%-7s %9s %9s %9s %15s %15s\n' study unfused fused pytorch fused/unfused pytorch/fused
printf '%s\n' "${table[@]}"
