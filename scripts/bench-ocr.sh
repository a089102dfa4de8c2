#!/usr/bin/env bash
# OCR: phiscan's scan of the scanned fixtures against the baseline, the
# `tesseract` program run directly on the same files (`tesseract FILE
# stdout -l eng`, every page of the TIFF fax), measured in the same run with
# the same parallelism (2 at a time, OMP_THREAD_LIMIT=1 on both sides).
# Then what each preprocessing step buys (examples/ocr_steps.rs): words and
# values found against the text each page shows, and engine time.
#
#   scripts/bench-ocr.sh [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
command -v tesseract >/dev/null || { echo "needs tesseract (apt-get install tesseract-ocr tesseract-ocr-eng)"; exit 2; }

cargo build --release --quiet --bin phiscan --example ocr_steps
PHISCAN=$PWD/target/release/phiscan
STEPS=$PWD/target/release/examples/ocr_steps
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The images only (the DICOM files are not pages yet).
mkdir -p "$WORK/pages"
for f in fixtures/formats/scans/*.* fixtures/formats/scans/negative/*.*; do
  cp "$f" "$WORK/pages/"
done
PAGES=$(ls "$WORK/pages" | wc -l)
export OMP_THREAD_LIMIT=1

now() { date +%s.%N; }
best_tess=""; best_phi=""
for run in $(seq "$RUNS"); do
  t0=$(now)
  ls "$WORK/pages"/* | xargs -P 2 -I{} sh -c 'tesseract "$1" stdout -l eng >/dev/null 2>&1' _ {}
  t1=$(now)
  "$PHISCAN" scan "$WORK/pages" --threads 2 -q -o "$WORK/report.csv" \
    --summary-json "$WORK/summary.json" || true
  t2=$(now)
  tess=$(echo "$t1 - $t0" | bc); phi=$(echo "$t2 - $t1" | bc)
  echo "run $run: tesseract directly ${tess}s, phiscan ${phi}s"
  if [ -z "$best_tess" ] || [ "$(echo "$tess < $best_tess" | bc)" = 1 ]; then best_tess=$tess; fi
  if [ -z "$best_phi" ] || [ "$(echo "$phi < $best_phi" | bc)" = 1 ]; then best_phi=$phi; fi
done
pages_read=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ocr']['pages'])" "$WORK/summary.json")
engine=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['ocr']['engine_seconds'],1))" "$WORK/summary.json")
findings=$(($(wc -l <"$WORK/report.csv") - 1))
echo
echo "files: $PAGES, pages read by phiscan: $pages_read, findings: $findings"
echo "best of $RUNS: tesseract directly ${best_tess}s, phiscan ${best_phi}s" \
  "(ratio $(echo "scale=2; $best_phi / $best_tess" | bc))"
# The summary's OCR time runs from before a page is decoded to the end of
# its text from the engine (decoding and preprocessing included, and the
# model load for each slot's first page), summed over the workers.
echo "phiscan OCR time, last run: ${engine}s (decode + preprocessing + engine, summed over workers)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
echo
echo "== preprocessing steps (examples/ocr_steps.rs)"
"$STEPS" fixtures/formats/scans-text fixtures/formats/scans/*.*
