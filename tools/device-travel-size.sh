#!/bin/bash
# How much of this checkout a device call would carry (tracked files, untracked files git does not ignore, and the
# carried paths given as arguments) against the 64 MiB the call accepts, with the largest files named.
#
#   bash tools/device-travel-size.sh data/corpus
set -eu -o pipefail
cd "$(git rev-parse --show-toplevel)"
LIMIT=$((64 * 1024 * 1024))
tree=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
carried=0
for p in "$@"; do carried=$((carried + $(du -sb "$p" | cut -f1))); done
total=$((tree + carried))
printf 'working tree %d bytes (%.1f MiB), carried %d bytes (%.1f MiB), total %.1f MiB of 64 MiB\n' \
  "$tree" "$(echo "$tree/1048576" | bc -l)" "$carried" "$(echo "$carried/1048576" | bc -l)" "$(echo "$total/1048576" | bc -l)"
echo "largest files that travel:"
git ls-files -z -co --exclude-standard | xargs -0 -r stat -c '%s %n' 2>/dev/null | sort -rn | head -5 | awk '{printf "  %6.1f MiB  %s\n", $1/1048576, $2}'
if [ "$total" -gt "$LIMIT" ]; then echo "OVER the limit: the call would be refused"; exit 1; fi
echo "fits"
