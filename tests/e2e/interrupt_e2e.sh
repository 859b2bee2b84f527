#!/usr/bin/env bash
# Ctrl-C in the middle of a sweep, for real:
#
#   bash tests/e2e/interrupt_e2e.sh
#
# `nnspec run` of a 6-trial sweep (tests/e2e/specs/interrupt_sweep.nnspec, two trials at
# a time) gets SIGINT once a trial has finished and another is in the middle of its
# epochs. It must exit 130, print the results table of the trials that finished, write
# the HTML report, and hand the running trials back (`nnspec status` shows them queued,
# handed back). A second run on the same store finishes the study: the trials that had
# finished are kept as they were (not trained again), the handed-back ones are finished
# as their second attempt.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
nnspec=${NNSPEC:-$root/build/nnspec}
spec=$root/tests/e2e/specs/interrupt_sweep.nnspec
limit=300  # seconds any one command may take: longer is a hang
trials=6
cd "$root"

tmp=$(mktemp -d /tmp/nnspec_interrupt.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

store=$tmp/study.sqlite
report=$tmp/study.report.html

# Waits (up to $limit s, while the run lives) until the store has a finished trial and a
# running one with epochs recorded; prints "finished running-epochs" when it does. One
# process polls the store read-only, so it never races the run writing it.
wait_mid_sweep() {
  python3 -c 'import os, sqlite3, sys, time
store, pid, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + limit
while time.time() < end:
    try:
        db = sqlite3.connect("file:" + store + "?mode=ro", uri=True, timeout=5)
        finished = db.execute("SELECT count(*) FROM trial WHERE status = \x27finished\x27").fetchone()[0]
        running = db.execute("SELECT count(*) FROM epoch e JOIN trial t ON t.id = e.trial_id "
                             "WHERE t.status = \x27running\x27").fetchone()[0]
        db.close()
        if finished >= 1 and running >= 1:
            print(finished, running)
            sys.exit(0)
    except sqlite3.Error:
        pass  # not created yet
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    time.sleep(0.02)
sys.exit(1)' "$store" "$1" "$limit"
}

# The trials' export as "trial status attempts seconds val.loss ended_at" lines.
export_rows() {
  "$nnspec" export "$store" --format csv | python3 -c '
import csv, sys
for row in sorted(csv.DictReader(sys.stdin), key=lambda row: int(row["trial"])):
    print(row["trial"], row["status"], row["attempts"], row["seconds"] or "-", row["val.loss"] or "-", row["ended_at"] or "-")
'
}

echo "== nnspec run, interrupted by SIGINT"
# A checkpoint after every epoch, so a running trial has epochs in the store to hand back.
"$nnspec" run "$spec" --store "$store" --report "$report" --jobs 2 --checkpoint-every 0 \
  >"$tmp/first.out" 2>"$tmp/first.err" &
pid=$!
if ! seen=$(wait_mid_sweep "$pid"); then
  cat "$tmp/first.out" "$tmp/first.err"
  fail "the run was never caught with a trial finished and another running"
fi
echo "== SIGINT with $seen (trials finished, epochs of running trials) in the store"
kill -INT "$pid"
stopped=0
for _ in $(seq 1 600); do
  kill -0 "$pid" 2>/dev/null || { stopped=1; break; }
  sleep 0.05
done
[ "$stopped" = 1 ] || fail "the run did not stop within 30 s of SIGINT"
code=0
wait "$pid" || code=$?
pid=""
show_first() { echo "--- stdout"; cat "$tmp/first.out"; echo "--- stderr"; cat "$tmp/first.err"; }
[ "$code" = 130 ] || { show_first; fail "SIGINT: exit $code, expected 130"; }

before=$(export_rows)
finished_before=$(echo "$before" | awk '$2 == "finished"' | wc -l)
echo "== exit 130 with $finished_before of $trials trials finished"
[ "$finished_before" -ge 1 ] && [ "$finished_before" -lt "$trials" ] ||
  { show_first; echo "$before"; fail "expected some but not all trials finished when stopped"; }

# The results table: a row with losses for each finished trial, "-" for the others.
grep -q '^results (ranked by min val.loss)' "$tmp/first.out" || { show_first; fail "no results table"; }
with_losses=$(grep -c -E '^ +[0-9]+ +width=[0-9]+, lr=[0-9.e-]+ +[0-9]+\.[0-9]+ ' "$tmp/first.out" || true)
without=$(grep -c -E '^ +- +width=[0-9]+, lr=[0-9.e-]+ +- ' "$tmp/first.out" || true)
[ "$with_losses" = "$finished_before" ] && [ "$without" = $((trials - finished_before)) ] ||
  { show_first; fail "the table shows $with_losses rows with losses and $without without, for $finished_before finished trials"; }
echo "== the partial table: $with_losses rows with losses, $without without"

[ -s "$report" ] && grep -q -i '<html' "$report" || { show_first; fail "no HTML report at $report"; }
grep -q "report: $report" "$tmp/first.out" || { show_first; fail "the run did not say where the report is"; }
echo "== the report: $(wc -c <"$report") bytes"

grep -q "handed back" "$tmp/first.err" || { show_first; fail "the run did not say it handed its trials back"; }
"$nnspec" status "$store" >"$tmp/status.out" 2>&1 || { cat "$tmp/status.out"; fail "nnspec status failed"; }
queued=$(grep -o -E '[0-9]+ queued' "$tmp/status.out" | head -1 | cut -d' ' -f1)
[ "${queued:-0}" -eq $((trials - finished_before)) ] ||
  { cat "$tmp/status.out"; fail "status shows ${queued:-0} queued, expected $((trials - finished_before))"; }
# The trials that were running: "trial N (...) attempt 1: handed back by WORKER at TIME".
handed=$(sed -n -E 's/^ *trial ([0-9]+) .* attempt 1: handed back by .*/\1/p' "$tmp/status.out")
[ -n "$handed" ] || { cat "$tmp/status.out"; fail "status shows no trial handed back"; }
echo "== status: $queued queued, trials $(echo $handed) handed back"

echo "== a second run on the same store"
code=0
timeout "$limit" "$nnspec" run "$spec" --store "$store" --report "$report" --jobs 2 >"$tmp/second.out" 2>&1 || code=$?
[ "$code" = 0 ] || { cat "$tmp/second.out"; fail "the second run failed (exit $code)"; }
grep -q "$finished_before trials already ended in the store ($finished_before finished" "$tmp/second.out" ||
  { cat "$tmp/second.out"; fail "the second run did not say it kept the $finished_before finished trials"; }
after=$(export_rows)
echo "$after"
[ "$(echo "$after" | awk '$2 == "finished"' | wc -l)" = "$trials" ] || fail "not every trial finished after the second run"
# The trials finished before Ctrl-C: the same rows (attempt, seconds, loss), not retrained.
while read -r line; do
  echo "$after" | grep -q -x -F "$line" || fail "trial '$line' changed in the second run: it was trained again"
done < <(echo "$before" | awk '$2 == "finished"')
for id in $handed; do
  attempts=$(echo "$after" | awk -v id="$id" '$1 == id {print $3}')
  [ "$attempts" = 2 ] || fail "trial $id, handed back, finished as attempt ${attempts:-?}, expected 2"
done
echo "PASS: interrupt"
