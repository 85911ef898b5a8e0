#!/usr/bin/env bash
# The long fuzzing mode: every `go test -fuzz` target of the project, one
# after the other, each for FUZZTIME (10m by default), with PARALLEL workers.
# A target that finds a failure stops the script with its output; the input
# is kept under the package's testdata/fuzz/<target>/ by go test, ready to
# become a seed once fixed.
#
#   scripts/fuzz-long.sh                 # every target, 10 minutes each
#   FUZZTIME=30s scripts/fuzz-long.sh    # a quick pass
#   scripts/fuzz-long.sh FuzzQuery       # only targets whose name matches
#
# Prints one summary line per target: name, package, time, execs, result.
# (-timeout 0: go test's default 10-minute limit would otherwise end a
# 10-minute run as a failure, "context deadline exceeded".)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10m}
parallel=${PARALLEL:-1}
filter=${1:-}
logdir=${FUZZ_LOGS:-$(mktemp -d)}
mkdir -p "$logdir"

# Targets are found, not listed, so a new one cannot be left out.
mapfile -t targets < <(grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null |
	while read -r f; do
		sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f" | while read -r t; do
			echo "./$(dirname "$f") $t"
		done
	done | sort)

status=0
for line in "${targets[@]}"; do
	pkg=${line% *}
	t=${line#* }
	if [[ -n $filter && ! $t =~ $filter ]]; then
		continue
	fi
	log="$logdir/$t.log"
	start=$(date +%s)
	if go test "$pkg" -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" -timeout 0 -parallel "$parallel" >"$log" 2>&1; then
		result=ok
	else
		result=FAIL
		status=1
	fi
	took=$(($(date +%s) - start))
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	printf '%-20s %-22s %5ds %12s execs  %s\n' "$t" "$pkg" "$took" "${execs:-?}" "$result"
	if [[ $result == FAIL ]]; then
		tail -40 "$log"
		exit 1
	fi
done
exit $status
