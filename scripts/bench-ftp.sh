#!/usr/bin/env bash
# FTP crawl benchmark (not a test). A pyftpdlib server on 127.0.0.1 that
# waits 20 ms before every reply (one round trip to a remote site) serves
# 2,000 small files. Measures phiscan scanning in place with --connections
# 1, 4 and 8, and, in the same run, `lftp mirror --parallel=8` of the same
# tree followed by a local phiscan scan. With BENCH_RSS=1 it also measures
# peak RSS while crawling a (no-delay) server holding a 4 GiB file and
# 100,000 small ones. Figures go to BENCHMARKS.md under "FTP crawl".
#
# Usage: scripts/bench-ftp.sh        (root not needed; needs lftp, python3)
# Env: PHISCAN (binary; default: cargo build --release), BENCH_DIR,
#      DELAY_MS (default 20), FILES (default 2000), BENCH_RSS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${BENCH_DIR:-/var/tmp/phiscan-bench-ftp}
DELAY_MS=${DELAY_MS:-20}
FILES=${FILES:-2000}
mkdir -p "$WORK"

command -v lftp >/dev/null || { apt-get install -y -qq lftp >/dev/null 2>&1 || { echo "bench: needs lftp" >&2; exit 2; }; }
if [ ! -x "$WORK/venv/bin/python" ]; then python3 -m venv "$WORK/venv"; fi
"$WORK/venv/bin/python" -c 'import pyftpdlib' 2>/dev/null || "$WORK/venv/bin/pip" install -q 'pyftpdlib>=2,<3'
PY="$WORK/venv/bin/python"
if [ -z "${PHISCAN:-}" ]; then
    cargo build --release --quiet
    PHISCAN="${CARGO_TARGET_DIR:-$REPO/target}/release/phiscan"
fi

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
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { "$PY" -c "print(f'{$2 - $1:.2f}')"; }

# Small clinical-ish files, PHI at low density, in 20 folders.
gen_tree() {
    "$PY" - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = "patient seen today for follow up blood pressure stable plan continue medication review labs next visit".split()
for i in range(n):
    d = os.path.join(root, f"dept{i % 20:02d}")
    os.makedirs(d, exist_ok=True)
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(20)]
    if i % 10 == 0:
        lines.insert(3, f"MRN: {rng.randint(10**7, 10**8 - 1)}  DOB: 0{rng.randint(1,9)}/1{rng.randint(0,9)}/19{rng.randint(40,99)}")
    with open(os.path.join(d, f"note{i:05d}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
PY
}

TREE="$WORK/tree"
if [ "$(find "$TREE" -type f 2>/dev/null | wc -l)" != "$FILES" ]; then
    rm -rf "$TREE"; mkdir -p "$TREE"; gen_tree "$TREE" "$FILES"
fi
chmod -R a+rX "$TREE"
BYTES=$(du -sb "$TREE" | cut -f1)

port=$(free_port)
"$PY" scripts/ftp_server.py --dir "$TREE" --port "$port" --mode delay --delay-ms "$DELAY_MS" \
    --passive 31000-31999 > "$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
wait_port "$port"
URL="ftp://127.0.0.1:$port/"

declare -A SECS
for n in 1 4 8; do
    t0=$(now)
    "$PHISCAN" scan "$URL" --connections "$n" -o "$WORK/ftp-$n.csv" 2> "$WORK/ftp-$n.txt" || true
    t1=$(now)
    SECS[$n]=$(elapsed "$t0" "$t1")
    grep -q "files scanned: $FILES " "$WORK/ftp-$n.txt" ||
        { echo "bench: --connections $n did not scan $FILES files:"; cat "$WORK/ftp-$n.txt"; exit 1; }
    echo "phiscan --connections $n: ${SECS[$n]} s"
done

rm -rf "$WORK/mirror"
t0=$(now)
lftp -c "set net:max-retries 2; set ftp:passive-mode on; open -u anonymous,anonymous@ $URL; mirror --parallel=8 / $WORK/mirror" > "$WORK/lftp.log" 2>&1
t1=$(now)
"$PHISCAN" scan "$WORK/mirror" -o "$WORK/mirror.csv" 2> "$WORK/mirror.txt" || true
t2=$(now)
MIRROR=$(elapsed "$t0" "$t1")
LOCAL=$(elapsed "$t1" "$t2")
LFTP_TOTAL=$(elapsed "$t0" "$t2")
[ "$(find "$WORK/mirror" -type f | wc -l)" = "$FILES" ] || { echo "bench: lftp mirrored a different tree"; exit 1; }
echo "lftp mirror --parallel=8: $MIRROR s + local scan $LOCAL s = $LFTP_TOTAL s"
stop "$SERVER"

RSS_LINE=""
if [ "${BENCH_RSS:-0}" = 1 ]; then
    BIG="$WORK/big"
    if [ "$(find "$BIG/small" -type f 2>/dev/null | wc -l)" != 100000 ]; then
        rm -rf "$BIG"; mkdir -p "$BIG/small"
        "$PY" - "$BIG/small" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(100000):
    d = os.path.join(root, f"d{i // 1000:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.txt"), "w") as f:
        f.write(f"record {i} patient note\n")
PY
    fi
    # 4 GiB of text, written for real (a sparse file would be all NULs).
    if [ "$(stat -c %s "$BIG/huge.log" 2>/dev/null || echo 0)" != 4294967296 ]; then
        "$PY" -c "
import sys
line = b'2024-03-01 12:00:00 INFO request served for patient record, nothing to see\n' * 13107
with open(sys.argv[1], 'wb') as f:
    left = 4 << 30
    while left > 0:
        chunk = line[:left]
        f.write(chunk); left -= len(chunk)
" "$BIG/huge.log"
    fi
    chmod -R a+rX "$BIG"
    port=$(free_port)
    "$PY" scripts/ftp_server.py --dir "$BIG" --port "$port" --mode plain --passive 32000-32999 > "$WORK/server-big.log" 2>&1 &
    SERVER=$!
    PIDS+=("$SERVER")
    wait_port "$port"
    t0=$(now)
    /usr/bin/time -v "$PHISCAN" scan "ftp://127.0.0.1:$port/" --connections 8 --max-bytes 0 -o /dev/null \
        2> "$WORK/rss.txt" || true
    t1=$(now)
    stop "$SERVER"
    RSS_KB=$(grep 'Maximum resident set size' "$WORK/rss.txt" | awk '{print $NF}')
    SCANNED=$(grep -o 'files scanned: [0-9]*' "$WORK/rss.txt" | awk '{print $3}')
    RSS_LINE="| Peak RSS, server with one 4 GiB file + 100,000 small files, --connections 8, --max-bytes 0 (whole files) | $((RSS_KB / 1024)) MiB ($SCANNED files, $(elapsed "$t0" "$t1") s) | ≤ 200 MiB |"
    echo "peak RSS: $((RSS_KB / 1024)) MiB over $SCANNED files"
fi

rate() { "$PY" -c "print(f'{$FILES / $1:.0f}')"; }
ratio() { "$PY" -c "print(f'{$1 / $2:.1f}')"; }
MACHINE="$(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr); load average $(cut -d' ' -f1 /proc/loadavg) at the end (shared with other jobs)"
SECTION=$(cat <<EOF
## FTP crawl

\`scripts/bench-ftp.sh\` ($(date -u +%Y-%m-%d)): pyftpdlib on 127.0.0.1 adding ${DELAY_MS} ms before every
reply, serving $FILES small files ($((BYTES / 1024)) KiB on disk) in 20 folders; release build.
Machine: $MACHINE.

| Run | Time | Files/s | vs 1 connection |
|---|---|---|---|
| phiscan --connections 1 | ${SECS[1]} s | $(rate "${SECS[1]}") | 1.0× |
| phiscan --connections 4 | ${SECS[4]} s | $(rate "${SECS[4]}") | $(ratio "${SECS[1]}" "${SECS[4]}")× |
| phiscan --connections 8 | ${SECS[8]} s | $(rate "${SECS[8]}") | $(ratio "${SECS[1]}" "${SECS[8]}")× (target ≥ 5×) |
| lftp mirror --parallel=8, then phiscan on the mirror | $LFTP_TOTAL s ($MIRROR + $LOCAL) | $(rate "$LFTP_TOTAL") | phiscan -c 8 is $(ratio "$LFTP_TOTAL" "${SECS[8]}")× faster end to end, $(ratio "$MIRROR" "${SECS[8]}")× faster than the mirror alone |

Round trips: phiscan sends EPSV + RETR per file (three replies: 229, 150,
226; TYPE I once per connection, no SIZE/MDTM/CWD/PWD per file) and EPSV +
\`MLSD folder\` per folder below the root (CWD + EPSV + MLSD before
2026-12-05); \`tests/it/ftp_round_trips.rs\` counts them. With a delay
before every reply, a file costs at least three delays on its connection:
$("$PY" -c "print(f'{$FILES * 3 * $DELAY_MS / 1000:.1f} s on one connection, {$FILES * 3 * $DELAY_MS / 8000:.1f} s on eight')")
for $FILES files, whatever the client (lftp sends PASV + RETR per file too).
EOF
)
if [ -n "$RSS_LINE" ]; then
    SECTION="$SECTION

| Memory | Measured | Target |
|---|---|---|
$RSS_LINE"
fi
echo
echo "$SECTION"
"$PY" - "$REPO/BENCHMARKS.md" "$SECTION" <<'PY'
import re, sys, os
path, section = sys.argv[1], sys.argv[2].rstrip() + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pattern = re.compile(r"^## FTP crawl\n.*?(?=^## |\Z)", re.S | re.M)
found = pattern.search(text)
if found:
    # Earlier figures stay, under their own dates, newest first.
    old = found.group(0)[len("## FTP crawl\n"):].strip()
    head, _, earlier = old.partition("### Earlier runs\n")
    kept = "\n\n".join(p.strip() for p in (head, earlier) if p.strip())
    section = section + "\n### Earlier runs\n\n" + kept + "\n"
    text = pattern.sub(lambda m: section + "\n", text)
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text.rstrip() + "\n")
PY
echo "bench: BENCHMARKS.md updated"
