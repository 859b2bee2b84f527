# What the end-to-end scripts of tests/cluster share (sourced, not run): a scratch folder
# that the server user can enter, the processes to kill and the throwaway PostgreSQL to
# stop on exit, and `fail`. The sourcing script sets `root` first.

# As root the server runs as 'postgres', which must be able to enter the folder.
tmp=$(mktemp -d "/tmp/nnspec_${e2e_name:-e2e}.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ -d "$tmp/pg" ]; then bash "$root/tests/cluster/pg_cluster.sh" stop "$tmp/pg" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
