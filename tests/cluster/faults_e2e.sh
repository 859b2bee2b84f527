#!/usr/bin/env bash
# `nnspec run` on stores it cannot use, and workers stopped by a signal, for real.
#
#   bash tests/cluster/faults_e2e.sh
#
# Bad input: an unreachable server, a wrong password, a password in the URL (which must
# never be printed), a database that does not exist, another program's database, stores
# of a newer nnspec (SQLite and PostgreSQL), a study created by another text of the spec
# (then --force), and bad flags. Each must exit 2 with a message naming the store (or
# the flag) and a hint: never a crash, a hang or an internal error.
#
# Stopped workers: a worker stopped by SIGTERM in the middle of its trial (SQLite), and
# one told to stop with --release-on USR1 (PostgreSQL), exit 128 + the signal, hand the
# trial back (queued, "handed back" in `nnspec status`), and a second run finishes it as
# its second attempt.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
nnspec=${NNSPEC:-$root/build/nnspec}
spec=$root/tests/cluster/specs/faults_long.nnspec
quick=(--set epochs=1)          # the same spec as a run of a second
limit=120                       # seconds any one command may take: longer is a hang
password=Sekr3t-do-not-print-7  # must appear in no output
cd "$root"

e2e_name=faults
source "$root/tests/cluster/e2e_lib.sh"

# Runs `nnspec ARGS...`, its output (both streams) in $tmp/out; sets $code.
run_nnspec() {
  code=0
  timeout "$limit" "$nnspec" "$@" >"$tmp/out" 2>&1 || code=$?
  [ "$code" != 124 ] || fail "nnspec $* hung (killed after $limit s)"
  if grep -F -q "$password" "$tmp/out"; then
    cat "$tmp/out"
    fail "nnspec $* printed the password"
  fi
}

# expect_refused WHAT NAMED ARGS...: exit 2, a message naming NAMED, a hint (or usage).
expect_refused() {
  local what=$1 named=$2
  shift 2
  run_nnspec "$@"
  if [ "$code" != 2 ] || ! grep -F -q -- "$named" "$tmp/out" || ! grep -E -q "^(hint: |usage: )" "$tmp/out" ||
    grep -q "^internal error" "$tmp/out"; then
    cat "$tmp/out"
    fail "$what: expected exit 2 with a message naming '$named' and a hint, got exit $code"
  fi
  echo "== $what: exit 2, $(grep -m1 '^error' "$tmp/out")"
}

# The number of epochs the running trials of a store hold.
running_epochs() {
  local sql="SELECT count(*) FROM epoch e JOIN trial t ON t.id = e.trial_id WHERE t.status = 'running'"
  if [[ $1 == postgresql://* ]]; then
    psql "$1" -tAc "$sql" 2>/dev/null || echo 0
  else
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' \
      "$1" "$sql" 2>/dev/null || echo 0
  fi
}

# stop_worker STORE SIGNAL CODE [ARGS...]: starts a run of the long trial, sends SIGNAL
# once its trial has epochs in the store, expects exit CODE and the trial handed back,
# then a second run that finishes it as its second attempt.
stop_worker() {
  local store=$1 signal=$2 expected=$3
  shift 3
  # A checkpoint (and the epochs' records with it) after every epoch: caught mid-trial soon.
  "$nnspec" run "$spec" --store "$store" --jobs 1 --quiet --no-report --worker first --checkpoint-every 0 "$@" \
    >"$tmp/first.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local caught=0 epochs=0
  for _ in $(seq 1 1200); do
    epochs=$(running_epochs "$store")
    if [ "${epochs:-0}" -gt 0 ]; then caught=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ "$caught" = 1 ] || { cat "$tmp/first.log"; fail "the worker was never caught in the middle of its trial"; }
  kill "-$signal" "$pid"
  local stopped=0
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || { stopped=1; break; }
    sleep 0.05
  done
  [ "$stopped" = 1 ] || fail "the worker did not stop within 30 s of SIG$signal"
  code=0
  wait "$pid" || code=$?
  [ "$code" = "$expected" ] || { cat "$tmp/first.log"; fail "SIG$signal: exit $code, expected $expected"; }
  grep -q "handed back" "$tmp/first.log" || { cat "$tmp/first.log"; fail "SIG$signal: the run did not say it handed its trial back"; }
  echo "== SIG$signal after $epochs epochs: exit $code, the trial handed back"

  run_nnspec status "$store"
  if [ "$code" != 0 ] || ! grep -q "1 queued" "$tmp/out" || ! grep -q "attempt 1: handed back by first" "$tmp/out"; then
    cat "$tmp/out"
    fail "SIG$signal: status does not show the trial queued and handed back"
  fi

  run_nnspec run "$spec" --store "$store" --jobs 1 --quiet --no-report --worker second
  [ "$code" = 0 ] || { cat "$tmp/out"; fail "SIG$signal: the second run failed (exit $code)"; }
  "$nnspec" export "$store" --format csv | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
assert len(rows) == 1, f"{len(rows)} trials, expected 1"
row = rows[0]
assert row["status"] == "finished", row["status"]
assert row["attempts"] == "2", "attempts " + row["attempts"]
assert row["epochs"] == "20", "epochs " + row["epochs"]
' || fail "SIG$signal: the trial was not finished by the second run as its second attempt"
  echo "== the second run finished it: attempts 2, all 20 epochs"
}

echo "== bad flags"
expect_refused "--store ''" "--store" run "$spec" --store ""
expect_refused "--lease-timeout 0" "--lease-timeout" run "$spec" --lease-timeout 0
expect_refused "--release-on NOPE" "--release-on" run "$spec" --release-on NOPE

echo "== SQLite stores"
sqlite_store=$tmp/newer.sqlite
run_nnspec run "$spec" "${quick[@]}" --store "$sqlite_store" --quiet --no-report
[ "$code" = 0 ] || { cat "$tmp/out"; fail "the first run on SQLite failed"; }
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' \
  "$sqlite_store"
expect_refused "a newer SQLite store" "$sqlite_store" run "$spec" "${quick[@]}" --store "$sqlite_store"
grep -q "newer" "$tmp/out" || fail "the newer store's message does not say so"
version=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' \
  "$sqlite_store")
[ "$version" = 99 ] || fail "the newer SQLite store was changed (user_version $version)"

echo "== a study created by another text of the spec"
edited=$tmp/edited.nnspec
cp "$spec" "$edited"
run_nnspec run "$edited" "${quick[@]}" --store "$tmp/edited.sqlite" --quiet --no-report
[ "$code" = 0 ] || { cat "$tmp/out"; fail "the first run of the spec failed"; }
sed -i 's/^seed 29$/seed 31/' "$edited"
expect_refused "an edited spec" "$tmp/edited.sqlite" run "$edited" "${quick[@]}" --store "$tmp/edited.sqlite" --no-report
grep -q -- "--force" "$tmp/out" || fail "the edited spec's hint does not mention --force"
grep -E -q "^ *- +seed 29$" "$tmp/out" && grep -E -q "^ *\+ +seed 31$" "$tmp/out" ||
  { cat "$tmp/out"; fail "the edited spec's message shows no '-' and '+' lines"; }
run_nnspec run "$edited" "${quick[@]}" --store "$tmp/edited.sqlite" --quiet --no-report --force
[ "$code" = 0 ] || { cat "$tmp/out"; fail "--force did not run the edited spec (exit $code)"; }
studies=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM study").fetchone()[0])' \
  "$tmp/edited.sqlite")
[ "$studies" = 2 ] || fail "--force made $studies studies, expected the old one and a new version"
echo "== --force: exit 0, a new version of the study beside the old one"

echo "== PostgreSQL"
url=$(bash "$root/tests/cluster/pg_cluster.sh" start "$tmp/pg" --watch $$)
export PGPASSFILE=$tmp/pg/pgpass
server=${url%/*}  # postgresql://nnspec@127.0.0.1:PORT
port=${server##*:}

expect_refused "an unreachable server" "postgresql://nnspec@127.0.0.1:1/nnspec" \
  run "$spec" "${quick[@]}" --store "postgresql://nnspec@127.0.0.1:1/nnspec"
echo "127.0.0.1:$port:*:nnspec:not-the-password" >"$tmp/wrong.pgpass"
chmod 600 "$tmp/wrong.pgpass"
PGPASSFILE=$tmp/wrong.pgpass expect_refused "a wrong password" "$url" run "$spec" "${quick[@]}" --store "$url"
grep -q "password authentication failed" "$tmp/out" || fail "a wrong password is not reported as one"
expect_refused "a password in the URL" "$url" \
  run "$spec" "${quick[@]}" --store "postgresql://nnspec:$password@127.0.0.1:$port/nnspec"
expect_refused "a password in the URL's query" "$url" \
  run "$spec" "${quick[@]}" --store "$url?password=$password"
expect_refused "a database that does not exist" "$server/no_such_db" \
  run "$spec" "${quick[@]}" --store "$server/no_such_db"
grep -q "createdb" "$tmp/out" || fail "a missing database's hint does not say how to create it"

foreign=$(bash "$root/tests/cluster/pg_cluster.sh" createdb "$tmp/pg" other_program)
psql "$foreign" -qc "CREATE TABLE other (x int)"
expect_refused "another program's database" "$foreign" run "$spec" "${quick[@]}" --store "$foreign"
grep -q "not an nnspec result store" "$tmp/out" || fail "another program's database is not reported as one"

newer=$(bash "$root/tests/cluster/pg_cluster.sh" createdb "$tmp/pg" newer_store)
run_nnspec run "$spec" "${quick[@]}" --store "$newer" --quiet --no-report
[ "$code" = 0 ] || { cat "$tmp/out"; fail "the first run on PostgreSQL failed"; }
psql "$newer" -qc "UPDATE nnspec_meta SET value = '99' WHERE key = 'schema_version'"
expect_refused "a newer PostgreSQL store" "$newer" run "$spec" "${quick[@]}" --store "$newer"
[ "$(psql "$newer" -tAc "SELECT value FROM nnspec_meta WHERE key = 'schema_version'")" = 99 ] ||
  fail "the newer PostgreSQL store was changed"

echo "== a worker stopped by SIGTERM in the middle of its trial (SQLite)"
stop_worker "$tmp/stopped.sqlite" TERM 143
echo "== a worker told to stop with --release-on USR1 (PostgreSQL)"
released=$(bash "$root/tests/cluster/pg_cluster.sh" createdb "$tmp/pg" released_store)
stop_worker "$released" USR1 138 --release-on USR1

echo "PASS: faults"
