#!/usr/bin/env bash
# status, export (results and a model) and report read a store this process may not
# write: a read-only file in a read-only folder, with no -wal or -shm file beside it.
# Run as root, the readers run as the user 'nobody' (root may write anything).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nnspec=${NNSPEC:-$root/build/nnspec}
tmp=$(mktemp -d /tmp/nnspec_ro.XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir "$tmp/store"
"$nnspec" run "$root/tests/e2e/specs/synthetic_regression.nnspec" --store "$tmp/store/s.sqlite" --quiet --no-report \
  --set epochs=2 >/dev/null
[ ! -e "$tmp/store/s.sqlite-wal" ] || { echo "FAIL: the run left a -wal file"; exit 1; }
mkdir "$tmp/out" && chmod 777 "$tmp/out"
chmod 444 "$tmp/store/s.sqlite" && chmod 555 "$tmp/store"
as_reader() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups env NNSPEC_CACHE_DIR=off "$@"
  else
    env NNSPEC_CACHE_DIR=off "$@"
  fi
}
as_reader test ! -w "$tmp/store/s.sqlite" || { echo "FAIL: the reader may write the store"; exit 1; }
as_reader "$nnspec" status "$tmp/store/s.sqlite" | grep -q "trials: " || { echo "FAIL: status"; exit 1; }
rows=$(as_reader "$nnspec" export "$tmp/store/s.sqlite" --format csv | wc -l)
[ "$rows" -gt 1 ] || { echo "FAIL: export printed $rows lines"; exit 1; }
as_reader "$nnspec" export "$tmp/store/s.sqlite" --model --best --format npz -o "$tmp/out/best.npz" >/dev/null
[ -s "$tmp/out/best.npz" ] || { echo "FAIL: no model exported"; exit 1; }
as_reader "$nnspec" report "$tmp/store/s.sqlite" -o "$tmp/out/r.html" >/dev/null
[ -s "$tmp/out/r.html" ] || { echo "FAIL: no report"; exit 1; }
[ ! -e "$tmp/store/s.sqlite-shm" ] || { echo "FAIL: a reader left a -shm file"; exit 1; }
echo "PASS: status, export (csv and npz) and report read a read-only store"
