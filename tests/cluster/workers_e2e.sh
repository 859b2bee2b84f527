#!/usr/bin/env bash
# Workers sharing one study, for real: `nnspec run` processes on one store.
#
#   bash tests/cluster/workers_e2e.sh pg-kill      24-trial grid, 3 workers on a throwaway
#                                                 PostgreSQL 15, one SIGKILLed mid-trial
#   bash tests/cluster/workers_e2e.sh sqlite-two   the same grid, two runs on one SQLite
#                                                 store started 1 s apart
#   bash tests/cluster/workers_e2e.sh pg-tpe       a 40-trial TPE study with 2 workers;
#                                                 its draws are replayed from their histories
#
# Each mode checks that the study completes with every trial finished exactly once and
# no epoch lost; the grid modes also check that the exported results equal a
# single-process SQLite run of the same spec, byte for byte (timings, attempt counts,
# trial ids and the study's creation time left out: they are the only columns that may
# differ; PostgreSQL spends a sequence number on every insert that meets a conflict, so
# workers enqueueing the same trials at once leave gaps in the ids).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
nnspec=${NNSPEC:-$root/build/nnspec}
mode=${1:?usage: workers_e2e.sh pg-kill|sqlite-two|pg-tpe}
grid=$root/tests/cluster/specs/workers_grid.nnspec
tpe=$root/tests/cluster/specs/workers_tpe.nnspec
e2e_name=workers
source "$root/tests/cluster/e2e_lib.sh"

# The export without the columns that may differ between runs of the same trials.
comparable() {
  "$nnspec" export "$1" --format csv | python3 -c '
import csv, sys
rows = list(csv.reader(sys.stdin))
drop = {"trial", "seconds", "attempts", "started_at", "ended_at"}
keep = [k for k, name in enumerate(rows[0]) if name not in drop]
out = csv.writer(sys.stdout, lineterminator="\n")
for row in rows:
    out.writerow([row[k] for k in keep])
'
}

# Where two comparable exports differ: each differing cell with its row's point and column.
explain_difference() {  # BASELINE WORKERS
  python3 - "$1" "$2" <<'PY'
import csv, sys
a = list(csv.reader(open(sys.argv[1])))
b = list(csv.reader(open(sys.argv[2])))
head = a[0]
shown = 0
for i, (ra, rb) in enumerate(zip(a[1:], b[1:]), start=1):
    for k, (x, y) in enumerate(zip(ra, rb)):
        if x != y and shown < 40:
            print(f"row {i} ({ra[head.index('point')]}): {head[k]}: baseline {x}, workers {y}")
            shown += 1
if len(a) != len(b):
    print(f"{len(a) - 1} baseline rows, {len(b) - 1} workers rows")
PY
}

# Every trial finished once, every finished trial with all its epochs.
check_complete() {  # STORE TRIALS EPOCHS
  "$nnspec" export "$1" --format csv | python3 -c '
import csv, sys
trials, epochs = int(sys.argv[1]), int(sys.argv[2])
rows = list(csv.DictReader(sys.stdin))
keys = [(r["sweep"], r["point"], r["fold"], r["replicate"]) for r in rows]
assert len(rows) == trials, f"{len(rows)} trials, expected {trials}"
assert len(set(keys)) == trials, "a trial is stored twice"
bad = [r["point"] for r in rows if r["status"] != "finished"]
assert not bad, f"not finished: {bad}"
short = [r["point"] for r in rows if int(r["epochs"]) != epochs]
assert not short, f"trials missing epochs: {short}"
print(f"{trials} trials, each finished once with its {epochs} epochs")
' "$2" "$3"
  "$nnspec" export "$1" --format csv --epochs | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
want = int(sys.argv[1]) * int(sys.argv[2])
assert len(rows) == want, f"{len(rows)} epoch rows, expected {want}"
' "$2" "$3"
}

start_pg() {
  url=$(bash "$root/tests/cluster/pg_cluster.sh" start "$tmp/pg" --watch $$)
  export PGPASSFILE=$tmp/pg/pgpass
  echo "== PostgreSQL at $url"
}

baseline() {
  echo "== baseline: one process on SQLite"
  "$nnspec" run "$grid" --store "$tmp/baseline.sqlite" --jobs 2 --quiet --no-report >"$tmp/baseline.log" 2>&1 ||
    { cat "$tmp/baseline.log"; fail "the baseline run failed"; }
  comparable "$tmp/baseline.sqlite" >"$tmp/baseline.csv"
}

case "$mode" in
  pg-kill)
    start_pg
    baseline
    echo "== 3 workers on PostgreSQL; the second is killed in the middle of a trial"
    for k in 1 2 3; do
      # Epochs and a checkpoint written after every epoch: the victim is caught mid-trial,
      # and its trial is continued from a checkpoint.
      "$nnspec" run "$grid" --store "$url" --jobs 1 --quiet --no-report --worker "w$k" --lease-timeout 5 \
        --checkpoint-every 0 >"$tmp/w$k.log" 2>&1 &
      pids+=($!)
    done
    victim=${pids[1]}
    killed=0
    for _ in $(seq 1 600); do
      mid=$(psql "$url" -tAc "SELECT count(*) FROM trial t JOIN worker w ON w.id = t.worker_id JOIN epoch e ON \
e.trial_id = t.id WHERE w.name = 'w2' AND t.status = 'running'" 2>/dev/null || echo 0)
      if [ "${mid:-0}" -gt 0 ]; then kill -9 "$victim"; killed=1; break; fi
      sleep 0.05
    done
    [ "$killed" = 1 ] || fail "worker w2 was never caught in the middle of a trial"
    echo "== killed w2 (pid $victim) after $mid epochs of its trial"
    for k in 0 2; do
      wait "${pids[$k]}" || { cat "$tmp/w$((k + 1)).log"; fail "worker w$((k + 1)) failed"; }
    done
    "$nnspec" status "$url"
    lost=$(psql "$url" -tAc "SELECT count(*) FROM trial_attempt WHERE outcome = 'lost'")
    [ "$lost" -ge 1 ] || fail "no attempt was recorded as lost"
    check_complete "$url" 24 12
    comparable "$url" >"$tmp/workers.csv"
    cmp "$tmp/baseline.csv" "$tmp/workers.csv" || { explain_difference "$tmp/baseline.csv" "$tmp/workers.csv"; fail "results differ"; }
    echo "== the workers' export equals the single-process SQLite run byte for byte"
    ;;
  sqlite-two)
    baseline
    echo "== two runs on one SQLite store, started 1 s apart"
    "$nnspec" run "$grid" --store "$tmp/shared.sqlite" --jobs 1 --quiet --no-report --worker a >"$tmp/a.log" 2>&1 &
    pids+=($!)
    sleep 1
    "$nnspec" run "$grid" --store "$tmp/shared.sqlite" --jobs 1 --quiet --no-report --worker b >"$tmp/b.log" 2>&1 &
    pids+=($!)
    wait "${pids[0]}" || { cat "$tmp/a.log"; fail "the first run failed"; }
    wait "${pids[1]}" || { cat "$tmp/b.log"; fail "the second run failed"; }
    "$nnspec" status "$tmp/shared.sqlite"
    check_complete "$tmp/shared.sqlite" 24 12
    reruns=$("$nnspec" export "$tmp/shared.sqlite" --format csv | python3 -c '
import csv, sys
print(sum(1 for r in csv.DictReader(sys.stdin) if r["attempts"] != "1"))')
    [ "$reruns" = 0 ] || fail "$reruns trials ran more than once"
    comparable "$tmp/shared.sqlite" >"$tmp/workers.csv"
    cmp "$tmp/baseline.csv" "$tmp/workers.csv" || { explain_difference "$tmp/baseline.csv" "$tmp/workers.csv"; fail "results differ"; }
    echo "== no error, no rerun, no lost epoch; the union equals the single-process run byte for byte"
    ;;
  pg-tpe)
    start_pg
    echo "== a TPE study of 40 trials with 2 workers"
    for k in 1 2; do
      "$nnspec" run "$tpe" --store "$url" --jobs 1 --quiet --no-report --worker "t$k" >"$tmp/t$k.log" 2>&1 &
      pids+=($!)
    done
    for k in 0 1; do
      wait "${pids[$k]}" || { cat "$tmp/t$((k + 1)).log"; fail "worker t$((k + 1)) failed"; }
    done
    "$nnspec" status "$url"
    check_complete "$url" 40 3
    draws=$(psql "$url" -tAc "SELECT count(*), count(DISTINCT number), count(DISTINCT params), \
count(DISTINCT worker_id) FROM sweep_draw")
    [ "$draws" = "40|40|40|2" ] || fail "draws: $draws (count, distinct numbers, distinct points, workers)"
    echo "== 40 draws, numbered once each, no duplicate point, made by both workers"
    running=$(psql "$url" -tAc "SELECT count(*) FROM sweep_draw WHERE history LIKE '%running%'")
    echo "== $running draws saw another worker's point running (counted as a constant liar)"
    "$nnspec" replay "$tpe" --store "$url" | tee "$tmp/replay.txt"
    grep "40 draws replayed from the histories they saw: 40 equal, 0 differ" "$tmp/replay.txt" >/dev/null ||
      fail "replaying the draws gave other points"
    ;;
  *)
    fail "unknown mode '$mode'"
    ;;
esac
echo "PASS: $mode"
