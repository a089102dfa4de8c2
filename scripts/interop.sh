#!/usr/bin/env bash
# FTP interop: serves a share from real FTP daemons on 127.0.0.1, one after
# another (vsftpd: LIST only, pure-ftpd, proftpd, pyftpdlib with MLSD, and
# pyftpdlib answering LIST in DOS/IIS style without MLSD), scans each over
# FTP with phiscan, and checks the report equals a local scan of the same
# folder (rows without the target column; FTP exposure rows aside), with the
# same counts of files scanned and not examined. Each daemon is stopped by
# its PID.
#
# Usage (as root, Debian): scripts/interop.sh [SHARE]   (default fixtures/share)
# Installs what it needs: vsftpd via apt, pure-ftpd and proftpd unpacked
# with `apt-get download` + `dpkg -x` (the packages conflict), pyftpdlib
# from PyPI in a venv. Env: PHISCAN (binary; default: cargo build),
# PHISCAN_INTEROP_DIR (work folder, default /var/tmp/phiscan-interop).
set -euo pipefail
# One fingerprint key for every scan: the FTP reports must then equal the
# local one column for column, fingerprints included (they leave the target
# out, so the same file fingerprints alike wherever it is read from).
export PHISCAN_FINGERPRINT_KEY=phiscan-interop-fixed-key-0123456789
cd "$(dirname "$0")/.."
REPO=$PWD
SHARE_SRC=${1:-fixtures/share}
WORK=${PHISCAN_INTEROP_DIR:-/var/tmp/phiscan-interop}

die() { echo "interop: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (it installs and starts FTP daemons)"
[ -d "$SHARE_SRC" ] || die "no share folder at $SHARE_SRC"

mkdir -p "$WORK"
PIDS=()
CREATED_POLICY=0
FTP_HOME_SAVED=""
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    if [ -n "$FTP_HOME_SAVED" ]; then usermod -d "$FTP_HOME_SAVED" ftp 2>/dev/null || true; fi
    if [ "$CREATED_POLICY" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- install
install_deps() {
    export DEBIAN_FRONTEND=noninteractive
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # Keep packages from starting their services on install.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        CREATED_POLICY=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends vsftpd python3 python3-venv openssl \
        libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 >/dev/null
    if [ ! -x "$WORK/root/usr/sbin/pure-ftpd" ] || [ ! -x "$WORK/root/usr/sbin/proftpd" ]; then
        mkdir -p "$WORK/debs"
        (cd "$WORK/debs" && apt-get download -qq pure-ftpd proftpd-core 2>/dev/null)
        for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/root"; done
    fi
    if [ ! -x "$WORK/venv/bin/python" ]; then
        python3 -m venv "$WORK/venv"
    fi
    "$WORK/venv/bin/python" -c 'import pyftpdlib' 2>/dev/null ||
        "$WORK/venv/bin/pip" install -q 'pyftpdlib>=2,<3'
    id ftp >/dev/null 2>&1 || useradd --system --home-dir /srv/ftp --shell /usr/sbin/nologin ftp
    mkdir -p /var/run/vsftpd/empty
}

# ---------------------------------------------------------------- helpers
free_port() {
    "$WORK/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 pid=$2
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

stop() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Report rows as sorted lines without the target column and without FTP
# exposure rows; the summary's counts of files scanned and not examined.
normalize() {
    "$WORK/venv/bin/python" - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
out = sorted("\x1f".join(r[1:]) for r in rows[1:] if not r[2].startswith("FTP_"))
sys.stdout.write("\n".join(out) + ("\n" if out else ""))
PY
}
counts() { grep -E '^  (files scanned|not examined):' "$1" | sed -E 's/  bytes read.*//'; }

# ---------------------------------------------------------------- run
install_deps
if [ -z "${PHISCAN:-}" ]; then
    cargo build --quiet
    PHISCAN="${CARGO_TARGET_DIR:-$REPO/target}/debug/phiscan"
fi
[ -x "$PHISCAN" ] || die "phiscan binary not found at $PHISCAN"

RUN=$(mktemp -d "$WORK/run.XXXXXX")
chmod 755 "$WORK" "$RUN"
SHARE="$RUN/share"
cp -a "$SHARE_SRC" "$SHARE"
chown -R root:root "$SHARE"
chmod -R a+rX,go-w "$SHARE"

set +e
"$PHISCAN" scan --max-bytes 0 "$SHARE" -o "$RUN/local.csv" 2> "$RUN/local.txt"
set -e
normalize "$RUN/local.csv" > "$RUN/local.rows"
counts "$RUN/local.txt" > "$RUN/local.counts"
echo "local scan: $(wc -l < "$RUN/local.rows") rows; $(tr '\n' ' ' < "$RUN/local.counts")"

FAILED=0
check_server() {
    local name=$1 port=$2 pid=$3 expect_listing=$4 scheme=${5:-ftp}
    if ! wait_port "$port" "$pid"; then
        echo "FAIL $name: did not start (see $RUN/$name.log)"; FAILED=1; return
    fi
    set +e
    "$PHISCAN" scan --max-bytes 0 --connections 4 --timeout 20 --insecure \
        "$scheme://127.0.0.1:$port/" -o "$RUN/$name.csv" 2> "$RUN/$name.txt"
    set -e
    stop "$pid"
    PIDS=()
    normalize "$RUN/$name.csv" > "$RUN/$name.rows"
    counts "$RUN/$name.txt" > "$RUN/$name.counts"
    local ok=1
    if ! diff -u "$RUN/local.rows" "$RUN/$name.rows" > "$RUN/$name.diff"; then
        echo "  rows differ from the local scan:"; head -20 "$RUN/$name.diff" | sed 's/\x1f/,/g'; ok=0
    fi
    if ! diff -u "$RUN/local.counts" "$RUN/$name.counts" > /dev/null; then
        echo "  counts differ: local [$(tr '\n' ' ' < "$RUN/local.counts")] ftp [$(tr '\n' ' ' < "$RUN/$name.counts")]"; ok=0
    fi
    if ! grep -q "listing: $expect_listing\$" "$RUN/$name.txt"; then
        echo "  expected listing via $expect_listing:"; grep 'listing:' "$RUN/$name.txt"; ok=0
    fi
    grep -q ',FTP_ANONYMOUS_LOGIN,' "$RUN/$name.csv" || { echo "  no FTP_ANONYMOUS_LOGIN row"; ok=0; }
    if [ "$scheme" = ftps ]; then
        grep -q 'tls: explicit TLS' "$RUN/$name.txt" || { echo "  not over TLS"; ok=0; }
        ! grep -q ',FTP_NO_TLS,' "$RUN/$name.csv" || { echo "  FTP_NO_TLS on a TLS server"; ok=0; }
    fi
    local banner
    banner=$(grep -m1 ' banner: ' "$RUN/$name.txt" | sed 's/.* banner: //')
    if [ "$ok" = 1 ]; then
        echo "ok   $name ($expect_listing; banner: $banner): $(wc -l < "$RUN/$name.rows") rows, $(tr '\n' ' ' < "$RUN/$name.counts")"
    else
        echo "FAIL $name (reports in $RUN)"; FAILED=1
    fi
}

# vsftpd 3.0.3: no MLSD, Unix LIST.
port=$(free_port)
cat > "$RUN/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$SHARE
local_enable=NO
write_enable=NO
pasv_min_port=30000
pasv_max_port=30100
secure_chroot_dir=/var/run/vsftpd/empty
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
EOF
/usr/sbin/vsftpd "$RUN/vsftpd.conf" > "$RUN/vsftpd.log" 2>&1 &
PIDS+=($!)
check_server vsftpd "$port" "$!" LIST

# vsftpd again, FTPS (explicit AUTH TLS, PROT P, TLS session reuse required
# on the data connection), self-signed certificate: scanned with --insecure.
port=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$RUN/vsftpd.key" -out "$RUN/vsftpd.pem" > /dev/null 2>&1
sed -e "s/^listen_port=.*/listen_port=$port/" "$RUN/vsftpd.conf" > "$RUN/vsftpd-tls.conf"
cat >> "$RUN/vsftpd-tls.conf" <<EOF
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
rsa_cert_file=$RUN/vsftpd.pem
rsa_private_key_file=$RUN/vsftpd.key
EOF
/usr/sbin/vsftpd "$RUN/vsftpd-tls.conf" > "$RUN/vsftpd-tls.log" 2>&1 &
PIDS+=($!)
check_server vsftpd-ftps "$port" "$!" LIST ftps

# pure-ftpd 1.0.50: anonymous root is the ftp user's home.
FTP_HOME_SAVED=$(getent passwd ftp | cut -d: -f6)
usermod -d "$SHARE" ftp
port=$(free_port)
"$WORK/root/usr/sbin/pure-ftpd" -S "127.0.0.1,$port" -e -i -H -4 -p 30200:30300 > "$RUN/pure-ftpd.log" 2>&1 &
PIDS+=($!)
check_server pure-ftpd "$port" "$!" MLSD
usermod -d "$FTP_HOME_SAVED" ftp
FTP_HOME_SAVED=""

# proftpd 1.3.8.
port=$(free_port)
mkdir -p "$RUN/proftpd"
chmod 755 "$RUN/proftpd"
cat > "$RUN/proftpd.conf" <<EOF
ServerType standalone
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
Port $port
PassivePorts 30400 30500
User nobody
Group nogroup
WtmpLog off
DelayEngine off
AuthPAM off
TransferLog NONE
PidFile $RUN/proftpd/proftpd.pid
ScoreboardFile $RUN/proftpd/proftpd.scoreboard
<Anonymous $SHARE>
  User ftp
  Group $(id -gn ftp)
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit WRITE>
    DenyAll
  </Limit>
</Anonymous>
EOF
"$WORK/root/usr/sbin/proftpd" -t -c "$RUN/proftpd.conf" > "$RUN/proftpd-check.log" 2>&1 ||
    { cat "$RUN/proftpd-check.log"; die "proftpd configuration rejected"; }
"$WORK/root/usr/sbin/proftpd" -n -c "$RUN/proftpd.conf" > "$RUN/proftpd.log" 2>&1 &
PIDS+=($!)
check_server proftpd "$port" "$!" MLSD

# pyftpdlib as shipped (MLSD).
port=$(free_port)
"$WORK/venv/bin/python" scripts/ftp_server.py --dir "$SHARE" --port "$port" --mode plain > "$RUN/pyftpdlib.log" 2>&1 &
PIDS+=($!)
check_server pyftpdlib "$port" "$!" MLSD

# pyftpdlib without MLSD, LIST in DOS/IIS style.
port=$(free_port)
"$WORK/venv/bin/python" scripts/ftp_server.py --dir "$SHARE" --port "$port" --mode dos > "$RUN/pyftpdlib-dos.log" 2>&1 &
PIDS+=($!)
check_server pyftpdlib-dos "$port" "$!" LIST

# Discovery and the exposure checks, each verdict checked on real daemons
# (vsftpd implicit TLS and upload folder, proftpd upload-only, pure-ftpd
# without a certificate), with nmap's ftp-anon/ftp-syst/ftp-bounce beside.
PHISCAN="$PHISCAN" PHISCAN_INTEROP_DIR="$WORK" "$REPO/scripts/interop-discover.sh" || FAILED=1

if [ "$FAILED" = 0 ]; then
    echo "interop: all servers match the local scan"
    rm -rf "$RUN"
else
    echo "interop: FAILED (work folder kept: $RUN)"
    exit 1
fi
