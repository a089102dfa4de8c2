#!/usr/bin/env bash
# Checks that two builds write the same reports, byte for byte: every format
# (CSV, JSONL, SARIF, HTML, summary JSON) on the fixtures and on a generated
# corpus, one thread (so rows come in one order) and a fixed fingerprint key.
# Only the figures that measure time are blanked before the comparison.
#
#   scripts/same-reports.sh [BASE_REV=HEAD] [NEW=worktree]
#
# BASE_REV is built in a temporary git worktree; NEW is the working tree
# (or another revision). Exit status 0 when every report is the same.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-HEAD}
NEW=${2:-worktree}
WORK=${SAME_REPORTS_DIR:-target/same-reports}
CORPUS_MIB=${CORPUS_MIB:-64}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

build() { # REV DIR -> prints the binary's path
  local rev=$1 dir=$2
  if [ "$rev" = worktree ]; then
    cargo build --release --quiet --bin phiscan --example gen_corpus
    echo "$PWD/target/release/phiscan"
    return
  fi
  rm -rf "$dir"
  git worktree remove --force "$dir" 2>/dev/null || true
  git worktree add --quiet --detach "$dir" "$rev"
  # Share the dependency builds; the crate itself is rebuilt there.
  (cd "$dir" && CARGO_TARGET_DIR="$WORK/target-$(basename "$dir")" \
    cargo build --release --quiet --bin phiscan)
  echo "$WORK/target-$(basename "$dir")/release/phiscan"
}

NEW_BIN=$(build "$NEW" "$WORK/new")
BASE_BIN=$(build "$BASE" "$WORK/base")

if [ ! -f "$WORK/corpus/.done-$CORPUS_MIB" ]; then
  rm -rf "$WORK/corpus"
  mkdir -p "$WORK/corpus/files"
  target/release/examples/gen_corpus "$WORK/corpus/files" "$CORPUS_MIB" >/dev/null
  touch "$WORK/corpus/.done-$CORPUS_MIB"
fi

# Time figures differ between any two runs: blank them.
normalize() {
  sed -E \
    -e 's/"(elapsed_secs|elapsed_ms|elapsed_seconds|throughput_mb_s|throughput_bytes_per_second|started_at|ended_at|startedAt|endedAt|duration_ms)": ?[^,}]*/"\1": X/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/TIME/g' \
    -e 's/[0-9]+(\.[0-9]+)? ?(ms|s|MB\/s|MiB\/s)\b/T/g' \
    "$1"
}

status=0
run_both() { # NAME ARGS...
  local name=$1
  shift
  for side in base new; do
    local bin=$BASE_BIN
    [ $side = new ] && bin=$NEW_BIN
    local out="$WORK/out/$name/$side"
    rm -rf "$out" && mkdir -p "$out"
    set +e
    PHISCAN_FINGERPRINT_KEY=0123456789abcdef0123 "$bin" scan --threads 1 --quiet \
      --format csv,jsonl,sarif,html --output-dir "$out/r" --summary-json "$out/summary.json" \
      "$@" >"$out/stdout" 2>"$out/stderr"
    echo $? >"$out/status"
    PHISCAN_FINGERPRINT_KEY=0123456789abcdef0123 "$bin" scan --threads 1 "$@" \
      >"$out/plain.csv" 2>"$out/plain.stderr"
    echo $? >>"$out/status"
    set -e
  done
  local a="$WORK/out/$name/base" b="$WORK/out/$name/new"
  for f in status stdout plain.csv r/phiscan.csv; do
    if ! cmp -s "$a/$f" "$b/$f"; then
      echo "DIFFERENT: $name $f"
      diff "$a/$f" "$b/$f" | head -20 || true
      status=1
    fi
  done
  for f in r/phiscan.jsonl summary.json stderr plain.stderr r/phiscan.sarif r/phiscan.html; do
    if ! cmp -s <(normalize "$a/$f") <(normalize "$b/$f"); then
      echo "DIFFERENT: $name $f (time figures blanked)"
      diff <(normalize "$a/$f") <(normalize "$b/$f") | head -20 || true
      status=1
    fi
  done
  echo "$name: $(wc -l <"$b/r/phiscan.csv") CSV lines, exit statuses $(tr '\n' ' ' <"$b/status")"
}

run_both fixtures fixtures
run_both corpus "$WORK/corpus/files"
if [ $status = 0 ]; then
  echo "same reports: $BASE and $NEW"
fi
exit $status
