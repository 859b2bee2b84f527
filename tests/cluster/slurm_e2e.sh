#!/usr/bin/env bash
# End to end on Slurm: a single-node Slurm cluster on this machine runs
# examples/cluster/slurm_array.sbatch as a 3-task job array, each task an nnspec worker
# on one study in a throwaway PostgreSQL; the study must end complete, every trial
# finished exactly once, with the same numbers as one process on a SQLite store.
# Not part of ctest: it installs Debian packages and starts daemons as root.
#
# usage: bash tests/cluster/slurm_e2e.sh [--dummy] [--keep]
#   --dummy  the Slurm part only: the array script runs a stand-in for nnspec (no
#            PostgreSQL, no nnspec build), then one task gets USR1 before its time limit
#   --keep   keep the temporary directory (configs, daemon logs, job outputs)
# Environment: NNSPEC (the nnspec binary; default build/nnspec of this repo),
#   SLURM_E2E_PORTS (slurmctld and slurmd ports, default "26817 26818", away from a
#   system Slurm's 6817/6818).
#
# Pitfalls met while writing it (Debian 12, Slurm 22.05, munge 0.5.15, in a gVisor sandbox):
# - apt-get install of slurmctld/slurmd/munge tries to start their services; in a
#   container policy-rc.d refuses ("invoke-rc.d: policy-rc.d denied execution of start"),
#   which is harmless: this script starts its own daemons with their own files.
# - munged refuses a socket whose directory is not executable by all ("Socket is
#   inaccessible: execute permissions for all required"); mktemp -d makes 0700 dirs, so
#   the temp dir is chmod 755 and the socket has a 0755 directory of its own. The key
#   must be readable by its owner only (0400) in a directory others cannot write.
# - A second munged or Slurm on the default socket and ports (a system one) would clash:
#   munged gets --socket in the temp dir, Slurm finds it through AuthInfo=socket=...,
#   and the ports are moved (SLURM_E2E_PORTS).
# - Clients (sbatch, sinfo, scontrol) find this cluster through SLURM_CONF; the daemons
#   through -f. slurmd's defaults (/var/spool/slurmd, /run/slurmd.pid, /var/log/slurm)
#   need not exist: every path is set in slurm.conf to the temp dir.
# - Host names: SlurmctldHost=NAME(127.0.0.1) and NodeAddr=127.0.0.1 so nothing depends
#   on resolving the host name; slurmd gets -N NAME so it need not guess its node.
# - No cgroups here (the default proctrack/cgroup and task/cgroup plugins fail without a
#   writable cgroup hierarchy and cgroup.conf): proctrack/linuxproc, task/none,
#   jobacct_gather/none, no accounting storage.
# - RealMemory above what slurmd measures drains the node ("Low RealMemory"); it is read
#   from `slurmd -C`. ReturnToService=2 makes the node idle as soon as slurmd registers.
# - slurmd logs "can not load PMIx library" errors while probing MPI plugins even with
#   MpiDefault=none; they are harmless.
# - sbatch --wait polls with a growing interval, so it returns up to ~30 s after the
#   last task ends; the USR1 check polls squeue itself instead.
# - The batch script runs from Slurm's spool as a copy: it cannot find the repo from its
#   own path, so SPEC and NNSPEC are given as absolute paths.
# - B:USR1 goes to the batch shell only; the array script execs nnspec so nnspec gets it.
#   A shell that runs nnspec as a child (no exec) would die on USR1 and orphan it.
# - scontrol shutdown stops slurmctld and slurmd but not running jobs' slurmstepd:
#   the teardown cancels the jobs and waits for the queue to drain first. An
#   sbatch --wait whose controller is gone polls for ever: the teardown kills it.
# - proctrack/linuxproc finds a job's processes through their parents: one reparented
#   to init (a child left behind by a process that exited) escapes the job's end and
#   scancel. The stand-in nnspec kills its own sleep before it exits.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
array_script=$repo/examples/cluster/slurm_array.sbatch
spec=$repo/tests/cluster/specs/cluster_grid.nnspec
pg_script=$repo/tests/cluster/pg_cluster.sh
workers=3

dummy=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --dummy) dummy=1 ;;
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "error: unknown option '$arg' (use --dummy or --keep)" >&2
      exit 2
      ;;
  esac
done

say() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "run as root: it installs Debian packages and starts munged, slurmctld and slurmd"

# ---- (a) packages ----------------------------------------------------------------------

installPackages() {
  local missing=0
  for tool in munged munge slurmctld slurmd sbatch sinfo squeue scontrol scancel; do
    command -v "$tool" >/dev/null || missing=1
  done
  [[ $missing -eq 1 ]] || return 0
  say "installing slurm-wlm and munge with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge python3 >/dev/null
}

# ---- teardown, armed before anything starts --------------------------------------------

tmp=
munge_socket=
slurm_started=0
pg_started=0
submit_pid=

# Waits up to $2 seconds for the process whose pid is in file $1 to end; then SIGTERM,
# then SIGKILL, that pid only.
stopPid() {
  local pid_file=$1 seconds=$2 pid
  [[ -s "$pid_file" ]] || return 0
  pid=$(cat "$pid_file")
  for ((waited = 0; waited < seconds * 2; ++waited)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  echo "warning: pid $pid ($pid_file) still runs; sending SIGTERM" >&2
  kill "$pid" 2>/dev/null || true
  sleep 2
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; fi
}

teardown() {
  local status=$?
  set +e
  if [[ $slurm_started -eq 1 ]]; then
    scancel --user="$(id -un)" 2>/dev/null
    for ((waited = 0; waited < 60; ++waited)); do
      [[ -z "$(squeue -h 2>/dev/null)" ]] && break
      sleep 0.5
    done
    # An sbatch --wait cut short would poll a stopped controller for ever.
    [[ -n "$submit_pid" ]] && kill "$submit_pid" 2>/dev/null
    scontrol shutdown >/dev/null 2>&1
    stopPid "$tmp/slurm/slurmctld.pid" 15
    stopPid "$tmp/slurm/slurmd.pid" 15
  fi
  if [[ $pg_started -eq 1 ]]; then
    bash "$pg_script" stop "$tmp/pg" >/dev/null || echo "warning: pg_cluster.sh stop failed" >&2
  fi
  if [[ -n "$munge_socket" ]]; then
    munged --stop --socket="$munge_socket" >/dev/null 2>&1
    stopPid "$tmp/munge-run/munged.pid" 10
  fi
  if [[ -n "$tmp" ]]; then
    if [[ $keep -eq 1 || $status -ne 0 ]]; then
      echo "kept $tmp (configs, daemon logs, job outputs)" >&2
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The tail of every daemon log, for a failure.
showLogs() {
  for log in "$tmp"/munge/munged.log "$tmp"/slurm/log/*.log; do
    [[ -f "$log" ]] || continue
    echo "---- $log" >&2
    tail -n 20 "$log" >&2
  done
}

# ---- (b) a one-node Slurm cluster ------------------------------------------------------

startMunge() {
  mkdir -p "$tmp/munge" "$tmp/munge-run"
  chmod 700 "$tmp/munge"
  chmod 755 "$tmp/munge-run"
  dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$tmp/munge/munge.key"
  munge_socket=$tmp/munge-run/munge.socket.2
  munged --key-file="$tmp/munge/munge.key" --socket="$munge_socket" --pid-file="$tmp/munge-run/munged.pid" \
    --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed" ||
    { showLogs; fail "munged did not start"; }
  munge --socket="$munge_socket" --no-input | unmunge --socket="$munge_socket" >"$tmp/munge/check.txt" ||
    { showLogs; fail "munge cannot encode and decode a credential"; }
}

writeSlurmConf() {
  local node=$1 ctld_port=$2 slurmd_port=$3 memory
  memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [[ -n "$memory" ]] || fail "slurmd -C did not report RealMemory"
  mkdir -p "$tmp/slurm/state" "$tmp/slurm/spool" "$tmp/slurm/log"
  cat >"$tmp/slurm/slurm.conf" <<EOF
# A one-node cluster for tests/cluster/slurm_e2e.sh; everything lives in $tmp.
ClusterName=nnspec-e2e
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
StateSaveLocation=$tmp/slurm/state
SlurmdSpoolDir=$tmp/slurm/spool
SlurmctldPidFile=$tmp/slurm/slurmctld.pid
SlurmdPidFile=$tmp/slurm/slurmd.pid
SlurmctldLogFile=$tmp/slurm/log/slurmctld.log
SlurmdLogFile=$tmp/slurm/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

startSlurm() {
  local node ports
  node=$(hostname -s)
  read -r -a ports <<<"${SLURM_E2E_PORTS:-26817 26818}"
  writeSlurmConf "$node" "${ports[0]}" "${ports[1]}"
  export SLURM_CONF=$tmp/slurm/slurm.conf
  slurm_started=1
  slurmctld -f "$SLURM_CONF" || { showLogs; fail "slurmctld did not start"; }
  slurmd -f "$SLURM_CONF" -N "$node" || { showLogs; fail "slurmd did not start"; }
  local state=
  for ((waited = 0; waited < 60; ++waited)); do
    state=$(sinfo -h -N -n "$node" -o %T 2>/dev/null || true)
    [[ "$state" == idle ]] && break
    sleep 1
  done
  [[ "$state" == idle ]] || { showLogs; fail "node $node is '${state:-unknown}' after 60 s, not idle"; }
  say "slurm: node $node idle ($(sinfo -h -N -o '%c CPUs, %m MB'))"
}

# Runs "$@" in the jobs directory, its stdout into $tmp/submit.out, in the background:
# bash runs a trap only between foreground commands, so a SIGTERM to this script would
# otherwise wait for sbatch --wait, that is for the whole job.
runInJobs() {
  (cd "$tmp/jobs" && exec "$@") >"$tmp/submit.out" &
  submit_pid=$!
  wait "$submit_pid"
}

# The job id sbatch --parsable printed ("ID" or "ID;CLUSTER").
submittedJob() {
  local line
  line=$(head -n 1 "$tmp/submit.out")
  echo "${line%%;*}"
}

# Prints every output file of job $1's array tasks.
showOutputs() {
  for out in "$tmp"/jobs/slurm-"$1"_*.out; do
    echo "---- $(basename "$out")"
    cat "$out"
  done
}

# ---- (d) with a stand-in for nnspec ----------------------------------------------------

# A fake nnspec for --dummy: prints what it was asked to run; with FAKE_NNSPEC_SLEEP it
# waits that long for SIGUSR1/SIGTERM and "hands its trial back" like a worker (128+signal).
writeFakeNnspec() {
  mkdir -p "$tmp/bin"
  cat >"$tmp/bin/nnspec" <<'EOF'
#!/bin/bash
echo "fake nnspec on $(hostname -s), task ${SLURM_ARRAY_TASK_ID:-none}: $*"
[[ -r "${PGPASSFILE:-}" ]] && echo "fake nnspec: PGPASSFILE readable"
sleep "${FAKE_NNSPEC_SLEEP:-1}" &
sleeper=$!
trap 'echo "fake nnspec: got USR1 at $(date +%T), handing the trial back"; kill $sleeper; exit 138' USR1
trap 'echo "fake nnspec: got TERM at $(date +%T), handing the trial back"; kill $sleeper; exit 143' TERM
echo "fake nnspec: started $(date +%T)"
wait $sleeper
echo "fake nnspec: no trial left"
EOF
  chmod +x "$tmp/bin/nnspec"
}

runDummy() {
  writeFakeNnspec
  printf '127.0.0.1:5432:nnspec:nnspec:not-a-password\n' >"$tmp/pgpass"
  chmod 600 "$tmp/pgpass"
  local -a env=(NNSPEC="$tmp/bin/nnspec" NNSPEC_STORE=postgresql://nnspec@127.0.0.1:5432/nnspec PGPASSFILE="$tmp/pgpass")

  say "sbatch --wait --array=0-$((workers - 1)) slurm_array.sbatch (a stand-in nnspec)"
  local job started=$SECONDS
  runInJobs env "${env[@]}" sbatch --parsable --wait --array=0-$((workers - 1)) \
    --cpus-per-task=1 --mem=100M --time=00:05:00 "$array_script" "$spec" --sweep dummy ||
    fail "sbatch --wait: exit $?"
  job=$(submittedJob)
  say "array job $job done in $((SECONDS - started)) s"
  showOutputs "$job"
  local finished
  finished=$(cat "$tmp"/jobs/slurm-"$job"_*.out | grep -c '^fake nnspec: no trial left$' || true)
  [[ "$finished" -eq $workers ]] || fail "$finished of $workers array tasks ran the stand-in to its end"
  grep -q -- "--release-on USR1 --sweep dummy" "$tmp/jobs/slurm-${job}_0.out" ||
    fail "the array script did not pass --release-on USR1 and the extra arguments"

  # One task with a one-minute limit and USR1 50 s before it: the stand-in must get USR1
  # (as the batch process, thanks to exec) about 10 s in, and the job ends with 138.
  say "USR1 before the time limit: sbatch --time=00:01:00 --signal=B:USR1@50"
  started=$SECONDS
  runInJobs env "${env[@]}" FAKE_NNSPEC_SLEEP=300 sbatch --parsable --array=0 \
    --cpus-per-task=1 --mem=100M --time=00:01:00 --signal=B:USR1@50 "$array_script" "$spec"
  job=$(submittedJob)
  for ((waited = 0; waited < 120; ++waited)); do
    [[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]] && break
    sleep 1
  done
  local shown
  shown=$(scontrol --oneliner show job "$job")
  say "job $job ended after $((SECONDS - started)) s: $(grep -o -e 'JobState=[A-Z]*' -e 'ExitCode=[0-9:]*' <<<"$shown" | tr '\n' ' ')"
  showOutputs "$job"
  grep -q '^fake nnspec: got USR1' "$tmp/jobs/slurm-${job}_0.out" || fail "the batch process never got USR1"
  [[ "$shown" == *"ExitCode=138:0"* ]] || fail "the job did not end with 138 (128 + USR1)"
}

# ---- (c, d, e) with nnspec workers on PostgreSQL ---------------------------------------

# The number of trials `nnspec check` plans for the spec (summed over its sweeps).
plannedTrials() {
  "$nnspec" check "$spec" >"$tmp/check.txt" || { cat "$tmp/check.txt" >&2; fail "nnspec check $spec"; }
  sed -n 's/.* = \([0-9,]*\) trials$/\1/p' "$tmp/check.txt" | tr -d , | awk '{ n += $1 } END { print n + 0 }'
}

runWorkers() {
  local url expected rc job started
  bash "$pg_script" start "$tmp/pg" >"$tmp/pg-start.txt" || { cat "$tmp/pg-start.txt"; fail "pg_cluster.sh start"; }
  pg_started=1
  url=$(grep -m1 '^postgresql://' "$tmp/pg-start.txt" || true)
  [[ -n "$url" ]] || { cat "$tmp/pg-start.txt"; fail "pg_cluster.sh start printed no postgresql:// URL"; }
  [[ -f "$tmp/pg/pgpass" ]] || fail "pg_cluster.sh start wrote no $tmp/pg/pgpass"
  export PGPASSFILE=$tmp/pg/pgpass
  say "postgresql: $url"

  expected=$(plannedTrials)
  [[ "$expected" -gt 0 ]] || fail "nnspec check plans no trials for $spec"
  say "sbatch --wait --array=0-$((workers - 1)) slurm_array.sbatch $(basename "$spec") ($expected trials)"
  started=$SECONDS
  rc=0
  runInJobs env NNSPEC="$nnspec" NNSPEC_STORE="$url" sbatch --parsable --wait \
    --array=0-$((workers - 1)) --cpus-per-task=1 --mem=1G --time=00:20:00 "$array_script" "$spec" || rc=$?
  job=$(submittedJob)
  say "array job $job ended in $((SECONDS - started)) s (sbatch --wait: $rc)"
  [[ -n "$job" ]] && showOutputs "$job"

  say "nnspec status"
  "$nnspec" status "$url" || fail "nnspec status $url"
  "$nnspec" export "$url" --format csv >"$tmp/workers.csv" || fail "nnspec export $url --format csv"
  [[ $rc -eq 0 ]] || fail "an array task failed (sbatch --wait exit $rc)"

  say "reference: one process on SQLite"
  (cd "$tmp" && "$nnspec" run "$spec" --store "$tmp/reference.sqlite" --jobs 1 --quiet >"$tmp/reference.txt") ||
    { cat "$tmp/reference.txt"; fail "the reference run"; }
  "$nnspec" export "$tmp/reference.sqlite" --format csv >"$tmp/reference.csv"
  checkExport "$tmp/workers.csv" "$tmp/reference.csv" "$expected"
}

# Every planned trial finished exactly once, with the reference run's numbers (the
# columns that depend on the schedule aside).
checkExport() {
  python3 - "$@" <<'EOF'
import csv, sys
workers_path, reference_path, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
schedule = {"trial", "seconds", "attempts", "started_at", "ended_at"}
def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
def key(row):
    return (row["sweep"], row["point"], row["fold"], row["replicate"])
rows, reference = read(workers_path), read(reference_path)
problems = []
if len(rows) != expected:
    problems.append(f"{len(rows)} trials in the export, {expected} planned")
keys = [key(row) for row in rows]
if len(set(keys)) != len(keys):
    problems.append(f"{len(keys) - len(set(keys))} trials appear more than once")
unfinished = [f"{key(row)}: {row['status']}" for row in rows if row["status"] != "finished"]
problems += [f"not finished: {item}" for item in unfinished]
by_key = {key(row): row for row in reference}
differ = 0
for row in rows:
    ref = by_key.get(key(row))
    if ref is None:
        problems.append(f"{key(row)} is not in the reference run")
        continue
    changed = [name for name in row if name not in schedule and row[name] != ref.get(name)]
    if changed:
        differ += 1
        problems.append(f"{key(row)} differs from the reference in {', '.join(changed[:6])}")
reclaimed = sum(1 for row in rows if row["attempts"] not in ("", "1"))
print(f"{len(rows)} trials, {len(set(keys))} distinct, {len(rows) - len(unfinished)} finished, "
      f"{reclaimed} taken up again after a worker left; {len(rows) - differ} equal to the one-process run")
for problem in problems[:20]:
    print("FAIL:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
}

# ---- main ------------------------------------------------------------------------------

nnspec=
if [[ $dummy -eq 0 ]]; then
  # Fail before installing or starting anything when the nnspec side is not ready.
  [[ -f "$pg_script" ]] || fail "$pg_script is missing (it starts the test PostgreSQL); run with --dummy to check Slurm alone"
  nnspec=${NNSPEC:-$repo/build/nnspec}
  [[ -x "$nnspec" ]] || fail "no nnspec binary at $nnspec: build it (bash scripts/build.sh --tests) or set NNSPEC"
  nnspec=$(cd "$(dirname "$nnspec")" && pwd)/$(basename "$nnspec")
  run_help=$("$nnspec" run --help 2>&1 || true)
  for flag in --worker --release-on --lease-timeout; do
    [[ "$run_help" == *"$flag"* ]] || fail "$nnspec run has no $flag: this build predates the PostgreSQL workers"
  done
fi

installPackages
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnspec-slurm-e2e.XXXXXX")
chmod 755 "$tmp"
mkdir -p "$tmp/jobs"
startMunge
startSlurm
if [[ $dummy -eq 1 ]]; then
  runDummy
else
  runWorkers
fi
say "PASS"
