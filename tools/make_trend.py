#!/usr/bin/env python3
"""Writes data/trend.csv: a generated weekly series that keeps rising past any training range, as
a concentration measured at a station does (a trend that accelerates slowly, a yearly cycle, and
noise), dated YYYY-MM-DD from 2000-01-02 in steps of 7 days. 600 rows; seeded, so the file is the
same every time. It shows what --difference and --scale do (docs/cli.md, "Data format", trends)."""
import datetime
import math
import os
import random

rng = random.Random(20261202)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
day = datetime.date(2000, 1, 2)
rows = ["DATE,LEVEL"]
for k in range(600):
    years = k / 52.18
    level = 370 + 1.6 * years + 0.012 * years * years + 3.0 * math.sin(2 * math.pi * years)
    level += rng.gauss(0, 0.35)
    rows.append(f"{day.isoformat()},{level:.2f}")
    day += datetime.timedelta(days=7)
with open(os.path.join(root, "data", "trend.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
print("wrote data/trend.csv")
