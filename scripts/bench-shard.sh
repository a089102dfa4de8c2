#!/usr/bin/env bash
# Sharding benchmark (not a test). SERVERS pyftpdlib servers on 127.0.0.1
# (each waits DELAY_MS before every reply, like a remote site) serve FILES
# small files each. Measures, in the same run:
#   baseline: one `phiscan scan --targets` process, --connections C, --threads C
#   sharded:  N `--shard I/N --split-depth 0` processes at once, each with
#             --connections C/N and --threads C/N (the same total), then merge
# and checks that the merged rows equal the baseline's (sorted).
# Figures go to BENCHMARKS.md under "Sharding".
#
# Usage: scripts/bench-shard.sh
# Env: PHISCAN (binary; default: cargo build --release), BENCH_DIR,
#      SERVERS (default 16), FILES (default 100), DELAY_MS (default 20),
#      N (default 4), C (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${BENCH_DIR:-/var/tmp/phiscan-bench-shard}
SERVERS=${SERVERS:-16}
FILES=${FILES:-100}
DELAY_MS=${DELAY_MS:-20}
N=${N:-4}
C=${C:-4}
PER=$(( C / N > 0 ? C / N : 1 ))
mkdir -p "$WORK"
if [ ! -x "$WORK/venv/bin/python" ]; then python3 -m venv "$WORK/venv"; fi
"$WORK/venv/bin/python" -c 'import pyftpdlib' 2>/dev/null || "$WORK/venv/bin/pip" install -q 'pyftpdlib>=2,<3'
PY="$WORK/venv/bin/python"
if [ -z "${PHISCAN:-}" ]; then
    cargo build --release --quiet
    PHISCAN="${CARGO_TARGET_DIR:-$REPO/target}/release/phiscan"
fi
export PHISCAN_FINGERPRINT_KEY=bench-shard-key-0123456789abcdef

PIDS=()
cleanup() { for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
now() { date +%s.%N; }
elapsed() { "$PY" -c "print(f'{$2 - $1:.2f}')"; }

TREE="$WORK/tree"
rm -rf "$TREE" "$WORK"/run-*
"$PY" - "$TREE" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
words = "patient seen today for follow up blood pressure stable plan continue".split()
for i in range(n):
    d = os.path.join(root, f"dept{i % 5}")
    os.makedirs(d, exist_ok=True)
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(20)]
    if i % 10 == 0:
        lines.insert(3, f"MRN: {rng.randint(10**7, 10**8 - 1)}")
    with open(os.path.join(d, f"note{i:05d}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
PY
: > "$WORK/targets.txt"
for s in $(seq 0 $((SERVERS - 1))); do
    port=$(free_port)
    lo=$((33000 + s * 50))
    "$PY" scripts/ftp_server.py --dir "$TREE" --port "$port" --mode delay --delay-ms "$DELAY_MS" \
        --passive "$lo-$((lo + 49))" > "$WORK/server-$s.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
    echo "ftp://127.0.0.1:$port/" >> "$WORK/targets.txt"
done

t0=$(now)
"$PHISCAN" scan --targets "$WORK/targets.txt" --connections "$C" --threads "$C" -q \
    --format csv --output-dir "$WORK/run-one" || true
t1=$(now)
SHARD_PIDS=()
for i in $(seq 0 $((N - 1))); do
    "$PHISCAN" scan --targets "$WORK/targets.txt" --shard "$i/$N" --split-depth 0 \
        --connections "$PER" --threads "$PER" -q --format jsonl \
        --output-dir "$WORK/run-shard-$i" &
    SHARD_PIDS+=($!)
done
for pid in "${SHARD_PIDS[@]}"; do wait "$pid" || true; done
t2=$(now)
"$PHISCAN" merge -q --format csv --output-dir "$WORK/run-merged" "$WORK"/run-shard-*/ || true
t3=$(now)

one=$(elapsed "$t0" "$t1"); shards=$(elapsed "$t1" "$t2"); merge=$(elapsed "$t2" "$t3")
same=no
if cmp -s <(tail -n +2 "$WORK/run-one/phiscan.csv" | sort) <(tail -n +2 "$WORK/run-merged/phiscan.csv" | sort); then same=yes; fi
rows=$(($(wc -l < "$WORK/run-merged/phiscan.csv") - 1))
echo "servers=$SERVERS files/server=$FILES delay=${DELAY_MS}ms total connections=$C"
echo "one process:            ${one}s"
echo "$N shards (C/N each):   ${shards}s  (+ merge ${merge}s)  ratio one/sharded = $("$PY" -c "print(f'{$one / ($shards + $merge):.2f}')")"
echo "rows $rows, merged rows equal one run's: $same"
