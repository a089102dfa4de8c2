#!/usr/bin/env python3
"""Small print for the OCR scaling benchmark (BENCHMARKS.md, "OCR vs
tesseract"): one scanned form per resolution (150, 200, 300 dpi) and
print size (6, 7, 8, 10, 12 pt), 14 lines of labelled values each, turned
a little and given sensor noise as fixtures/scans/generate.py's scans are,
with the text each page shows under TRUTH for examples/ocr_steps.rs.

    python3 scripts/gen-small-print.py OUT
    target/release/examples/ocr_steps OUT/truth OUT/img/*.png
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "scans"))
import generate as g  # noqa: E402 (after the path is set)

out = sys.argv[1]
os.makedirs(out + "/img", exist_ok=True); os.makedirs(out + "/truth", exist_ok=True)
rnd = random.Random(7)
first = "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth".split()
last = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez".split()
def line():
    k = rnd.randrange(5)
    n = f"{rnd.choice(first)} {rnd.choice(last)}"
    if k == 0: return f"Patient: {n}   SSN: {rnd.randint(100,665):03d}-{rnd.randint(10,99)}-{rnd.randint(1000,9999)}"
    if k == 1: return f"Date of birth: {rnd.randint(1,12):02d}/{rnd.randint(1,28):02d}/{rnd.randint(1930,2010)}   Visit {rnd.randint(1,12):02d}/{rnd.randint(1,28):02d}/2024"
    if k == 2: return f"Phone: (555) 01{rnd.randint(0,9)}-{rnd.randint(1000,9999)}   Contact {n}"
    if k == 3: return f"Medical record number {rnd.randint(10000000,99999999)} for {n}"
    return f"Insurance member ID {rnd.randint(100000000,999999999)} group {rnd.randint(1000,9999)}"
for dpi in (150, 200, 300):
    for pt in (6, 7, 8, 10, 12):
        blocks = [(line(), pt, False) for _ in range(14)]
        page, text = g.render_page(blocks, dpi)
        img = g.scanify(page, rnd.uniform(-1.5, 1.5), 4, seed=dpi * 100 + pt, levels=64)
        name = f"p{dpi}_{pt:02d}pt.png"
        img.save(f"{out}/img/{name}", "PNG", dpi=(dpi, dpi))
        open(f"{out}/truth/{name}.txt", "w").write(text)
