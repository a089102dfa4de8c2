#!/usr/bin/env bash
# FTP interop: serves a share from real FTP daemons on 127.0.0.1, one after
# another (vsftpd: LIST only, plain, explicit FTPS and implicit FTPS;
# pure-ftpd; proftpd, also with EPSV refused and a NAT address in PASV
# replies; pyftpdlib with MLSD, in DOS/IIS style without MLSD, and with EPSV
# refused), and checks against each:
# - the crawl: the report equals a local scan of the same folder (rows
#   without the target column; FTP exposure rows aside), with the same
#   counts of files scanned and not examined;
# - the summary lines: tls (implicit or explicit TLS with PROT P, or what
#   FEAT said), listing (MLSD or LIST), data_connections (EPSV, or PASV
#   after a refused EPSV, to the server's own address);
# - a URL naming a file scans that file (rows equal a local scan of it);
#   a missing path is named in the message (exit status 3);
# - a failed login (wrong password; a user without one) exits 4 even with
#   exposure rows written, says how to give a password, never shows it.
# Each daemon is stopped by its PID.
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

# One file of the share, scanned by its URL over FTP and as a local file.
FILE_REL=claims/2024/claims_export.csv
[ -f "$SHARE/$FILE_REL" ] || die "no $FILE_REL in the share"
set +e
"$PHISCAN" scan --max-bytes 0 "$SHARE/$FILE_REL" -o "$RUN/local-file.csv" 2> "$RUN/local-file.txt"
set -e
normalize "$RUN/local-file.csv" > "$RUN/local-file.rows"
[ -s "$RUN/local-file.rows" ] || die "a local scan of $FILE_REL found nothing to compare"
# A password that must never show, and a user no server here knows.
BAD_PASSWORD=Wrong-Walrus-7731
NOBODY=phiscan-nobody

FAILED=0
# The summary line "  TARGET KEY: VALUE" of FILE, VALUE matching the
# extended regex RE whole.
has_line() {
    local file=$1 target=$2 key=$3 re=$4
    grep -F "  $target $key: " "$file" | sed "s|^  $target $key: ||" | grep -Eqx "$re"
}
line_of() { grep -F "  $2 $3: " "$1" | sed "s|^  $2 $3: ||" | head -1; }

# check_server NAME PORT PID LISTING [SCHEME] [TLS_RE] [DATA_RE]
#   TLS_RE, DATA_RE: the expected "tls:" and "data_connections:" summary
#   lines (extended regexes).
check_server() {
    local name=$1 port=$2 pid=$3 expect_listing=$4 scheme=${5:-ftp}
    local expect_tls=${6:-'not used \(ftp:// target\); FEAT (lists|does not list) AUTH TLS'}
    local expect_data=${7:-'EPSV|PASV, to the server.s own address whatever PASV names'}
    local target="$scheme://127.0.0.1:$port/"
    if ! wait_port "$port" "$pid"; then
        echo "FAIL $name: did not start (see $RUN/$name.log)"; FAILED=1; return
    fi
    local scan=("$PHISCAN" scan --max-bytes 0 --connections 4 --timeout 20 --insecure)
    set +e
    "${scan[@]}" "$target" -o "$RUN/$name.csv" 2> "$RUN/$name.txt"
    "${scan[@]}" "$target$FILE_REL" -o "$RUN/$name-file.csv" 2> "$RUN/$name-file.txt"
    echo $? > "$RUN/$name-file.status"
    "${scan[@]}" "${target}no/such/file.csv" -o "$RUN/$name-missing.csv" 2> "$RUN/$name-missing.txt"
    echo $? > "$RUN/$name-missing.status"
    "${scan[@]}" "$scheme://$NOBODY:$BAD_PASSWORD@127.0.0.1:$port/" \
        -o "$RUN/$name-login.csv" 2> "$RUN/$name-login.txt"
    echo $? > "$RUN/$name-login.status"
    env -u PHISCAN_FTP_PASSWORD "${scan[@]}" "$scheme://$NOBODY@127.0.0.1:$port/" \
        -o "$RUN/$name-nopass.csv" 2> "$RUN/$name-nopass.txt"
    echo $? > "$RUN/$name-nopass.status"
    set -e
    stop "$pid"
    PIDS=()
    normalize "$RUN/$name.csv" > "$RUN/$name.rows"
    counts "$RUN/$name.txt" > "$RUN/$name.counts"
    local ok=1
    # The crawl.
    if ! diff -u "$RUN/local.rows" "$RUN/$name.rows" > "$RUN/$name.diff"; then
        echo "  rows differ from the local scan:"; head -20 "$RUN/$name.diff" | sed 's/\x1f/,/g'; ok=0
    fi
    if ! diff -u "$RUN/local.counts" "$RUN/$name.counts" > /dev/null; then
        echo "  counts differ: local [$(tr '\n' ' ' < "$RUN/local.counts")] ftp [$(tr '\n' ' ' < "$RUN/$name.counts")]"; ok=0
    fi
    grep -q ',FTP_ANONYMOUS_LOGIN,' "$RUN/$name.csv" || { echo "  no FTP_ANONYMOUS_LOGIN row"; ok=0; }
    if [ "$scheme" != ftp ]; then
        ! grep -q ',FTP_NO_TLS,' "$RUN/$name.csv" || { echo "  FTP_NO_TLS on a TLS server"; ok=0; }
    fi
    # The summary lines.
    local key re
    for key in listing tls data_connections; do
        case $key in
            listing) re=$expect_listing ;;
            tls) re=$expect_tls ;;
            data_connections) re=$expect_data ;;
        esac
        if ! has_line "$RUN/$name.txt" "$target" "$key" "$re"; then
            echo "  expected $key: $re"; echo "       got $key: $(line_of "$RUN/$name.txt" "$target" "$key")"; ok=0
        fi
    done
    # A URL naming a file.
    normalize "$RUN/$name-file.csv" > "$RUN/$name-file.rows"
    if ! diff -u "$RUN/local-file.rows" "$RUN/$name-file.rows" > "$RUN/$name-file.diff"; then
        echo "  $FILE_REL by URL: rows differ from a local scan of it:"
        head -10 "$RUN/$name-file.diff" | sed 's/\x1f/,/g'; ok=0
    fi
    grep -q '^  files scanned: 1 ' "$RUN/$name-file.txt" || { echo "  $FILE_REL by URL: not 1 file scanned"; ok=0; }
    has_line "$RUN/$name-file.txt" "$target$FILE_REL" listing 'none: the URL names a file' ||
        { echo "  $FILE_REL by URL: listing line: $(line_of "$RUN/$name-file.txt" "$target$FILE_REL" listing)"; ok=0; }
    # A missing path: named, with the server's replies, and not examined.
    if ! grep -q '^  not examined: 1  unreadable=1$' "$RUN/$name-missing.txt" ||
        ! grep -q 'cannot open /no/such/file.csv as a folder or a file: CWD: 5[0-9][0-9] .*; SIZE: 5[0-9][0-9]' "$RUN/$name-missing.txt"; then
        echo "  missing path:"; grep -E 'not examined|cannot' "$RUN/$name-missing.txt" | head -3; ok=0
    fi
    # Failed logins: exit 4 though exposure rows were written; how to give
    # a password; the password nowhere.
    if [ "$(cat "$RUN/$name-login.status")" != 4 ] ||
        ! grep -q "cannot log in as $NOBODY: 5" "$RUN/$name-login.txt" ||
        ! grep -qF "$scheme://$NOBODY@127.0.0.1:$port/ login failed: nothing on this server was read" "$RUN/$name-login.txt"; then
        echo "  wrong password: status $(cat "$RUN/$name-login.status"):"; grep -E 'log in|login' "$RUN/$name-login.txt" | head -3; ok=0
    fi
    grep -q ',FTP_' "$RUN/$name-login.csv" || { echo "  wrong password: no exposure row (anonymous login) written"; ok=0; }
    if grep -rqF "$BAD_PASSWORD" "$RUN/$name-login.txt" "$RUN/$name-login.csv"; then
        echo "  wrong password: the password shows in the output"; ok=0
    fi
    if [ "$(cat "$RUN/$name-nopass.status")" != 4 ] ||
        ! grep -qF "(no password was given for $NOBODY: set PHISCAN_FTP_PASSWORD, use --netrc FILE, or write it in the URL)" "$RUN/$name-nopass.txt"; then
        echo "  no password: status $(cat "$RUN/$name-nopass.status"):"; grep -E 'log in' "$RUN/$name-nopass.txt" | head -3; ok=0
    fi
    local banner
    banner=$(grep -m1 ' banner: ' "$RUN/$name.txt" | sed 's/.* banner: //')
    if [ "$ok" = 1 ]; then
        echo "ok   $name ($expect_listing; banner: $banner): $(wc -l < "$RUN/$name.rows") rows, $(tr '\n' ' ' < "$RUN/$name.counts")"
        echo "     tls: $(line_of "$RUN/$name.txt" "$target" tls); data: $(line_of "$RUN/$name.txt" "$target" data_connections); file URL, missing path, failed logins (exit 4) checked"
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
TLS_EXPLICIT='explicit TLS \(AUTH TLS\); PROT P accepted: data connections encrypted'
TLS_IMPLICIT='implicit TLS; PROT P accepted: data connections encrypted'
check_server vsftpd-ftps "$port" "$!" LIST ftps "$TLS_EXPLICIT"

# The same server as ftpes:// (explicit only).
port=$(free_port)
sed -e "s/^listen_port=.*/listen_port=$port/" "$RUN/vsftpd-tls.conf" > "$RUN/vsftpd-ftpes.conf"
/usr/sbin/vsftpd "$RUN/vsftpd-ftpes.conf" > "$RUN/vsftpd-ftpes.log" 2>&1 &
PIDS+=($!)
check_server vsftpd-ftpes "$port" "$!" LIST ftpes "$TLS_EXPLICIT"

# vsftpd with implicit TLS (implicit_ssl=YES: TLS from the first byte, as
# on port 990), scanned as ftps://: phiscan hears no plain greeting and
# speaks TLS first.
port=$(free_port)
sed -e "s/^listen_port=.*/listen_port=$port/" "$RUN/vsftpd-tls.conf" > "$RUN/vsftpd-implicit.conf"
echo "implicit_ssl=YES" >> "$RUN/vsftpd-implicit.conf"
/usr/sbin/vsftpd "$RUN/vsftpd-implicit.conf" > "$RUN/vsftpd-implicit.log" 2>&1 &
PIDS+=($!)
check_server vsftpd-implicit "$port" "$!" LIST ftps "$TLS_IMPLICIT"

# pure-ftpd 1.0.50: anonymous root is the ftp user's home; other users are
# checked against the system's (none here is phiscan-nobody).
FTP_HOME_SAVED=$(getent passwd ftp | cut -d: -f6)
usermod -d "$SHARE" ftp
port=$(free_port)
# Not -e (anonymous only): with it, pure-ftpd logs any user name in as
# anonymous, and a failed login could not be checked.
"$WORK/root/usr/sbin/pure-ftpd" -S "127.0.0.1,$port" -l unix -i -H -4 -p 30200:30300 > "$RUN/pure-ftpd.log" 2>&1 &
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

# proftpd denying EPSV (it then leaves EPSV out of FEAT and answers it 501),
# and naming a NAT address (127.0.0.2) in its PASV replies while it listens
# on 127.0.0.1: phiscan must use PASV and connect to the server's own
# address (nothing listens on 127.0.0.2).
EPSV_REFUSED='PASV \(EPSV refused: 5[0-9][0-9] .*\), to the server.s own address whatever PASV names'
PASV_ONLY='PASV( \(EPSV refused: 5[0-9][0-9] .*\))?, to the server.s own address whatever PASV names'
port=$(free_port)
sed -e "s/^Port .*/Port $port/" \
    -e "s|^PidFile .*|PidFile $RUN/proftpd/proftpd-epsv.pid|" \
    -e "s|^ScoreboardFile .*|ScoreboardFile $RUN/proftpd/proftpd-epsv.scoreboard|" \
    -e "s|^PassivePorts .*|PassivePorts 30400 30500\nMasqueradeAddress 127.0.0.2\n<Limit EPSV>\n  DenyAll\n</Limit>|" \
    "$RUN/proftpd.conf" > "$RUN/proftpd-epsv.conf"
"$WORK/root/usr/sbin/proftpd" -t -c "$RUN/proftpd-epsv.conf" > "$RUN/proftpd-epsv-check.log" 2>&1 ||
    { cat "$RUN/proftpd-epsv-check.log"; die "proftpd (EPSV refused) configuration rejected"; }
"$WORK/root/usr/sbin/proftpd" -n -c "$RUN/proftpd-epsv.conf" > "$RUN/proftpd-epsv.log" 2>&1 &
PIDS+=($!)
check_server proftpd-epsv "$port" "$!" MLSD ftp "" "$PASV_ONLY"

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

# pyftpdlib refusing EPSV though FEAT lists it (502), PASV replies naming
# 127.0.0.2: phiscan must fall back from EPSV to PASV.
port=$(free_port)
"$WORK/venv/bin/python" scripts/ftp_server.py --dir "$SHARE" --port "$port" --mode epsv-refused > "$RUN/pyftpdlib-epsv.log" 2>&1 &
PIDS+=($!)
check_server pyftpdlib-epsv "$port" "$!" MLSD ftp "" "$EPSV_REFUSED"

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
