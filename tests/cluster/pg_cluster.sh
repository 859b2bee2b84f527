#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests and benchmarks, kept entirely in one folder.
#
#   bash tests/cluster/pg_cluster.sh start DIR [--watch PID]
#       Creates the cluster in DIR/data (unless there), starts it on 127.0.0.1 at a free
#       port (unix sockets in DIR), with a role 'nnspec' (password 'nnspec-test') owning a
#       database 'nnspec'. Writes DIR/url and DIR/pgpass (mode 0600) and prints one line,
#       the URL: postgresql://nnspec@127.0.0.1:PORT/nnspec. Clients set PGPASSFILE=DIR/pgpass.
#       With --watch PID, the server is stopped and DIR removed once process PID is gone
#       (for a test process that may crash). Starting a running cluster prints its URL.
#   bash tests/cluster/pg_cluster.sh createdb DIR NAME
#       Creates database NAME owned by 'nnspec' and prints its URL.
#   bash tests/cluster/pg_cluster.sh pause DIR
#       Stops the server but keeps DIR: `start DIR` brings it back on the same port (to
#       test clients that lose the server and reconnect).
#   bash tests/cluster/pg_cluster.sh stop DIR
#       Stops the server and removes DIR.
#
# The server runs with fsync off: fast, and fine for data that is thrown away. initdb and
# postgres refuse to run as root; as root, the server binaries run as the user 'postgres'
# (which Debian's postgresql package creates) and DIR belongs to it, except DIR/pgpass,
# which stays the caller's. Nothing goes to /var/lib/postgresql and nothing is systemd's.
# Exit status: 0 ok, 1 the server failed (its log is printed), 2 bad usage or missing
# binaries.
set -euo pipefail

bin=${NNSPEC_PG_BIN:-/usr/lib/postgresql/15/bin}
script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
role=nnspec
password=nnspec-test
admin=postgres
port_attempts=8

usage() {
  echo "usage: pg_cluster.sh start DIR [--watch PID] | createdb DIR NAME | pause DIR | stop DIR" >&2
  exit 2
}

fail() {
  echo "pg_cluster: $*" >&2
  exit 1
}

require_binaries() {
  for tool in initdb pg_ctl postgres psql; do
    if [ ! -x "$bin/$tool" ]; then
      echo "pg_cluster: $bin/$tool not found: the PostgreSQL 15 server is not installed; run scripts/setup.sh --tests" >&2
      exit 2
    fi
  done
}

as_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a server binary as the cluster's owner: 'postgres' when we are root, else us.
as_owner() {
  if as_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# SQL from stdin, run by the admin over the unix socket.
admin_sql() {
  as_owner "$bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" -U "$admin" -d postgres
}

url_for() { echo "postgresql://$role@127.0.0.1:$(cat "$dir/port")/$1"; }

running() { [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; }

init_cluster() {
  if as_root; then
    id postgres >/dev/null 2>&1 || { echo "pg_cluster: no user 'postgres'; run scripts/setup.sh --tests" >&2; exit 2; }
    chown postgres:postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "pg_cluster: user 'postgres' (the server's, as we run as root) cannot enter $dir: every folder" \
        "above it must be searchable by others; use a folder such as /tmp/NAME" >&2
      exit 2
    fi
  fi
  chmod 700 "$dir"
  [ -f "$dir/data/PG_VERSION" ] && return 0
  as_owner "$bin/initdb" --pgdata="$dir/data" --username="$admin" --auth=trust --encoding=UTF8 --locale=C \
    --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; fail "initdb failed"; }
  # The admin only over the socket in DIR (mode 0700), everyone else by password over TCP.
  as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
local all $admin trust
host all $role 127.0.0.1/32 scram-sha-256
EOF
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF

# pg_cluster.sh: a throwaway test server
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = scram-sha-256
lc_messages = 'C'
EOF
}

# A port nothing listens on, among those the kernel does not hand out to clients; the
# cluster's last port when it had one (after pause).
pick_port() {
  local port
  if [ -f "$dir/port" ] && [ "$1" -eq 1 ]; then
    cat "$dir/port"
    return
  fi
  while true; do
    port=$((10000 + RANDOM % 22000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

start_server() {
  local attempt port
  for attempt in $(seq "$port_attempts"); do
    port=$(pick_port "$attempt")
    as_owner truncate -s 0 "$dir/server.log"  # this attempt's messages only
    if as_owner "$bin/pg_ctl" start --wait --silent -D "$dir/data" -l "$dir/server.log" -o "-p $port" >/dev/null 2>&1
    then
      echo "$port" >"$dir/port"
      return 0
    fi
    # Another process took the port between our check and the server's bind: try another.
    grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/server.log" 2>/dev/null || break
  done
  cat "$dir/server.log" >&2 2>/dev/null || true
  fail "the server did not start (log above, in $dir/server.log)"
}

create_role_and_database() {
  admin_sql <<EOF
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') AS need_role,
       NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$role') AS need_database \gset
\if :need_role
CREATE ROLE $role LOGIN PASSWORD '$password';
\endif
\if :need_database
CREATE DATABASE $role OWNER $role;
\endif
EOF
}

write_client_files() {
  local pgpass=$dir/pgpass
  rm -f "$pgpass"
  (umask 077 && echo "127.0.0.1:$(cat "$dir/port"):*:$role:$password" >"$pgpass")
  url_for "$role" >"$dir/url"
}

# Stops the cluster once process $1 is gone; detached, holding none of our output open.
watch_process() {
  local pid=$1
  # shellcheck disable=SC2016 # the inner script's arguments, expanded by the inner bash
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; [ -d "$2" ] && bash "$3" stop "$2"' \
    pg_cluster_watch "$pid" "$dir" "$script" </dev/null >/dev/null 2>&1 &
}

command_start() {
  local watch_pid=""
  if [ $# -eq 2 ] && [ "$1" = --watch ]; then
    watch_pid=$2
  elif [ $# -ne 0 ]; then
    usage
  fi
  require_binaries
  mkdir -p "$dir"
  cd "$dir"  # the server binaries may not be able to read the caller's folder
  if running && [ -f "$dir/url" ]; then
    cat "$dir/url"
    return
  fi
  init_cluster
  start_server
  create_role_and_database
  write_client_files
  [ -z "$watch_pid" ] || watch_process "$watch_pid"
  cat "$dir/url"
}

command_createdb() {
  [ $# -eq 1 ] || usage
  local name=$1
  if ! [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
    echo "pg_cluster: database name '$name' must be lowercase letters, digits and '_'" >&2
    exit 2
  fi
  require_binaries
  [ -d "$dir" ] || fail "no cluster in $dir; start it first"
  cd "$dir"
  running || fail "no server runs in $dir; start it first"
  echo "CREATE DATABASE $name OWNER $role;" | admin_sql
  url_for "$name"
}

stop_server() {
  if [ -f "$dir/data/postmaster.pid" ] && [ -x "$bin/pg_ctl" ]; then
    as_owner "$bin/pg_ctl" stop --wait --silent -D "$dir/data" -m fast >/dev/null 2>&1 || true
  fi
}

command_pause() {
  [ $# -eq 0 ] || usage
  cd /
  [ -d "$dir" ] || fail "no cluster in $dir"
  stop_server
}

command_stop() {
  [ $# -eq 0 ] || usage
  cd /
  [ -d "$dir" ] || return 0
  stop_server
  rm -rf "$dir"
}

[ $# -ge 2 ] || usage
command=$1
dir=$(realpath -m "$2")
shift 2
case $command in
  start) command_start "$@" ;;
  createdb) command_createdb "$@" ;;
  pause) command_pause "$@" ;;
  stop) command_stop "$@" ;;
  *) usage ;;
esac
