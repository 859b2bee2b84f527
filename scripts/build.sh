#!/usr/bin/env bash
# Configures and builds nnspec in build/ (Release): the library, the CLI and its
# installable files; with --tests also the tests and benchmarks (setup.sh --tests
# installs what they need).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tests=OFF
case "${1:-}" in
  "") ;;
  --tests) tests=ON ;;
  *)
    echo "build: unknown option '$1'; use no option (nnspec itself) or --tests (and the test suite)" >&2
    exit 2
    ;;
esac
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DNNSPEC_TESTS=$tests >/dev/null
cmake --build "$root/build" -j2
