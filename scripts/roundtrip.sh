#!/usr/bin/env bash
# The README's round trip, run for real: a GnuPG key made on the fly, a
# store on a free loopback port, examples/hello built, signed with gpg,
# published, found by /search, downloaded with its signature and verified
# with gpg. The commands between "roundtrip:begin" and "roundtrip:end" are
# the README's ("Using it"), line for line: this script fails when the two
# differ. It works in a temporary copy of the repository and removes it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

# The README's commands must be this script's.
block() { sed -n "/^$2roundtrip:begin/,/^$2roundtrip:end/p" "$1" | sed '1d;$d' | sed '/^```/d'; }
if ! diff <(block "$repo/README.md" '<!-- ') <(block "$0" '# ') >/dev/null; then
  echo "roundtrip: README.md's round trip differs from $0 (< README, > script):" >&2
  diff <(block "$repo/README.md" '<!-- ') <(block "$0" '# ') >&2 || true
  exit 1
fi

for tool in go gpg gpgconf curl timeout tar; do
  command -v "$tool" >/dev/null || { echo "roundtrip: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pkgstore-roundtrip.XXXXXX")
export GNUPGHOME="$work/gnupg"
cleanup() {
  local rc=$?
  local pids
  pids=$(jobs -p)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null || true
    wait $pids 2>/dev/null || true
  fi
  if [ -d "$GNUPGHOME" ]; then gpgconf --kill gpg-agent 2>/dev/null || true; fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -m 700 "$GNUPGHOME"

# A copy of the sources: the commands write pkgstore, build/ and data/.
tar -C "$repo" --exclude=./.git --exclude=./build --exclude=./data --exclude=./pkgstore -cf - . | tar -C "$work" -xf -
cd "$work"

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "roundtrip: no free port" >&2
  return 1
}
ADDR="127.0.0.1:$(free_port)"

# roundtrip:begin
ADDR=${ADDR:-localhost:8080}   # where the store listens
go build -o pkgstore ./cmd/pkgstore
gpg --batch --passphrase '' --quick-gen-key you@example.com ed25519 sign never   # skip if you have a key
gpg --armor --export you@example.com > trusted.asc
./pkgstore serve --addr "$ADDR" --keyring trusted.asc --publish-token s3cret &
timeout 30 sh -c "until curl -fs http://$ADDR/health >/dev/null; do sleep 0.2; done"
./pkgstore build examples/hello   # -> build/packages/hello-1.0.0.zip
gpg --armor --detach-sign build/packages/hello-1.0.0.zip   # -> build/packages/hello-1.0.0.zip.asc
./pkgstore publish build/packages/hello-1.0.0.zip --registry "http://$ADDR" --token s3cret
curl -fsS "http://$ADDR/search?package=hello"
curl -fsS -O "http://$ADDR/epr/hello/hello-1.0.0.zip" -O "http://$ADDR/epr/hello/hello-1.0.0.zip.sig"
gpg --verify hello-1.0.0.zip.sig hello-1.0.0.zip
# roundtrip:end

# What the commands showed, checked.
curl -fsS "http://$ADDR/search?package=hello" | grep -q '"version": "1.0.0"' || { echo "roundtrip: /search does not list hello 1.0.0" >&2; exit 1; }
cmp build/packages/hello-1.0.0.zip hello-1.0.0.zip || { echo "roundtrip: the downloaded zip is not the one built" >&2; exit 1; }
cmp build/packages/hello-1.0.0.zip.asc hello-1.0.0.zip.sig || { echo "roundtrip: the downloaded signature is not the one made" >&2; exit 1; }
echo "roundtrip: ok"
