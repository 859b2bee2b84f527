#!/usr/bin/env bash
# Credentials and TLS as libpq takes them, through `nnspec run` and `nnspec status` on a
# throwaway PostgreSQL 15 (tests/cluster/pg_cluster.sh): a password file (PGPASSFILE),
# PGPASSWORD, a service file (PGSERVICEFILE + PGSERVICE, with the URL saying nothing but
# postgresql://), and TLS with the server's certificate verified against a certificate
# authority (PGSSLMODE=verify-full, PGSSLROOTCERT): the right one connects, another one
# is refused with exit 2. The password never appears in what nnspec prints.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
nnspec=${NNSPEC:-$root/build/nnspec}
e2e_name=credentials
source "$root/tests/cluster/e2e_lib.sh"

url=$(bash "$root/tests/cluster/pg_cluster.sh" start "$tmp/pg" --watch $$)
port=$(cat "$tmp/pg/port")
password=nnspec-test
echo "== PostgreSQL at $url"

# expect CODE WHAT COMMAND...: runs it with the environment set up by the caller.
expect() {
  local want=$1 what=$2
  shift 2
  local code=0
  timeout 120 "$@" >"$tmp/out" 2>&1 || code=$?
  if [ "$code" != "$want" ]; then cat "$tmp/out"; fail "$what: exit $code, expected $want"; fi
  if grep -q -- "$password" "$tmp/out"; then cat "$tmp/out"; fail "$what: the password was printed"; fi
  echo "== $what: exit $code $(grep -m1 '^error' "$tmp/out" || true)"
}

spec=$root/tests/e2e/specs/fashion_small.nnspec
PGPASSFILE=$tmp/pg/pgpass expect 0 "a study run with the password in PGPASSFILE" \
  "$nnspec" run "$spec" --store "$url" --set epochs=1 --quiet --no-report
(unset PGPASSFILE; PGPASSWORD=$password expect 0 "status with the password in PGPASSWORD" "$nnspec" status "$url")
(unset PGPASSFILE; PGPASSWORD=wrong expect 2 "status with a wrong PGPASSWORD" "$nnspec" status "$url")

cat >"$tmp/pg_service.conf" <<CONF
[study]
host=127.0.0.1
port=$port
dbname=nnspec
user=nnspec
passfile=$tmp/pg/pgpass
CONF
(unset PGPASSFILE; PGSERVICEFILE="$tmp/pg_service.conf" PGSERVICE=study \
  expect 0 "status through a service file, the URL naming nothing" "$nnspec" status "postgresql://")

echo "== TLS: a certificate authority, the server's certificate for 127.0.0.1, ssl on"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nnspec test CA" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
  -keyout "$tmp/other.key" -out "$tmp/other.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1') -out "$tmp/server.crt" 2>/dev/null
data=$tmp/pg/data
cp "$tmp/server.crt" "$tmp/server.key" "$data/"
chmod 600 "$data/server.key"
admin=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$data/server.crt" "$data/server.key"
  admin=(runuser -u postgres --)
fi
"${admin[@]}" psql -h "$tmp/pg" -p "$port" -d nnspec -qAt -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" \
  >/dev/null
sleep 1
tls=$(PGPASSFILE=$tmp/pg/pgpass PGSSLMODE=verify-full PGSSLROOTCERT=$tmp/ca.crt \
  psql "$url" -tAc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
[ "$tls" = t ] || fail "the server does not speak TLS ($tls)"
PGPASSFILE=$tmp/pg/pgpass PGSSLMODE=verify-full PGSSLROOTCERT=$tmp/ca.crt \
  expect 0 "status over TLS, the server verified against its authority" "$nnspec" status "$url"
PGPASSFILE=$tmp/pg/pgpass PGSSLMODE=verify-full PGSSLROOTCERT=$tmp/other.crt \
  expect 2 "status over TLS with another authority" "$nnspec" status "$url"
grep -qi "certificate" "$tmp/out" || { cat "$tmp/out"; fail "the refusal does not say the certificate is at fault"; }
echo "PASS: credentials"
