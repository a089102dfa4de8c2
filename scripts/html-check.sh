#!/usr/bin/env bash
# Checks the HTML report in a real headless browser (Debian chromium):
# installs chromium when missing (apt), then runs tests/it/report_html.rs,
# which loads the page from disk, compares the numbers it shows with the
# report, applies a filter and a sort, fails on any Content-Security-Policy
# violation in chromium's log (--enable-logging=stderr: a style or script
# whose hash is not the policy's is refused, and the console says so),
# prints it to PDF and reads the pages back (pdftotext), and saves a
# screenshot and the PDF to $PHISCAN_ARTIFACTS (default: artifacts/) for CI
# to upload.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
    else
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
    fi
fi

export PHISCAN_ARTIFACTS="${PHISCAN_ARTIFACTS:-$PWD/artifacts}"
export PHISCAN_REQUIRE_CHROMIUM=1
mkdir -p "$PHISCAN_ARTIFACTS"
cargo test --test it report_html:: -- --nocapture
echo "screenshot: $PHISCAN_ARTIFACTS/phiscan-report.png, PDF: $PHISCAN_ARTIFACTS/phiscan-report.pdf"
