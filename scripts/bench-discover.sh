#!/usr/bin/env bash
# Benchmark of `phiscan discover` on loopback only (127.0.0.0/8):
#  1. a /27 with five FTP servers (pyftpdlib, anonymous) on port 2121 of
#     five of its addresses: phiscan discover vs nmap -sV with the ftp-anon,
#     ftp-syst and ftp-bounce scripts, same ports (21, 990, 2121), timed
#     alternately, RUNS times each; the median of each and their ratio.
#  2. a /16 (65,536 addresses x 3 ports) with the same five servers in it,
#     --rate unlimited: wall time, addresses per second, peak RSS.
# Figures go to BENCHMARKS.md as ratios against nmap measured in the same run.
#
# Usage: scripts/bench-discover.sh [RUNS]   (default 3)
# Needs: nmap, python3 with pyftpdlib (pip install 'pyftpdlib>=2,<3').
# Env: PHISCAN (binary; default: cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
command -v nmap >/dev/null || { echo "bench-discover: nmap not found (apt-get install nmap)" >&2; exit 2; }
python3 -c 'import pyftpdlib' 2>/dev/null || { echo "bench-discover: pyftpdlib not found (pip install 'pyftpdlib>=2,<3')" >&2; exit 2; }
if [ -z "${PHISCAN:-}" ]; then
    cargo build --release --quiet
    PHISCAN="${CARGO_TARGET_DIR:-$PWD/target}/release/phiscan"
fi

WORK=$(mktemp -d /tmp/phiscan-bench-discover.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/share/incoming"
echo "hello" > "$WORK/share/readme.txt"
chmod -R a+rX "$WORK/share"

# Blocks no test uses; five servers in each.
SMALL=127.77.0
LARGE=127.78
start_server() {
    python3 -m pyftpdlib -i "$1" -p 2121 -d "$WORK/share" -r 31000-31999 > "$WORK/ftpd-$1.log" 2>&1 &
    PIDS+=($!)
}
for last in 3 7 12 20; do start_server "$SMALL.$last"; done
# The fifth: vsftpd with implicit TLS on 990 when it can be run (root,
# vsftpd installed), as on a real network; else a fifth pyftpdlib.
IMPLICIT=0
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/vsftpd ]; then
    IMPLICIT=1
    mkdir -p /var/run/vsftpd/empty
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.example \
        -keyout "$WORK/v.key" -out "$WORK/v.pem" > /dev/null 2>&1
    printf '%s\n' listen=YES listen_ipv6=NO "listen_address=$SMALL.29" listen_port=990 \
        background=NO anonymous_enable=YES no_anon_password=YES "anon_root=$WORK/share" \
        local_enable=NO write_enable=NO pasv_min_port=32000 pasv_max_port=32100 \
        secure_chroot_dir=/var/run/vsftpd/empty seccomp_sandbox=NO isolate=NO \
        isolate_network=NO xferlog_enable=NO ssl_enable=YES implicit_ssl=YES \
        allow_anon_ssl=YES require_ssl_reuse=NO "rsa_cert_file=$WORK/v.pem" \
        "rsa_private_key_file=$WORK/v.key" > "$WORK/vsftpd.conf"
    chmod 755 "$WORK" "$WORK/share"
    /usr/sbin/vsftpd "$WORK/vsftpd.conf" > "$WORK/vsftpd.log" 2>&1 &
    PIDS+=($!)
else
    start_server "$SMALL.29"
fi
for addr in 0.10 17.3 128.200 200.1 255.254; do start_server "$LARGE.$addr"; done
for _ in $(seq 1 50); do
    python3 - "$SMALL" "$LARGE" 2>/dev/null <<'PY' && break
import socket, sys
small, large = sys.argv[1], sys.argv[2]
for host in [f"{small}.{n}" for n in (3, 7, 12, 20)] + [f"{large}.{a}" for a in ("0.10", "17.3", "128.200", "200.1", "255.254")]:
    socket.create_connection((host, 2121), timeout=1).close()
PY
    sleep 0.2
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Wall seconds and peak RSS (KiB) of a command; its output to $1.
measure() {
    local out=$1; shift
    python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
with open(out, "w") as f:
    rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
elapsed = time.monotonic() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{elapsed:.3f} {rss} {rc}")
PY
}

echo "== /27 with five servers ($([ "$IMPLICIT" = 1 ] && echo "four pyftpdlib on 2121, vsftpd implicit TLS on 990" || echo "five pyftpdlib on 2121")): phiscan discover vs nmap -sV + ftp-anon,ftp-syst,ftp-bounce (${RUNS} runs each, alternating)"
: > "$WORK/phiscan.times"; : > "$WORK/nmap.times"
for i in $(seq 1 "$RUNS"); do
    read -r t rss rc < <(measure "$WORK/phiscan-$i.txt" "$PHISCAN" discover "$SMALL.0/27" \
        --ports 21,990,2121 --rate unlimited --check-bounce -o "$WORK/phiscan-$i.csv")
    echo "$t" >> "$WORK/phiscan.times"
    echo "  run $i phiscan: ${t}s (exit $rc, $(grep -c ',FTP_SERVICE,' "$WORK/phiscan-$i.csv") services, $(grep -c ',FTP_ANONYMOUS_LOGIN,' "$WORK/phiscan-$i.csv") anonymous)"
    read -r t rss rc < <(measure "$WORK/nmap-$i.txt" nmap -n -Pn -sV -p 21,990,2121 \
        --script ftp-anon,ftp-syst,ftp-bounce --script-args ftp-bounce.checkhost=127.0.0.2 "$SMALL.0/27")
    echo "$t" >> "$WORK/nmap.times"
    echo "  run $i nmap:    ${t}s (exit $rc, $(grep -c 'Anonymous FTP login allowed' "$WORK/nmap-$i.txt") anonymous)"
done
P=$(median < "$WORK/phiscan.times"); N=$(median < "$WORK/nmap.times")
echo "  median: phiscan ${P}s, nmap ${N}s; phiscan takes $(python3 -c "print(f'{$P/$N:.3f}')") of nmap's time ($(python3 -c "print(f'{$N/$P:.0f}')")x faster)"

echo "== /16 with five servers (65,536 addresses x 3 ports), --rate unlimited"
read -r t rss rc < <(measure "$WORK/large.txt" "$PHISCAN" discover "$LARGE.0.0/16" \
    --ports 21,990,2121 --rate unlimited -o "$WORK/large.csv")
services=$(grep -c ',FTP_SERVICE,' "$WORK/large.csv" || true)
echo "  ${t}s, $(python3 -c "print(f'{65536/$t:.0f}')") addresses/s, $(python3 -c "print(f'{3*65536/$t:.0f}')") connections/s, peak RSS $((rss / 1024)) MiB, exit $rc, $services FTP services found"
grep 'discovery:' "$WORK/large.txt" || true
