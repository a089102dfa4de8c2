#!/usr/bin/env python3
"""Summarises `scripts/bench.sh matrix`: for each content kind, the median
wall time of phiscan and of ripgrep (`--count-matches` and `-c`) over the
hyperfine runs of both orders, and their ratios, as a Markdown table,
worst case (highest phiscan / --count-matches) first.

    bench-matrix.py DATA_DIR KIND...

Reads DATA_DIR/matrix/KIND-{ab,ba}.json and DATA_DIR/matrix/KIND.bytes.
"""
import json
import statistics
import sys

data, kinds = sys.argv[1], sys.argv[2:]
rows = []
for kind in kinds:
    times = {}
    for order in ("ab", "ba"):
        with open(f"{data}/matrix/{kind}-{order}.json") as f:
            for r in json.load(f)["results"]:
                times.setdefault(r["command"], []).extend(r["times"])
    with open(f"{data}/matrix/{kind}.bytes") as f:
        size = int(f.read())
    med = {name: statistics.median(t) for name, t in times.items()}
    ps, every, first = med["phiscan"], med["rg-count-matches"], med["rg-c"]
    rows.append((ps / every, ps / first, kind, size, ps, every, first, len(times["phiscan"])))

rows.sort(reverse=True)
print("| kind | MiB | phiscan | rg --count-matches | rg -c | phiscan / --count-matches | phiscan / -c | runs |")
print("|---|---|---|---|---|---|---|---|")
for r_every, r_first, kind, size, ps, every, first, n in rows:
    print(
        f"| {kind} | {size / 2**20:.0f} | {ps:.3f} s ({size / ps / 1e6:.0f} MB/s) "
        f"| {every:.3f} s | {first:.3f} s | **{r_every:.2f}×** | {r_first:.2f}× | {n} |"
    )
