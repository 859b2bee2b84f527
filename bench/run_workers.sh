#!/usr/bin/env bash
# Workers on PostgreSQL: a 16-trial grid (bench/specs/workers_16.nnspec) run by one
# `nnspec run` worker, then by two, each on a fresh database of a throwaway PostgreSQL 15
# (tests/cluster/pg_cluster.sh). Prints the speedup of two workers (on 2 cores) and the
# store's cost per trial -- claim, heartbeats, epochs, checkpoints and results -- as each
# worker measured it, against Optuna's per-trial cost of its RDB storage on the same
# server, measured in the same run (bench/optuna_storage.py: a trial that does no work
# but suggest two parameters and report one value per epoch).
# Usage: bench/run_workers.sh   (installs Debian's python3-optuna and psycopg2 if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
spec=$root/bench/specs/workers_16.nnspec
nnspec=${NNSPEC:-$root/build/nnspec}
trials=16
epochs=12
packages=()
/usr/bin/python3 -c "import optuna, psycopg2, sqlalchemy" 2>/dev/null ||
  packages+=(python3-optuna python3-psycopg2 python3-sqlalchemy)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
cmake --build "$root/build" -j2 --target nnspec >/dev/null

tmp=$(mktemp -d /tmp/nnspec_bench_workers.XXXXXX)
chmod 755 "$tmp"
trap 'bash "$root/tests/cluster/pg_cluster.sh" stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
bash "$root/tests/cluster/pg_cluster.sh" start "$tmp/pg" --watch $$ >/dev/null
export PGPASSFILE=$tmp/pg/pgpass

# Runs WORKERS workers on a fresh database; prints the wall seconds, and the store's
# milliseconds per trial summed over the workers (each prints its own).
run_workers() {
  local workers=$1 url start end store_ms=0 k
  url=$(bash "$root/tests/cluster/pg_cluster.sh" createdb "$tmp/pg" "w$workers")
  local pids=()
  start=$(date +%s.%N)
  for k in $(seq 1 "$workers"); do
    "$nnspec" run "$spec" --store "$url" --jobs 1 --no-report --worker "w$k" >"$tmp/w${workers}_$k.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  for k in $(seq 1 "$workers"); do
    local ms
    ms=$(sed -nE 's/^store: [0-9]+ calls, ([0-9.]+) ms in all.*/\1/p' "$tmp/w${workers}_$k.log")
    store_ms=$(awk -v a="$store_ms" -v b="$ms" 'BEGIN {print a + b}')
  done
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') $(awk -v a="$store_ms" -v n="$trials" 'BEGIN {printf "%.2f", a / n}')"
}

read -r one one_ms < <(run_workers 1)
echo "1 worker:  $one s for $trials trials; the store took $one_ms ms a trial"
read -r two two_ms < <(run_workers 2)
echo "2 workers: $two s for $trials trials; the store took $two_ms ms a trial"
optuna_url=$(bash "$root/tests/cluster/pg_cluster.sh" createdb "$tmp/pg" optuna)
optuna_line=$(/usr/bin/python3 "$root/bench/optuna_storage.py" "$optuna_url" "$trials" "$epochs" 2>/dev/null)
optuna_ms=$(sed -E 's/.*optuna_ms_per_trial=([0-9.]+).*/\1/' <<<"$optuna_line")
echo "optuna RDB storage on the same server: $optuna_ms ms a trial ($optuna_line)"
echo "speedup of 2 workers over 1: $(awk -v a="$one" -v b="$two" 'BEGIN {printf "%.2f", a / b}')x (target >= 1.7 on 2 cores)"
echo "store cost per trial: nnspec $two_ms ms (2 workers), $one_ms ms (1 worker); target < 10 ms"
echo "ratio optuna/nnspec store cost per trial: $(awk -v a="$optuna_ms" -v b="$two_ms" 'BEGIN {printf "%.1f", a / b}')x"
