#!/usr/bin/env bash
# Two lines per `make demo` step, "[n/N] title ..." when it starts and "[n/N] 42 s  title" when it
# ends (the demo's two lanes print in between), while the step's own output goes to
# build/logs/demo/NN.log; a failing step prints its last 40 lines and the log's path, and stops.
#   usage: step.sh N/TOTAL "title" command args...
set -uo pipefail
num=$1 title=$2
shift 2
logs=build/logs/demo    # the Makefile's recipes write under build/ too
mkdir -p "$logs"
log=$logs/$(printf '%02d' "${num%%/*}").log
printf '[%s] %s ...\n' "$num" "$title"
start=$(date +%s)
"$@" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
if [ $rc -ne 0 ]; then
    printf '[%s] FAILED after %d s (exit %d): %s\n' "$num" "$secs" "$rc" "$title"
    tail -n 40 "$log" | sed 's/^/    /'
    echo "error: step [$num] '$title' failed; its whole output is in $log" >&2
    exit $rc
fi
printf '[%s] %4d s  %s  (%s)\n' "$num" "$secs" "$title" "$log"
printf '%s\t%s\t%d\n' "$num" "$title" "$secs" >>"$logs/times.tsv"
