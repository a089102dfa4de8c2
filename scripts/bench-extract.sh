#!/usr/bin/env bash
# Extractor throughput (issue 4): the same text (TEXT_MIB of log-like lines
# with some PHI) scanned as a plain file and inside each container or
# document format, one file at a time, release build. Throughput is given
# in MB/s of the text carried, so rows compare what extraction costs.
#
#   scripts/bench-extract.sh [TEXT_MIB=64]
#
# Data goes to bench-data/extract/ (git-ignored) and is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
TEXT_MIB=${1:-64}
DATA=bench-data/extract
BIN=${CARGO_TARGET_DIR:-target}/release/phiscan
cargo build --release --quiet --bin phiscan
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [ ! -f "$DATA/.done-$TEXT_MIB" ]; then
  rm -rf "$DATA" && mkdir -p "$DATA"
  python3 - "$DATA" "$TEXT_MIB" <<'PY'
import gzip, io, random, sys, tarfile, zipfile, zlib
out, mib = sys.argv[1], int(sys.argv[2])
random.seed(7)
lines = []
size = 0
i = 0
while size < mib << 20:
    if i % 500 == 0:
        line = f"{i} patient SSN: 219-45-{random.randint(1000, 9999)} DOB: 03/14/1962 NPI 1234567893\n"
    else:
        line = f"{i} host{random.randint(1,999)} req={random.getrandbits(40):x} user=u{random.randint(1,99999)} status={random.choice([200,404,500])} ms={random.randint(1,9999)}\n"
    lines.append(line)
    size += len(line)
    i += 1
text = "".join(lines).encode()
open(f"{out}/plain.txt", "wb").write(text)
open(f"{out}/log.txt.gz", "wb").write(gzip.compress(text, 6))
with zipfile.ZipFile(f"{out}/archive.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("log.txt", text)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    info = tarfile.TarInfo("log.txt"); info.size = len(text)
    t.addfile(info, io.BytesIO(text))
open(f"{out}/archive.tgz", "wb").write(gzip.compress(buf.getvalue(), 6))
esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
paras = "".join(f"<w:p><w:r><w:t>{esc(l.rstrip())}</w:t></w:r></w:p>" for l in lines)
doc = f'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{paras}</w:body></w:document>'
with zipfile.ZipFile(f"{out}/document.docx", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("word/document.xml", doc)
rows = "".join(f'<row r="{n+1}"><c r="A{n+1}" t="inlineStr"><is><t>{esc(l.rstrip())}</t></is></c></row>' for n, l in enumerate(lines))
with zipfile.ZipFile(f"{out}/sheet.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("xl/workbook.xml", '<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
    z.writestr("xl/_rels/workbook.xml.rels", '<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>')
    z.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{rows}</sheetData></worksheet>")
open(f"{out}/page.html", "wb").write(("<!DOCTYPE html><html><body>\n" + "".join(f"<p>{esc(l.rstrip())}</p>\n" for l in lines) + "</body></html>\n").encode())
open(f"{out}/letter.rtf", "wb").write(("{\\rtf1\\ansi " + "".join(l.rstrip().replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}") + "\\par\n" for l in lines) + "}").encode())
# PDF: 60 lines per page, one FlateDecode content stream per page.
def pdfstr(s): return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
objs = ["<< /Type /Catalog /Pages 2 0 R >>", None]
kids = []
for p in range(0, len(lines), 60):
    content = "BT /F1 9 Tf 36 780 Td " + " T* ".join(f"({pdfstr(l.rstrip())}) Tj" for l in lines[p:p+60]) + " ET"
    data = zlib.compress(content.encode())
    objs.append(f"<< /Type /Page /Parent 2 0 R /Contents {len(objs)+2} 0 R >>")
    kids.append(len(objs))
    objs.append((f"<< /Filter /FlateDecode /Length {len(data)} >>\nstream\n").encode() + data + b"\nendstream")
objs[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
pdf = bytearray(b"%PDF-1.4\n")
offsets = []
for n, o in enumerate(objs, 1):
    offsets.append(len(pdf))
    pdf += f"{n} 0 obj\n".encode() + (o if isinstance(o, bytes) else o.encode()) + b"\nendobj\n"
x = len(pdf)
pdf += f"xref\n0 {len(objs)+1}\n0000000000 65535 f \n".encode() + b"".join(f"{o:010} 00000 n \n".encode() for o in offsets)
pdf += f"trailer\n<< /Size {len(objs)+1} /Root 1 0 R >>\nstartxref\n{x}\n%%EOF\n".encode()
open(f"{out}/report.pdf", "wb").write(pdf)
open(f"{out}/.text-bytes", "w").write(str(len(text)))
PY
  touch "$DATA/.done-$TEXT_MIB"
fi

TEXT_BYTES=$(cat "$DATA/.text-bytes")
echo "text carried by each file: $TEXT_BYTES bytes; $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg)"
printf '| %-13s | %12s | %8s | %10s | %9s | %8s |\n' format "file bytes" "time s" "text MB/s" "vs plain" "RSS MiB"
plain_rate=""
for f in plain.txt log.txt.gz archive.zip archive.tgz document.docx sheet.xlsx report.pdf page.html letter.rtf; do
  cat "$DATA/$f" > /dev/null
  /usr/bin/time -o "$DATA/time.txt" -f "%e %M" "$BIN" scan -q -o /dev/null "$DATA/$f" >/dev/null 2>&1 || true
  stats=$(tail -1 "$DATA/time.txt")
  secs=${stats% *}; rss=${stats#* }
  rate=$(python3 -c "print(f'{$TEXT_BYTES/max($secs,0.001)/1e6:.0f}')")
  [ -z "$plain_rate" ] && plain_rate=$rate
  rel=$(python3 -c "print(f'{$rate/$plain_rate:.2f}x')")
  printf '| %-13s | %12s | %8s | %10s | %9s | %8s |\n' "$f" "$(stat -c %s "$DATA/$f")" "$secs" "$rate" "$rel" "$((rss/1024))"
done
