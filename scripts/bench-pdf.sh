#!/usr/bin/env bash
# PDF extraction: phiscan's own parser against pdf-extract (on lopdf), the
# baseline, measured in the same run on:
#   1. the producer corpus (fixtures/pdf-corpus/generate.sh): how many of
#      the planted values phiscan's default rules find in each one's text;
#   2. two large PDFs (a 400-page ReportLab report and a 60-page Chromium
#      print): wall time and peak RSS;
#   3. hostile PDFs (the issue-20 file: ten FlateDecode content streams at
#      ~63:1, a bomb past the ratio limit, deep nesting, a reference cycle)
#      and the fuzz corpus (fuzz/corpus/extract_pdf, when present): panics,
#      time and peak RSS.
# pdf-extract's text is matched by phiscan on the text files it writes, so
# both sides are judged by the same rules.
#
#   scripts/bench-pdf.sh [WORK=target/bench-pdf]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-target/bench-pdf}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
CORPUS=$WORK/corpus

cargo build --release --quiet --bin phiscan
PHISCAN=$PWD/target/release/phiscan
(cd scripts/pdf-compare && CARGO_TARGET_DIR="$PWD/../../target/pdf-compare" cargo build --release --quiet)
BASELINE=$PWD/target/pdf-compare/release/pdf-compare

if [ ! -f "$CORPUS/MANIFEST.tsv" ]; then
  fixtures/pdf-corpus/generate.sh "$CORPUS" --no-install >/dev/null 2>&1 ||
    fixtures/pdf-corpus/generate.sh "$CORPUS"
fi

# Large and hostile inputs.
python3 - "$WORK" <<'EOF'
import os, random, sys, zlib
work = sys.argv[1]
os.makedirs(f"{work}/large", exist_ok=True)
os.makedirs(f"{work}/hostile", exist_ok=True)

def write_pdf(path, pages, extra=()):
    """pages: content bytes per page (already filtered) with its dict."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for dict_, data in pages:
        objs.append(b"%s /Length %d >>\nstream\n" % (dict_, len(data)) + data + b"\nendstream")
        content = len(objs)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>" % content)
        kids.append(len(objs))
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objs.extend(extra)
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    open(path, "wb").write(out)

# Issue 20: ten content streams of ~105 MB each at ~63:1 (16.7 MB file).
# Text first (an SSN on each page), then lines of text operators.
rng = random.Random(20)
if not os.path.exists(f"{work}/hostile/issue20.pdf"):
    # One 1 MiB block of text lines with a little entropy each (deflate
    # sees 32 KiB back, so repeating the block keeps its ratio).
    block = bytearray()
    while len(block) < 1 << 20:
        noise = bytes(rng.choice(b"abcdefghij0123456789") for _ in range(2))
        block += b"BT /F1 9 Tf 72 700 Td (" + noise + b"." * 90 + b") Tj ET\n"
    block = bytes(block)
    pages = []
    for p in range(10):
        c = zlib.compressobj(6)
        out = bytearray(c.compress(b"BT /F1 12 Tf 72 760 Td (SSN: 219-45-%04d) Tj ET\n" % (6780 + p)))
        for _ in range(100):
            out += c.compress(block)
        out += c.flush()
        pages.append((b"<< /Filter /FlateDecode", bytes(out)))
    write_pdf(f"{work}/hostile/issue20.pdf", pages)

# A bomb past the ratio limit: 2 GB of spaces behind an SSN.
if not os.path.exists(f"{work}/hostile/bomb.pdf"):
    c = zlib.compressobj(9)
    out = bytearray(c.compress(b"BT /F1 12 Tf 72 760 Td (SSN: 219-45-6780) Tj ET\n"))
    block = b" " * (1 << 20)
    for _ in range(2048):
        out += c.compress(block)
    out += c.flush()
    write_pdf(f"{work}/hostile/bomb.pdf", [(b"<< /Filter /FlateDecode", bytes(out))])

# Deep nesting and a reference cycle in the page tree and resources.
deep = b"[" * 200000 + b"]" * 200000
write_pdf(f"{work}/hostile/deep.pdf",
          [(b"<<", b"BT /F1 12 Tf 72 700 Td (SSN: 219-45-6780) Tj ET")],
          [b"<< /Deep " + deep + b" >>"])
cycle = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
         b"2 0 obj << /Type /Pages /Kids [3 0 R 2 0 R] /Count 1 /Resources 5 0 R >> endobj\n"
         b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources 6 0 R >> endobj\n"
         b"4 0 obj << /Length 48 >> stream\nBT /F1 12 Tf 72 700 Td (SSN: 219-45-6780) Tj ET\nendstream endobj\n"
         b"5 0 obj 6 0 R endobj\n6 0 obj 5 0 R endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
open(f"{work}/hostile/cycle.pdf", "wb").write(cycle)

# Large: a 400-page report of 60 lines per page (ReportLab).
if not os.path.exists(f"{work}/large/reportlab-400.pdf"):
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(f"{work}/large/reportlab-400.pdf")
    for p in range(400):
        c.setFont("Helvetica", 9)
        for i in range(60):
            c.drawString(36, 780 - 12 * i, f"Record {p * 60 + i}: visit 2024-03-{i % 28 + 1:02d}, lot {rng.randrange(10**8)}, Date of birth: 03/14/1962")
        c.showPage()
    c.save()
EOF
if [ ! -f "$WORK/large/chromium-60.pdf" ]; then
  python3 - "$WORK" <<'EOF'
import sys
work = sys.argv[1]
rows = "".join(f"<tr><td>Record {i}</td><td>Date of birth:</td><td>03/14/1962</td><td>Home phone: (217) 555-{i % 10000:04d}</td></tr>" for i in range(3000))
open(f"{work}/large/chromium.html", "w").write(f"<html><body><table>{rows}</table></body></html>")
EOF
  chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
    --print-to-pdf="$WORK/large/chromium-60.pdf" "file://$WORK/large/chromium.html" 2>/dev/null
fi

planted=$(tail -n +2 "$CORPUS/PLANTED.tsv" | cut -f2)
found_in() { # REPORT.csv -> number of planted values in the match column
  local n=0
  while IFS= read -r v; do
    if python3 -c 'import csv,sys; sys.exit(0 if any(r["match"]==sys.argv[2] for r in csv.DictReader(open(sys.argv[1]))) else 1)' "$1" "$v"; then
      n=$((n + 1))
    fi
  done <<<"$planted"
  echo "$n"
}
# CPU seconds (user + system) rather than wall time: the machine is shared,
# and CPU time is what contention changes least.
cpu_of() { # TIME_FILE -> "cpu_seconds peak_kib"
  tail -n 1 "$1" | awk '{printf "%.2f %d\n", $1 + $2, $3}'
}
measure() { # CMD... -> "cpu_seconds peak_kib"
  /usr/bin/time -f "%U %S %M" -o "$WORK/time.txt" "$@" >/dev/null 2>&1 || true
  cpu_of "$WORK/time.txt"
}

echo "## Planted values found (of $(wc -l <<<"$planted")), per producer"
printf '%-34s %8s %12s\n' file phiscan pdf-extract
total_p=0; total_b=0; files=0
rm -rf "$WORK/text"; mkdir -p "$WORK/text"
for f in "$CORPUS"/*.pdf; do
  name=$(basename "$f")
  [ "$name" = negative.pdf ] && continue
  "$PHISCAN" scan --unmask -q --threads 1 "$f" -o "$WORK/p.csv" >/dev/null 2>&1 || true
  p=$(found_in "$WORK/p.csv")
  outcome=$("$BASELINE" "$WORK/text" "$f" | cut -f2)
  if [ -f "$WORK/text/$name.txt" ]; then
    "$PHISCAN" scan --unmask -q --threads 1 "$WORK/text/$name.txt" -o "$WORK/b.csv" >/dev/null 2>&1 || true
    b=$(found_in "$WORK/b.csv")
  else
    b="0 ($outcome)"
  fi
  printf '%-34s %8s %12s\n' "$name" "$p" "$b"
  total_p=$((total_p + p)); total_b=$((total_b + ${b%% *})); files=$((files + 1))
done
printf '%-34s %8s %12s\n' "total ($files files)" "$total_p" "$total_b"

echo
echo "## Large PDFs: CPU seconds and peak RSS (KiB) to findings"
echo "## (phiscan on the PDF | pdf-extract, then phiscan on its text: summed, max)"
printf '%-22s %16s %16s\n' file phiscan pdf-extract
for f in "$WORK"/large/*.pdf; do
  p=$(measure "$PHISCAN" scan -q --threads 1 "$f" -o /dev/null)
  b1=$(measure "$BASELINE" "$WORK/text" "$f")
  b2=$(measure "$PHISCAN" scan -q --threads 1 "$WORK/text/$(basename "$f").txt" -o /dev/null)
  b=$(python3 -c 'import sys; a=sys.argv[1].split(); b=sys.argv[2].split(); print(f"{float(a[0])+float(b[0]):.2f} {max(int(a[1]),int(b[1]))}")' "$b1" "$b2")
  printf '%-22s %16s %16s   (pdf-extract alone: %s)\n' "$(basename "$f")" "$p" "$b" "$b1"
done

echo
echo "## Hostile PDFs: CPU seconds, peak RSS (KiB), outcome"
for f in "$WORK"/hostile/*.pdf; do
  p=$(measure "$PHISCAN" scan -q --threads 2 --unmask "$f" -o "$WORK/h.csv" --summary-json "$WORK/h.json")
  reason=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(",".join(f"{k}={v}" for k,v in s.get("not_examined",{}).items()) or "examined")' "$WORK/h.json" 2>/dev/null || echo "?")
  found=$(tail -n +2 "$WORK/h.csv" | wc -l)
  /usr/bin/time -f "%U %S %M" -o "$WORK/time.txt" timeout 300 "$BASELINE" "$WORK/text" "$f" >"$WORK/b.tsv" 2>/dev/null || true
  b=$(cpu_of "$WORK/time.txt")
  bo=$(cut -f2 "$WORK/b.tsv")
  printf '%-12s phiscan: %s, %s, %s finding(s) | pdf-extract: %s, %s\n' "$(basename "$f")" "$p" "$reason" "$found" "$b" "${bo:-killed}"
done

if [ -d fuzz/corpus/extract_pdf ]; then
  echo
  echo "## Fuzz corpus (fuzz/corpus/extract_pdf): $(ls fuzz/corpus/extract_pdf | wc -l) inputs"
  ls fuzz/corpus/extract_pdf | head -n "${FUZZ_SAMPLE:-100000}" | sed "s|^|fuzz/corpus/extract_pdf/|" >"$WORK/fuzz-list.txt"
  p=$(measure "$PHISCAN" scan -q --threads 1 fuzz/corpus/extract_pdf -o /dev/null)
  echo "phiscan (one run over all, one thread): CPU seconds, peak KiB: $p"
  xargs -a "$WORK/fuzz-list.txt" "$BASELINE" "$WORK/fuzz-text" >"$WORK/fuzz-baseline.tsv" 2>/dev/null || true
  echo "pdf-extract: $(cut -f2 "$WORK/fuzz-baseline.tsv" | grep -c '^panic') panics, $(cut -f2 "$WORK/fuzz-baseline.tsv" | grep -c '^error') errors, $(cut -f2 "$WORK/fuzz-baseline.tsv" | grep -c '^ok') ok, $(wc -l <"$WORK/fuzz-baseline.tsv") of $(wc -l <"$WORK/fuzz-list.txt") reported (a missing line is an abort)"
  b=$(measure xargs -a "$WORK/fuzz-list.txt" "$BASELINE" "$WORK/fuzz-text")
  echo "pdf-extract (one run over all): CPU seconds, peak KiB: $b"
fi
