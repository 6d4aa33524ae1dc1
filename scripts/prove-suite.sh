#!/usr/bin/env bash
# Runs the suite (npm test) several times in a row from a fresh clone in a private (0700) folder,
# with two CPU-bound processes beside it (--burners N), as a newcomer's machine would: as root
# (--as root), or as a user who is not root, in a 0700 home of theirs (--as nobody, or --as USER).
# Stops at the first failed run. Run it as root from a checkout; it proves the committed HEAD.
#
#   scripts/prove-suite.sh --as root --runs 5
#   scripts/prove-suite.sh --as nobody --runs 5
#   scripts/prove-suite.sh --as nobody --runs 1 -- test/integration/state-file.test.ts  # some files only
#
# Each run's output is kept in the log folder it names (PROVE_LOGS, default /tmp); the clone is removed.
set -euo pipefail

runs=5
as=root
burners=2
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --as) as="$2"; shift 2 ;;
    --burners) burners="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--as root|nobody|USER] [--runs N] [--burners N] [-- test files...]" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "$0: run it as root: it makes the private clone and hands it to --as" >&2
  exit 2
fi

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
head=$(git -C "$repo" rev-parse HEAD)
logs=$(mktemp -d "${PROVE_LOGS:-/tmp}/aciimg-prove-$as-XXXXXX")
work=$(mktemp -d)
burning=()
cleanup() {
  for pid in "${burning[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

home="$work/home"
mkdir -m 700 "$home"
git clone --quiet --no-hardlinks "$repo" "$home/aciimg"
git -C "$home/aciimg" checkout --quiet --detach "$head"

if [ "$as" = root ]; then
  run_as() { (cd "$home/aciimg" && "$@"); }
else
  uid=$(id -u "$as")
  gid=$(id -g "$as")
  # npm's cache, so the user's `npm ci` need not fetch every package again. Another npm writing it
  # meanwhile removes its temporary files under cp's feet: what was copied is enough (npm checks
  # every entry's integrity and fetches what is missing).
  cache=$(npm config get cache)
  if [ -d "$cache" ] && ! cp -R "$cache" "$home/.npm" 2>/dev/null; then
    echo "prove-suite: npm's cache changed while it was copied; npm ci fetches what is missing" >&2
  fi
  chown -R "$uid:$gid" "$work"
  run_as() {
    (cd "$home/aciimg" && setpriv --reuid="$uid" --regid="$gid" --clear-groups \
      env -i HOME="$home" PATH="$PATH" USER="$as" npm_config_cache="$home/.npm" ${CI:+CI="$CI"} "$@")
  }
fi

echo "clone of $head in $home/aciimg (0700), as $as; logs in $logs"
run_as npm ci --prefer-offline --no-audit --no-fund >"$logs/npm-ci.log" 2>&1 || {
  echo "npm ci failed: $logs/npm-ci.log" >&2
  exit 1
}

for _ in $(seq 1 "$burners"); do
  sh -c 'while :; do :; done' &
  burning+=($!)
done

for run in $(seq 1 "$runs"); do
  log="$logs/run-$run.log"
  started=$(date +%s)
  # Verbose: the log names every test, and each skipped one with its reason.
  if run_as npm test -- --reporter=verbose "$@" >"$log" 2>&1; then status=passed; else status=FAILED; fi
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests ' | tail -1 | sed 's/^ *//')
  echo "run $run/$runs: $status in $(($(date +%s) - started)) s: ${summary:-no summary}"
  if [ "$status" = FAILED ]; then
    echo "failed: $log" >&2
    exit 1
  fi
done
# The tests that skipped, and why (the last run's).
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '↓' | sed 's/^ *//' | sort -u || true
echo "$runs of $runs runs passed, as $as"
