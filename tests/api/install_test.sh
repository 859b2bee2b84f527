#!/usr/bin/env bash
# Installs nnspec into a temporary prefix, builds examples/embed_c against it with
# find_package(nnspec), runs it, and checks that its test accuracy (read from the store,
# and recomputed from the model's predictions) equals what `nnspec run` records for the
# same spec, sweep, seed and overrides. Then compiles the example with pkg-config.
#
# usage: install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/nnspec-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

same() {  # two decimals within 1e-6
  awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d < 1e-6) }'
}

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
library=$(find "$prefix" -name 'libnnspec.so.0' | head -1)
[ -n "$library" ] || fail "no libnnspec.so.0 under the prefix"
# Outputs go to files before grep -q reads them: under pipefail, grep -q quitting at its
# first match can fail the writer with SIGPIPE and so the whole check.
readelf -d "$library" > "$work/readelf.txt"
grep -q 'SONAME.*libnnspec.so.0' "$work/readelf.txt" || fail "libnnspec.so has no SONAME libnnspec.so.0"
nm -D --defined-only "$library" | awk '{ print $3 }' > "$work/symbols.txt"
grep -v '^nnspec_\|^NNSPEC_0' "$work/symbols.txt" > "$work/other_symbols.txt" || true
if [ -s "$work/other_symbols.txt" ]; then
  fail "libnnspec.so exports symbols besides the C API"
fi

cmake -S "$src/examples/embed_c" -B "$work/embed" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/configure.log" || { cat "$work/configure.log"; fail "configuring examples/embed_c"; }
cmake --build "$work/embed" > "$work/build.log" || { cat "$work/build.log"; fail "building examples/embed_c"; }
ldd "$work/embed/embed_c" > "$work/ldd.txt"
grep -q "$prefix" "$work/ldd.txt" || fail "embed_c does not load the installed libnnspec.so"

cd "$src"
"$work/embed/embed_c" specs/q3_fashion_mlp.nnspec "$work/embed.sqlite" | tee "$work/embed.out"
api=$(awk '$1 == "test.accuracy" { print $2 }' "$work/embed.out")
predicted=$(awk '$1 == "predicted" && $2 == "test.accuracy" { print $3 }' "$work/embed.out")
grep -q "unknown layer 'dens'" "$work/embed.out" || fail "embed_c printed no diagnostic record"

"$build/nnspec" run specs/q3_fashion_mlp.nnspec --sweep baseline --set epochs=2 --store "$work/cli.sqlite" \
  --no-report --quiet > "$work/cli.out"
cli=$("$build/nnspec" export "$work/cli.sqlite" --format csv |
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "test.accuracy") column = i } NR == 2 { print $column }')
echo "embed_c: test.accuracy $api, predicted test.accuracy $predicted; nnspec run: test.accuracy $cli"
same "$api" "$cli" || fail "embed_c's test.accuracy $api differs from nnspec run's $cli"
same "$predicted" "$cli" || fail "the model's predicted test.accuracy $predicted differs from nnspec run's $cli"

pc=$(dirname "$(find "$prefix" -name nnspec.pc | head -1)")
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs nnspec) || fail "pkg-config does not know nnspec"
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir nnspec)
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror "$src/examples/embed_c/embed_c.c" $flags -Wl,-rpath,"$libdir" -o "$work/embed_pc" ||
  fail "compiling embed_c.c with pkg-config's flags"
set +e
"$work/embed_pc" /nonexistent.nnspec > "$work/pc.out" 2> "$work/pc.err"
set -e
grep -q "open: bad input: error: '/nonexistent.nnspec': cannot open" "$work/pc.err" ||
  { cat "$work/pc.out" "$work/pc.err"; fail "the pkg-config build of embed_c did not run"; }
echo "pkg-config: $flags"
echo "ok"
