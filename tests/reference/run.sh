#!/usr/bin/env bash
# Runs the reference studies in full and asserts the figures the README claims for them;
# prints a table. Not part of the test suite or CI: it takes hours on 2 cores.
#
#   tests/reference/run.sh [STUDY...]     STUDY: amath482 dat565 lab3 hw1 (default: all)
#
# Environment: NNSPEC (default build/nnspec), WORK (default a fresh temporary folder; the
# stores and logs stay there, so a rerun with the same WORK resumes instead of retraining).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nnspec=${NNSPEC:-$root/build/nnspec}
[[ -x "$nnspec" ]] || { echo "reference: no nnspec at $nnspec: run bash scripts/build.sh, or set NNSPEC" >&2; exit 2; }
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
studies=("$@")
[[ ${#studies[@]} -gt 0 ]] || studies=(amath482 dat565 lab3 hw1)

rows=()
failed=0

# check NAME FIGURE CLAIM MEASURED: MEASURED >= CLAIM, or MEASURED == CLAIM for a name.
check() {
  local study=$1 figure=$2 claim=$3 measured=$4 ok
  if [[ "$claim" =~ ^[0-9.]+$ ]]; then
    ok=$(python3 -c "import sys; print('ok' if sys.argv[1] != '' and float(sys.argv[1]) >= float(sys.argv[2]) else 'FAIL')" \
      "$measured" "$claim")
    claim=">= $claim"
  else
    ok=$([[ "$measured" == "$claim" ]] && echo ok || echo FAIL)
  fi
  [[ $ok == ok ]] || failed=1
  rows+=("$(printf '%-9s %-46s %-12s %-12s %s' "$study" "$figure" "$claim" "${measured:-none}" "$ok")")
}

# run NAME SPEC ARGS...: runs into $work/NAME.sqlite, the log in $work/NAME.log.
run() {
  local name=$1 spec=$2
  shift 2
  echo "reference: $name: nnspec run $spec $* (log: $work/$name.log)" >&2
  local started=$SECONDS
  if ! "$nnspec" run "$root/specs/$spec" --store "$work/$name.sqlite" --jobs 2 "$@" >"$work/$name.log" 2>&1; then
    echo "reference: $name failed; the end of its log:" >&2
    tail -20 "$work/$name.log" >&2
    failed=1
    return 1
  fi
  echo "reference: $name: $((SECONDS - started)) s" >&2
}

# json NAME EXPRESSION: evaluates EXPRESSION (Python, over `d`, the store's JSON export).
json() {
  "$nnspec" export "$work/$1.sqlite" --format json | python3 -c "
import json, sys
d = json.load(sys.stdin)
finished = [t for t in d['trials'] if t['status'] == 'finished']
value = $2
print('' if value is None else round(value, 4) if isinstance(value, float) else value)"
}

for study in "${studies[@]}"; do
  case $study in
    amath482)
      # The LeNet-like CNN alone (train block convolutional), 10 epochs on 55k/5k.
      if run amath482_cnn amath482_fashion.nnspec --train convolutional; then
        check amath482 "CNN test.accuracy (10 epochs)" 0.90 \
          "$(json amath482_cnn "max(t['metrics']['test.accuracy'] for t in finished) if finished else None")"
      fi
      ;;
    dat565)
      if run dat565_lenet dat565_mnist.nnspec --train lenet; then
        check dat565 "LeNet-5 test.accuracy" 0.975 \
          "$(json dat565_lenet "max(t['metrics']['test.accuracy'] for t in finished) if finished else None")"
      fi
      ;;
    lab3)
      if run lab3_arch lab3_fashion_mlp.nnspec --sweep arch; then
        check lab3 "architecture ranked first (5-fold CV)" "hidden=[50]" \
          "$(json lab3_arch "[s for s in d['sweeps'] if s['name'] == 'arch'][0]['points'][0]['point']")"
        check lab3 "its CV val.accuracy" 0.84 \
          "$(json lab3_arch "[s for s in d['sweeps'] if s['name'] == 'arch'][0]['points'][0]['metrics']['val.accuracy']['mean']")"
      fi
      ;;
    hw1)
      if run hw1_image_cv hw1_optuna.nnspec --sweep image_cv; then
        check hw1 "CNN majority vote of 10 fold models, test.accuracy" 0.89 \
          "$(sed -n 's/.*majority vote of the [0-9]* models of .*: test.accuracy \([0-9.]*\).*/\1/p' "$work/hw1_image_cv.log" | tail -1)"
      fi
      ;;
    *)
      echo "reference: unknown study '$study'; the studies are amath482 dat565 lab3 hw1" >&2
      exit 2
      ;;
  esac
done

printf '\n%-9s %-46s %-12s %-12s %s\n' study figure claimed measured ""
for row in "${rows[@]}"; do echo "$row"; done
echo "stores and logs: $work"
exit $failed
