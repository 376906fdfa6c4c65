#!/usr/bin/env bash
# One line per `make demo` step: "[n/N] title ... 42 s" while the step's own output goes to
# build/logs/demo/NN.log; a failing step prints its last 40 lines and the log's path, and stops.
#   usage: step.sh N/TOTAL "title" command args...
set -uo pipefail
num=$1 title=$2
shift 2
logs=build/logs/demo    # the Makefile's recipes write under build/ too
mkdir -p "$logs"
log=$logs/$(printf '%02d' "${num%%/*}").log
printf '[%s] %s ... ' "$num" "$title"
start=$(date +%s)
"$@" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
if [ $rc -ne 0 ]; then
    printf 'FAILED after %d s (exit %d)\n' "$secs" "$rc"
    tail -n 40 "$log" | sed 's/^/    /'
    echo "error: step [$num] '$title' failed; its whole output is in $log" >&2
    exit $rc
fi
printf '%d s  (%s)\n' "$secs" "$log"
printf '%s\t%s\t%d\n' "$num" "$title" "$secs" >>"$logs/times.tsv"
