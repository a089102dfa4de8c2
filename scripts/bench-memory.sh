#!/usr/bin/env bash
# Peak memory on hostile inputs (issue 20, item 3): files built to make an
# extractor hold far more than they weigh. Each is scanned alone, then all
# of them at once with the default threads; GNU time reports peak RSS.
#
#   scripts/bench-memory.sh [BASELINE_BIN]
#
# With BASELINE_BIN (another phiscan build), its figures are printed beside
# this tree's, measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench-data/memory
mkdir -p "$DATA"
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --quiet --bin phiscan
BIN=target/release/phiscan
BASE=${1:-}

if [ ! -f "$DATA/.done" ]; then
  python3 - "$DATA" <<'EOF'
import base64, os, random, sys, zipfile, zlib
d = sys.argv[1]
rnd = random.Random(7)
# HL7: one PID segment of 31 MB of field separators.
open(f"{d}/fields.hl7", "wb").write(
    b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||MRN123||DOE^JOHN||19800102|M"
    + b"|" * 31_000_000 + b"\r")
# X12: one segment of 15 MB of element separators.
open(f"{d}/elements.x12", "wb").write(
    b"ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     *240101*1200*^*00501*000000001*0*P*:~"
    b"ST*837*0001~DMG*D8*19800102~REF*" + b"*" * 15_000_000 + b"~SE*4*0001~")
# CSV: one row of 15 MB of delimiters.
open(f"{d}/cells.csv", "wb").write(
    b"name,dob,ssn\nJohn,01/02/1980,536-22-1299\n" + b"," * 15_000_000 + b"\n")
# DOCX: one text node of 300 MB that does not compress far.
words = base64.b32encode(os.urandom(190_000_000)).decode().lower()
doc = ('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
       'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Patient DOB: 01/02/1980 '
       + words + '</w:t></w:r></w:p></w:body></w:document>')
with zipfile.ZipFile(f"{d}/node.docx", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("word/document.xml", doc)
# PDF: ten FlateDecode streams of about 105 MB each, compressed ~63:1.
objs, streams = [], []
for i in range(10):
    content = (b"BT /F1 12 Tf 72 720 Td (" + bytes(rnd.choice(b"abcd ") for _ in range(4000)) + b") Tj ET\n") * 26_000
    streams.append(zlib.compress(content, 9))
out = bytearray(b"%PDF-1.4\n")
offsets = []
def obj(body):
    offsets.append(len(out)); out.extend(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")
kids = " ".join(f"{3 + i * 2} 0 R" for i in range(10))
obj(b"<< /Type /Catalog /Pages 2 0 R >>")
obj(f"<< /Type /Pages /Kids [{kids}] /Count 10 >>".encode())
for i, s in enumerate(streams):
    obj(f"<< /Type /Page /Parent 2 0 R /Contents {4 + i * 2} 0 R >>".encode())
    obj(f"<< /Length {len(s)} /Filter /FlateDecode >>\nstream\n".encode() + s + b"\nendstream")
xref = len(out)
out.extend(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
for o in offsets:
    out.extend(f"{o:010d} 00000 n \n".encode())
out.extend(f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
open(f"{d}/streams.pdf", "wb").write(out)
EOF
  touch "$DATA/.done"
fi

measure() { # BIN ARGS... -> "seconds KiB"
  local bin=$1
  shift
  /usr/bin/time -f "%e %M" "$bin" scan -q -o /dev/null "$@" 2>&1 >/dev/null | tail -1
}

printf '| input | size | %s |%s\n' "peak RSS (this tree)" "${BASE:+ peak RSS ($BASE) |}"
printf '|---|---|---|%s\n' "${BASE:+---|}"
for f in fields.hl7 elements.x12 cells.csv node.docx streams.pdf; do
  size=$(du -h "$DATA/$f" | cut -f1)
  read -r _ kib < <(measure "$BIN" "$DATA/$f")
  row="| $f | $size | $((kib / 1024)) MiB |"
  if [ -n "$BASE" ]; then
    read -r _ bkib < <(measure "$BASE" "$DATA/$f")
    row="$row $((bkib / 1024)) MiB |"
  fi
  echo "$row"
done
read -r secs kib < <(measure "$BIN" "$DATA")
echo "| all five at once ($(nproc) threads) | $(du -sh "$DATA" | cut -f1) | $((kib / 1024)) MiB |"
