#!/usr/bin/env bash
# Scan-engine benchmarks: phiscan vs ripgrep running the same candidate
# patterns (`phiscan rules patterns`) on the same files, timed in one run.
#
#   scripts/bench.sh [CORPUS_MIB=1024] [SINGLE_MIB=4096]
#       The mixed corpus (issue 2), both tools on all threads; then peak
#       memory while scanning one large file.
#   scripts/bench.sh matrix [KIND_MIB=64] [HUGE_MIB=512]
#       The content matrix (issue 17): each kind of `gen_kinds list`
#       timed on one thread against `rg -j1 --count-matches` (every match,
#       the work phiscan does) and `rg -j1 -c`, in both orders in one run;
#       then one HUGE_MIB text file, and one HL7, X12 and CSV file of
#       HUGE_MIB/4, each with 1 and 2 threads. KINDS="a b"
#       times some kinds only; RUNS (default 6) runs per command.
#
# Needs ripgrep, hyperfine and GNU time (installed with apt when missing).
# Data goes to bench-data/ (git-ignored); it is reused between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-$(nproc)}
DATA=bench-data

need() { command -v "$1" >/dev/null 2>&1; }
if ! need rg || ! need hyperfine || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep hyperfine time >/dev/null
fi

if [ "${1:-}" = matrix ]; then
  KIND_MIB=${2:-64}
  HUGE_MIB=${3:-512}
  cargo build --release --quiet --bin phiscan --example gen_kinds
  BIN=target/release/phiscan
  GEN=target/release/examples/gen_kinds
  M=$DATA/matrix
  mkdir -p "$M"
  $BIN rules patterns > "$DATA/patterns.txt"
  # Kinds as NAME=GENERATOR:DENSITY: the same generator at two densities
  # where the density changes the work (prose: keywords in every
  # sentence, values in many or in few of them).
  ALL="prose=prose:1 prose-sparse=prose:0.1 logs=logs:1 csv=csv:1 hl7=hl7:1 x12=x12:1 base64=base64:1 json=json:1 utf16=utf16:1"
  RUN_KINDS=()
  for spec in $ALL; do
    name=${spec%%=*}
    if [ -n "${KINDS:-}" ] && ! [[ " $KINDS " == *" $name "* ]]; then continue; fi
    gen=${spec#*=}
    dir=$M/$name
    if [ ! -f "$dir/.done-$KIND_MIB" ]; then
      rm -rf "$dir"
      $GEN "$dir" "${gen%%:*}" "$KIND_MIB" "${gen#*:}"
      touch "$dir/.done-$KIND_MIB"
    fi
    RUN_KINDS+=("$name")
  done
  HALF=$(( (${RUNS:-6} + 1) / 2 ))
  for name in "${RUN_KINDS[@]}"; do
    dir=$M/$name
    du -sb --exclude='.done-*' "$dir" | cut -f1 > "$M/$name.bytes"
    cat "$dir"/* > /dev/null
    EVERY="rg --no-ignore --hidden -j1 --count-matches -f $DATA/patterns.txt $dir > /dev/null"
    FIRST="rg --no-ignore --hidden -j1 -c -f $DATA/patterns.txt $dir > /dev/null"
    PS="$BIN scan --threads 1 -q -o /dev/null $dir"
    echo "== $name: $(cat "$M/$name.bytes") bytes"
    hyperfine -N --ignore-failure --warmup 1 --runs "$HALF" --export-json "$M/$name-ab.json" \
      -n rg-count-matches "$EVERY" -n rg-c "$FIRST" -n phiscan "$PS" 2>&1 | grep -E 'Time|±' || true
    hyperfine -N --ignore-failure --warmup 1 --runs "$HALF" --export-json "$M/$name-ba.json" \
      -n phiscan "$PS" -n rg-c "$FIRST" -n rg-count-matches "$EVERY" >/dev/null 2>&1
  done
  python3 scripts/bench-matrix.py "$DATA" "${RUN_KINDS[@]}"
  if [ -n "${KINDS:-}" ] && ! [[ " $KINDS " == *" huge "* ]]; then exit 0; fi
  # One big file of each kind that is split for threads: plain text
  # (rounds), and HL7, X12 and CSV (record batches) at a quarter the size.
  for spec in "huge:huge:$HUGE_MIB:txt" "hl7-one:hl7:$((HUGE_MIB / 4)):hl7" \
    "x12-one:x12:$((HUGE_MIB / 4)):x12" "csv-one:csv:$((HUGE_MIB / 4)):csv"; do
    IFS=: read -r name gen mib ext <<<"$spec"
    dir=$M/$name
    if [ ! -f "$dir/.done-$mib" ]; then
      rm -rf "$dir"
      $GEN "$dir" "$gen" "$mib" 1 1
      touch "$dir/.done-$mib"
    fi
    file=$(ls "$dir"/*."$ext")
    cat "$file" > /dev/null
    echo "== $name: one $(du -h "$file" | cut -f1) file: phiscan on 1 and 2 threads, ripgrep (one thread per file)"
    P1="$BIN scan --threads 1 -q -o /dev/null $file"
    P2="$BIN scan --threads 2 -q -o /dev/null $file"
    EVERY="rg --no-ignore -j1 --count-matches -f $DATA/patterns.txt $file > /dev/null"
    hyperfine -N --ignore-failure --warmup 1 --runs "$HALF" --export-json "$M/$name-ab.json" \
      -n phiscan-1 "$P1" -n phiscan-2 "$P2" -n rg-count-matches "$EVERY"
    hyperfine -N --ignore-failure --warmup 1 --runs "$HALF" --export-json "$M/$name-ba.json" \
      -n rg-count-matches "$EVERY" -n phiscan-2 "$P2" -n phiscan-1 "$P1" >/dev/null 2>&1
    python3 - "$M" "$name" "$(stat -c %s "$file")" <<'PY'
import json, statistics, sys
m, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = {}
for o in ("ab", "ba"):
    for r in json.load(open(f"{m}/{name}-{o}.json"))["results"]:
        t.setdefault(r["command"], []).extend(r["times"])
med = {k: statistics.median(v) for k, v in t.items()}
p1, p2, rg = med["phiscan-1"], med["phiscan-2"], med["rg-count-matches"]
print(f"{name}: phiscan 1 thread {p1:.3f} s ({size/p1/1e6:.0f} MB/s), 2 threads {p2:.3f} s "
      f"({size/p2/1e6:.0f} MB/s): {p1/p2:.2f}x; rg --count-matches {rg:.3f} s; "
      f"phiscan-1/rg {p1/rg:.2f}x, phiscan-2/rg {p2/rg:.2f}x")
PY
    /usr/bin/time -f "$name: phiscan --threads 2, one file: %e s, peak RSS %M KiB" \
      $BIN scan --threads 2 -q -o /dev/null "$file" || true
  done
  exit 0
fi

CORPUS_MIB=${1:-1024}
SINGLE_MIB=${2:-4096}
CORPUS=$DATA/corpus

cargo build --release --quiet --bin phiscan --example gen_corpus
BIN=target/release/phiscan
if [ ! -f "$DATA/.corpus-$CORPUS_MIB-$SINGLE_MIB" ]; then
  # Only the corpus: the matrix's kinds stay.
  rm -rf "$CORPUS" "$DATA/single.txt" "$DATA"/.corpus-* && mkdir -p "$CORPUS"
  target/release/examples/gen_corpus "$CORPUS" "$CORPUS_MIB" "$SINGLE_MIB"
  touch "$DATA/.corpus-$CORPUS_MIB-$SINGLE_MIB"
fi
$BIN rules patterns > "$DATA/patterns.txt"
BYTES=$(du -sb "$CORPUS" | cut -f1)
FILES=$(find "$CORPUS" -type f | wc -l)
# Warm the page cache so both tools read from memory.
cat $(find "$CORPUS" -type f) > /dev/null

echo "== corpus: $FILES files, $BYTES bytes; $THREADS threads; $(wc -l < "$DATA/patterns.txt") patterns"
# ripgrep twice: `-c` (the baseline of the target) stops reading a line at
# its first match; `--count-matches` finds every match, as phiscan must.
# A command run after others runs slower on this machine (seen: about 5%
# after the long `--count-matches` runs), so rg -c and phiscan are timed in
# both orders (ABBA) and their medians taken over both; `--count-matches`
# comes last, on its own.
RG="rg --no-ignore --hidden -j $THREADS -c -f $DATA/patterns.txt $CORPUS > /dev/null"
PS="$BIN scan --threads $THREADS -q -o /dev/null $CORPUS || [ \$? -eq 1 ]"
HALF=$(( (${RUNS:-6} + 1) / 2 ))
hyperfine --warmup 1 --runs "$HALF" --export-json "$DATA/scan-ab.json" -n ripgrep "$RG" -n phiscan "$PS"
hyperfine --warmup 1 --runs "$HALF" --export-json "$DATA/scan-ba.json" -n phiscan "$PS" -n ripgrep "$RG"
hyperfine --warmup 1 --runs "$HALF" --export-json "$DATA/scan-every.json" \
  -n ripgrep-every-match "rg --no-ignore --hidden -j $THREADS --count-matches -f $DATA/patterns.txt $CORPUS > /dev/null"

python3 - "$DATA" "$BYTES" <<'PY'
import json, statistics, sys
data, size = sys.argv[1], int(sys.argv[2])
times = {}
for name in ("scan-ab", "scan-ba", "scan-every"):
    for r in json.load(open(f"{data}/{name}.json"))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
rg = statistics.median(times["ripgrep"])
ps = statistics.median(times["phiscan"])
every = statistics.median(times["ripgrep-every-match"])
n = len(times["phiscan"])
print(f"ripgrep -c median {rg:.3f}s ({size/rg/1e6:.0f} MB/s), {n} runs in both orders")
print(f"phiscan median {ps:.3f}s ({size/ps/1e6:.0f} MB/s), {n} runs in both orders")
print(f"ripgrep --count-matches median {every:.3f}s ({size/every/1e6:.0f} MB/s)")
print(f"ratio phiscan/ripgrep -c wall time: {ps/rg:.2f}x (target <= 1.5x; >= 400 MB/s)")
print(f"ratio phiscan/ripgrep --count-matches wall time: {ps/every:.2f}x (not timed back to back)")
PY

echo "== findings on the corpus"
$BIN scan --threads "$THREADS" -o "$DATA/report.csv" "$CORPUS" 2>&1 | sed 's/^/  /' || true

echo "== peak memory, one $(du -h "$DATA/single.txt" | cut -f1) file"
cat "$DATA/single.txt" > /dev/null
/usr/bin/time -f "phiscan: %e s, peak RSS %M KiB" $BIN scan --threads "$THREADS" -q -o /dev/null "$DATA/single.txt" || true
/usr/bin/time -f "ripgrep: %e s, peak RSS %M KiB" rg --no-ignore -j "$THREADS" -c -f "$DATA/patterns.txt" "$DATA/single.txt" > /dev/null || true
