#!/usr/bin/env bash
# Two lines per `make demo` (or `make bench`) step, "[n/N] title ..." when it starts and
# "[n/N] 42 s  title" when it ends (the demo's two lanes print in between), while the step's own
# output goes to $STEP_LOGS/NN.log (default build/logs/demo), and its wall and CPU seconds
# (user + system) to times.tsv there; a failing step prints its last 40 lines and the log's path,
# and stops.
#   usage: step.sh N/TOTAL "title" command args...
set -uo pipefail
num=$1 title=$2
shift 2
logs=${STEP_LOGS:-build/logs/demo}    # the Makefile's recipes write under build/ too
mkdir -p "$logs"
log=$logs/$(printf '%02d' "${num%%/*}").log
printf '[%s] %s ...\n' "$num" "$title"
start=$(date +%s)
TIMEFORMAT='%U %S'    # bash's `time`: the command's user and system seconds, into $log.cpu
{ time "$@" >"$log" 2>&1; } 2>"$log.cpu"
rc=$?
secs=$(( $(date +%s) - start ))
cpu=$(awk '{ printf "%d", $1 + $2 + 0.5 }' "$log.cpu")
rm -f "$log.cpu"
if [ $rc -ne 0 ]; then
    printf '[%s] FAILED after %d s (exit %d): %s\n' "$num" "$secs" "$rc" "$title"
    tail -n 40 "$log" | sed 's/^/    /'
    echo "error: step [$num] '$title' failed; its whole output is in $log" >&2
    exit $rc
fi
printf '[%s] %4d s  %s  (%s, %d CPU-s)\n' "$num" "$secs" "$title" "$log" "$cpu"
printf '%s\t%s\t%d\t%d\n' "$num" "$title" "$secs" "$cpu" >>"$logs/times.tsv"
