#!/bin/sh
# One line per install step, with its time: "install: torch 2.13.0 (35 s)". What the step
# prints (pip's hundreds of lines) goes to a log, shown only if the step fails.
# Usage: scripts/step.sh WHAT COMMAND [ARGUMENT...]
what=$1
shift
log=$(mktemp "${TMPDIR:-/tmp}/newsbot-install.XXXXXX") || exit 1
start=$(date +%s)
printf 'install: %s' "$what"
if "$@" >"$log" 2>&1; then
    printf ' (%s s)\n' "$(($(date +%s) - start))"
    rm -f "$log"
else
    status=$?
    printf ' failed (exit %s) after %s s; its output:\n' "$status" "$(($(date +%s) - start))"
    cat "$log"
    rm -f "$log"
    exit "$status"
fi
