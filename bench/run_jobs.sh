#!/usr/bin/env bash
# Parallel trials: the same 16-trial grid with --jobs 1 and --jobs 2 (fresh stores),
# wall-clock time of each, the speedup, and whether the two tables are byte-identical.
# Usage: bench/run_jobs.sh [ROUNDS]   (default 3; run it on an otherwise idle machine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
cmake --build "$root/build" -j2 --target nnspec >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t1=(); t2=()
for round in $(seq 1 "$rounds"); do
  for jobs in 1 2; do
    rm -f "$tmp"/s.sqlite*
    start=$(date +%s.%N)
    "$root/build/nnspec" run "$root/bench/specs/grid16.nnspec" --store "$tmp/s.sqlite" --jobs "$jobs" --quiet \
      > "$tmp/table$jobs.txt"
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b-a}')
    echo "round $round: --jobs $jobs: $seconds s"
    if [ "$jobs" = 1 ]; then t1+=("$seconds"); else t2+=("$seconds"); fi
  done
  cmp -s "$tmp/table1.txt" "$tmp/table2.txt" && echo "round $round: tables byte-identical" \
    || { echo "round $round: tables differ"; diff "$tmp/table1.txt" "$tmp/table2.txt" || true; }
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m1=$(median "${t1[@]}"); m2=$(median "${t2[@]}")
echo "median wall time: --jobs 1 ${m1} s, --jobs 2 ${m2} s; speedup $(awk -v a="$m1" -v b="$m2" 'BEGIN {printf "%.2f", a/b}')x"
