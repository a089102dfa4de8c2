#!/usr/bin/env bash
# Interop of `phiscan discover` and its exposure checks with real daemons on
# 127.0.0.1 (high ports), each verdict checked, and nmap's ftp-anon,
# ftp-syst and ftp-bounce run on the same servers for comparison:
#  - vsftpd, implicit TLS (implicit_ssl=YES, self-signed certificate), an
#    anonymous upload folder (STOR allowed, delete refused);
#  - vsftpd, plain, read-only anonymous, no TLS;
#  - proftpd, anonymous, an upload-only <Directory> (STOR only);
#  - pure-ftpd, anonymous, no certificate (FEAT lists AUTH TLS, AUTH TLS
#    answers 500).
# Each daemon is stopped by its PID.
#
# Usage (as root, Debian): scripts/interop-discover.sh
# Installs what it needs (vsftpd and nmap via apt; pure-ftpd and proftpd
# unpacked with apt-get download + dpkg -x: the packages conflict).
# Env: PHISCAN (binary; default: cargo build), PHISCAN_INTEROP_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${PHISCAN_INTEROP_DIR:-/var/tmp/phiscan-interop}
die() { echo "interop-discover: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (it installs and starts FTP daemons)"

mkdir -p "$WORK"
PIDS=()
CREATED_POLICY=0
FTP_HOME_SAVED=""
cleanup() {
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    if [ -n "$FTP_HOME_SAVED" ]; then usermod -d "$FTP_HOME_SAVED" ftp 2>/dev/null || true; fi
    if [ "$CREATED_POLICY" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    CREATED_POLICY=1
fi
if ! command -v nmap >/dev/null || [ ! -x /usr/sbin/vsftpd ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends vsftpd nmap openssl python3 \
        libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 >/dev/null
fi
if [ ! -x "$WORK/root/usr/sbin/pure-ftpd" ] || [ ! -x "$WORK/root/usr/sbin/proftpd" ]; then
    mkdir -p "$WORK/debs"
    (cd "$WORK/debs" && apt-get download -qq pure-ftpd proftpd-core 2>/dev/null)
    for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/root"; done
fi
id ftp >/dev/null 2>&1 || useradd --system --home-dir /srv/ftp --shell /usr/sbin/nologin ftp
mkdir -p /var/run/vsftpd/empty
if [ -z "${PHISCAN:-}" ]; then
    cargo build --quiet
    PHISCAN="${CARGO_TARGET_DIR:-$REPO/target}/debug/phiscan"
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq 1 100); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

RUN=$(mktemp -d "$WORK/discover.XXXXXX")
chmod 755 "$WORK" "$RUN"
FAILED=0
# The share each server serves: a read-only root with a file, and an
# `incoming` folder anonymous users can write to (0777, owned by ftp).
make_share() {
    local dir=$1
    mkdir -p "$dir/incoming"
    echo "hello" > "$dir/readme.txt"
    chown -R root:root "$dir"
    chmod 755 "$dir"
    chmod 644 "$dir/readme.txt"
    chown ftp "$dir/incoming"
    chmod 777 "$dir/incoming"
}

# Runs discover and nmap on one server; checks each `expect` line
# (ENTITY|RULE-or-*|PATH-or-*|MATCH-substring-or-*), each `absent` ENTITY,
# and each `verdict` CHECK=prefix against the summary.
check() {
    local name=$1 port=$2 pid=$3; shift 3
    if ! wait_port "$port" "$pid"; then
        echo "FAIL $name: did not start ($RUN/$name.log)"; FAILED=1; return
    fi
    set +e
    "$PHISCAN" discover 127.0.0.1 --ports "$port" --timeout 10 --check-write --check-bounce \
        --check-default-creds -o "$RUN/$name.csv" --targets-out "$RUN/$name.targets" \
        > /dev/null 2> "$RUN/$name.txt"
    local rc=$?
    nmap -n -Pn -sV -p "$port" --script ftp-anon,ftp-syst,ftp-bounce \
        --script-args ftp-bounce.checkhost=127.0.0.2 127.0.0.1 > "$RUN/$name.nmap" 2>&1
    set -e
    stop "$pid"
    local ok=1
    [ "$rc" = 1 ] || { echo "  exit status $rc (expected 1)"; ok=0; }
    for want in "$@"; do
        case "$want" in
        absent=*)
            if grep -q ",${want#absent=}," "$RUN/$name.csv"; then echo "  unexpected ${want#absent=} row"; ok=0; fi ;;
        verdict=*)
            local v=${want#verdict=}
            grep -q "check ${v%%=*}: ${v#*=}" "$RUN/$name.txt" ||
                { echo "  verdict ${v%%=*} is not '${v#*=}':"; grep "check ${v%%=*}:" "$RUN/$name.txt" | sed 's/^/    /'; ok=0; } ;;
        *)
            IFS='|' read -r entity rule path match <<< "$want"
            python3 - "$RUN/$name.csv" "$entity" "$rule" "$path" "$match" <<'PY' || { echo "  no row $want"; ok=0; }
import csv, sys
f, entity, rule, path, match = sys.argv[1:]
rows = list(csv.DictReader(open(f, newline="", encoding="utf-8")))
ok = any(r["entity"] == entity and rule in ("*", r["rule"])
         and (path == "*" or r["path"] == path or (path.endswith("*") and r["path"].startswith(path[:-1])))
         and (match == "*" or match in r["match"] + r["context"]) for r in rows)
sys.exit(0 if ok else 1)
PY
            ;;
        esac
    done
    local nmap_anon nmap_bounce
    nmap_anon=$(grep -c 'Anonymous FTP login allowed' "$RUN/$name.nmap" || true)
    nmap_bounce=$(grep -o 'bounce working!' "$RUN/$name.nmap" | head -1 || true)
    local ours_anon ours_ww nmap_ww
    ours_anon=$(grep -c ',FTP_ANONYMOUS_LOGIN,' "$RUN/$name.csv" || true)
    ours_ww=$(grep -c ',FTP_WORLD_WRITABLE,' "$RUN/$name.csv" || true)
    nmap_ww=$(grep -c '\[NSE: writeable\]' "$RUN/$name.nmap" || true)
    if [ "$nmap_anon" -gt 0 ] && [ "$ours_anon" = 0 ]; then
        echo "  nmap ftp-anon found an anonymous login phiscan did not"; ok=0
    fi
    if [ "$nmap_ww" -gt "$ours_ww" ]; then
        echo "  nmap tags $nmap_ww writeable folders, phiscan $ours_ww"; ok=0
    fi
    local cmp="nmap: anonymous=$nmap_anon writeable=$nmap_ww bounce=${nmap_bounce:-no}; phiscan: anonymous=$ours_anon world-writable=$ours_ww"
    if [ "$ok" = 1 ]; then
        echo "ok   $name ($cmp)"
    else
        echo "FAIL $name ($cmp; reports in $RUN)"; FAILED=1
    fi
}

# ---- vsftpd, implicit TLS, anonymous upload folder
make_share "$RUN/vsftpd-share"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ftp.clinic.example \
    -keyout "$RUN/vsftpd.key" -out "$RUN/vsftpd.pem" > /dev/null 2>&1
port=$(free_port)
cat > "$RUN/vsftpd-implicit.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$RUN/vsftpd-share
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_umask=022
pasv_min_port=30000
pasv_max_port=30100
secure_chroot_dir=/var/run/vsftpd/empty
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
ssl_enable=YES
implicit_ssl=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=NO
rsa_cert_file=$RUN/vsftpd.pem
rsa_private_key_file=$RUN/vsftpd.key
EOF
/usr/sbin/vsftpd "$RUN/vsftpd-implicit.conf" > "$RUN/vsftpd-implicit.log" 2>&1 &
PIDS+=($!)
check vsftpd-implicit "$port" "$!" \
    "FTP_SERVICE|ftp-service|*|implicit TLS" \
    "FTP_TLS_CERT|ftp-tls-cert-self-signed|*|CN=ftp.clinic.example" \
    "FTP_TLS_CERT|ftp-tls-cert-name-mismatch|*|*" \
    "FTP_ANONYMOUS_LOGIN|*|*|over implicit TLS" \
    "FTP_WORLD_WRITABLE|*|incoming|*" \
    "FTP_ANONYMOUS_WRITE|ftp-anonymous-write|incoming|upload-only" \
    "FTP_ANONYMOUS_WRITE|ftp-write-probe-left-behind|incoming/phiscan-probe-*|*" \
    absent=FTP_NO_TLS absent=FTP_BOUNCE absent=FTP_KNOWN_VULNERABLE \
    "verdict=tls=not found: implicit TLS completed" \
    "verdict=bounce=not found" "verdict=default_credentials=not found"
grep -q "^ftps://127.0.0.1:$port/\$" "$RUN/vsftpd-implicit.targets" ||
    { echo "  --targets-out lacks ftps://127.0.0.1:$port/"; FAILED=1; }

# ---- vsftpd, plain, read-only anonymous
make_share "$RUN/vsftpd-plain-share"
chmod 755 "$RUN/vsftpd-plain-share/incoming"
port=$(free_port)
sed -e "s/^listen_port=.*/listen_port=$port/" -e "s#^anon_root=.*#anon_root=$RUN/vsftpd-plain-share#" \
    -e '/^ssl_enable/,$d' -e 's/^write_enable=YES/write_enable=NO/' -e '/^anon_upload_enable/d' \
    "$RUN/vsftpd-implicit.conf" > "$RUN/vsftpd-plain.conf"
/usr/sbin/vsftpd "$RUN/vsftpd-plain.conf" > "$RUN/vsftpd-plain.log" 2>&1 &
PIDS+=($!)
check vsftpd-plain "$port" "$!" \
    "FTP_SERVICE|ftp-service|*|vsFTPd 3" \
    "FTP_NO_TLS|*|*|*" \
    "FTP_ANONYMOUS_LOGIN|*|*|over plain FTP" \
    absent=FTP_ANONYMOUS_WRITE absent=FTP_WORLD_WRITABLE absent=FTP_BOUNCE absent=FTP_TLS_CERT \
    "verdict=anonymous_write=not found" "verdict=abuse_signs=not tested" \
    "verdict=bounce=not found: PORT naming 127.0.0.2"

# ---- proftpd, upload-only <Directory>
make_share "$RUN/proftpd-share"
mkdir -p "$RUN/proftpd"
chmod 755 "$RUN/proftpd"
port=$(free_port)
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
UseReverseDNS off
PidFile $RUN/proftpd/proftpd.pid
ScoreboardFile $RUN/proftpd/proftpd.scoreboard
<Anonymous $RUN/proftpd-share>
  User ftp
  Group $(id -gn ftp)
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit WRITE>
    DenyAll
  </Limit>
  <Directory incoming>
    <Limit STOR>
      AllowAll
    </Limit>
    <Limit READ DELE RMD MKD RNFR RNTO>
      DenyAll
    </Limit>
  </Directory>
</Anonymous>
EOF
"$WORK/root/usr/sbin/proftpd" -t -c "$RUN/proftpd.conf" > "$RUN/proftpd-check.log" 2>&1 ||
    { cat "$RUN/proftpd-check.log"; die "proftpd configuration rejected"; }
"$WORK/root/usr/sbin/proftpd" -n -c "$RUN/proftpd.conf" > "$RUN/proftpd.log" 2>&1 &
PIDS+=($!)
check proftpd-upload-only "$port" "$!" \
    "FTP_SERVICE|ftp-service|*|ProFTPD" \
    "FTP_NO_TLS|*|*|*" \
    "FTP_ANONYMOUS_LOGIN|*|*|*" \
    "FTP_ANONYMOUS_WRITE|ftp-anonymous-write|incoming|upload-only" \
    "FTP_ANONYMOUS_WRITE|ftp-write-probe-left-behind|incoming/phiscan-probe-*|*" \
    absent=FTP_BOUNCE \
    "verdict=anonymous_login=found"

# ---- pure-ftpd, no certificate
make_share "$RUN/pure-share"
chmod 755 "$RUN/pure-share/incoming"
FTP_HOME_SAVED=$(getent passwd ftp | cut -d: -f6)
usermod -d "$RUN/pure-share" ftp
port=$(free_port)
"$WORK/root/usr/sbin/pure-ftpd" -S "127.0.0.1,$port" -e -i -H -4 -p 30200:30300 > "$RUN/pure-ftpd.log" 2>&1 &
PIDS+=($!)
check pure-ftpd "$port" "$!" \
    "FTP_SERVICE|ftp-service|*|Pure-FTPd" \
    "FTP_NO_TLS|*|*|although FEAT lists AUTH TLS" \
    "FTP_ANONYMOUS_LOGIN|*|*|*" \
    absent=FTP_ANONYMOUS_WRITE absent=FTP_TLS_CERT absent=FTP_BOUNCE
usermod -d "$FTP_HOME_SAVED" ftp
FTP_HOME_SAVED=""

if [ "$FAILED" = 0 ]; then
    echo "interop-discover: every verdict as expected"
    rm -rf "$RUN"
else
    echo "interop-discover: FAILED (work folder kept: $RUN)"
    exit 1
fi
