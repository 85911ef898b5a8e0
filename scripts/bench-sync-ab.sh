#!/usr/bin/env bash
# Before/after runs of BenchmarkSync/file-scaled for docs/benchmarks.md:
# builds the sync-v1 benchmark of each git revision given (go test -c, in
# temporary worktrees), then migrates the production-sized selection
# (-sync-scale 101: 1,919 revisions, 2.29 GB) with each binary in turn,
# ROUNDS times, 45 s apart so that the disk's writeback of one run is over
# before the next. One line per run: round, revision, MB/s, CPU-ms/MB.
# Runs on this kind of machine vary by about ±10 %: compare medians of
# alternated runs, never two single runs.
#
#   scripts/bench-sync-ab.sh 42119a2 HEAD            # 3 rounds
#   ROUNDS=5 scripts/bench-sync-ab.sh 42119a2 HEAD
#   ROUNDS=1 SCALE=1 PAUSE=0 scripts/bench-sync-ab.sh HEAD   # a quick check
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
scale=${SCALE:-101}
pause=${PAUSE:-45}
[ $# -ge 1 ] || { echo "usage: $0 REV [REV...]" >&2; exit 2; }
work=$(mktemp -d)
trap 'for w in "$repo"/../.bench-tree-*-$$; do [ -d "$w" ] && git -C "$repo" worktree remove --force "$w"; done; rm -rf "$work"' EXIT
bins=()
for rev in "$@"; do
  # Worktrees beside the repository, so that ../shared resolves from them too.
  tree="$repo/../.bench-tree-$(git -C "$repo" rev-parse --short "$rev")-$$"
  git -C "$repo" worktree add --detach --force "$tree" "$rev" >/dev/null
  (cd "$tree" && go test -c -o "$work/$(basename "$tree").test" ./internal/client/syncv1)
  git -C "$repo" worktree remove --force "$tree"
  bins+=("$work/$(basename "$tree").test")
done
cd "$repo/internal/client/syncv1"
for r in $(seq 1 "$rounds"); do
  for i in "${!bins[@]}"; do
    sleep "$pause"
    line=$("${bins[$i]}" -test.run '^$' -test.bench 'Sync/file-scaled$' -test.benchtime 1x -sync-scale "$scale" -test.timeout 30m | grep '^BenchmarkSync')
    mbs=$(awk '{for (i = 1; i <= NF; i++) if ($i == "MB/s") print $(i-1)}' <<<"$line")
    cpu=$(awk '{for (i = 1; i <= NF; i++) if ($i == "CPU-ms/MB") print $(i-1)}' <<<"$line")
    echo "round $r  ${@:i+1:1}  $mbs MB/s  $cpu CPU-ms/MB"
  done
done
