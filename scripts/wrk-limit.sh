#!/usr/bin/env bash
# The wire limit with wrk (docs/benchmarks.md, "The wire limit with wrk"):
# runs BenchmarkWrkLimit, which serves the production-size corpus
# (internal/testkit/prodcorpus, published once and cached under $TMPDIR by
# seed) from `pkgstore serve --read-only` processes, one at the default log
# level (an access line and a request id per request, to a file) and one at
# --log-level warn, and from a bare net/http server writing the same
# answers, and drives each with wrk -t2 -c32 over loopback in alternated
# rounds. Prints x-limit (ours / bare server) per route and the cost of the
# per-request work (1 - logged / quiet), medians of the rounds' ratios.
#
#   scripts/wrk-limit.sh                        # 6 rounds of 2 s per side
#   ROUNDS=10 DURATION=3s scripts/wrk-limit.sh
#   PROFILE=/tmp/serve.pprof scripts/wrk-limit.sh   # + a CPU profile under wrk
#   REVISIONS=2000 scripts/wrk-limit.sh         # a smaller corpus (quicker first run)
#   ROUTES=categories ROUNDS=12 scripts/wrk-limit.sh  # only /categories (the per-request work)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
args=(-run '^$' -bench WrkLimit -benchtime 1x -timeout 60m
  -wrk-rounds "${ROUNDS:-6}" -wrk-duration "${DURATION:-2s}" -prod-revisions "${REVISIONS:-10775}")
[ -n "${PROFILE:-}" ] && args+=(-wrk-profile "$PROFILE")
[ -n "${ROUTES:-}" ] && args+=(-wrk-routes "$ROUTES")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$repo" && go test ./cmd/pkgstore "${args[@]}" -v 2>&1 | grep -v '^=== RUN'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
