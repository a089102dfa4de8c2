#!/usr/bin/env bash
# Merge memory benchmark (not a test): the peak RSS of `phiscan merge` over
# N shard folders holding ROWS rows each in all. The folders are those of a
# real sharded scan of a small tree (so manifests and summaries are real),
# their JSONL reports replaced with ROWS/N synthetic rows each, written in
# no particular order (as a shard writes them: as its files finish).
# Figures go to BENCHMARKS.md under "Sharding".
#
# Usage: scripts/bench-merge.sh
# Env: PHISCAN (binary; default: cargo build --release), BENCH_DIR,
#      N (default 4), ROWS (default 400000), MERGE_ARGS (extra merge flags).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${BENCH_DIR:-/var/tmp/phiscan-bench-merge}
N=${N:-4}
ROWS=${ROWS:-400000}
if [ -z "${PHISCAN:-}" ]; then
    cargo build --release --quiet
    PHISCAN="${CARGO_TARGET_DIR:-$REPO/target}/release/phiscan"
fi
export PHISCAN_FINGERPRINT_KEY=bench-merge-key-0123456789abcdef
rm -rf "$WORK/tree" "$WORK"/shard-* "$WORK/merged"
mkdir -p "$WORK/tree"
for d in $(seq 1 32); do
    mkdir -p "$WORK/tree/d$d"
    printf 'Patient SSN 078-05-1120\n' >"$WORK/tree/d$d/a.txt"
done
for i in $(seq 0 $((N - 1))); do
    "$PHISCAN" scan "$WORK/tree" --shard "$i/$N" --format jsonl -q \
        --output-dir "$WORK/shard-$i" || true
    [ -f "$WORK/shard-$i/manifest.json" ]
done
python3 - "$WORK" "$N" "$ROWS" <<'EOF'
import json, random, sys
work, n, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(16)
for i in range(n):
    with open(f"{work}/shard-{i}/phiscan.jsonl", "w") as f:
        for r in range(rows // n):
            d, k = rng.randrange(1000), rng.randrange(10**9)
            f.write(json.dumps({
                "type": "finding", "target": f"{work}/tree",
                "path": f"dept{d:03}/patients/record-{k:09}.txt",
                "entity": "SSN", "rule": "ssn", "confidence": "HIGH",
                "line": rng.randrange(1, 5000), "column": rng.randrange(1, 80),
                "field": "", "match": "***-**-1120",
                "context": "Patient name ******** SSN ***-**-1120 DOB **/**/****",
                "fingerprint": f"{k:016x}{r:016x}"}) + "\n")
EOF
du -sh "$WORK"/shard-0/phiscan.jsonl
# shellcheck disable=SC2086
/usr/bin/time -v "$PHISCAN" merge -q --format csv,jsonl ${MERGE_ARGS:-} \
    --output-dir "$WORK/merged" "$WORK"/shard-* 2>"$WORK/time.txt" || [ $? -eq 1 ]
grep -E 'Maximum resident|Elapsed \(wall' "$WORK/time.txt"
echo "rows merged: $(($(wc -l <"$WORK/merged/phiscan.csv") - 1))"
