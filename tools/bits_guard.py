#!/usr/bin/env python3
"""The bits guard: every buffer the GPU tests copy back, recorded as a hash, so that a change to
the kernels can be shown to leave their outputs bit for bit as they were (or the cases where they
differ named, to be explained).

  tools/bits_guard.py record OUT [--build build-sim] [--order index] [--jobs 2] [-R REGEX]
      runs the build's tests (ctest) with RNNATTN_BITS_DIR=OUT: each test writes OUT/<test>.bits,
      one line per copy to the host ("copy-number bytes fnv1a64"; tests/cuda/cuda_test_util.hpp).
  tools/bits_guard.py compare BEFORE AFTER
      names every test whose copies differ (and which copies), and the tests only one side ran;
      exits 1 when any differs.

Record before the change, record after it with the same build kind and device layout
(RNNATTN_SIM_DEVICE), compare. Two block orders of one build must compare equal too: the kernels'
reductions do not depend on the order blocks run in.
"""
import argparse
import os
import subprocess
import sys


def record(args) -> int:
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if os.listdir(out):
        sys.exit(f"bits_guard: {out} is not empty (each test appends to its file)")
    env = dict(os.environ, RNNATTN_BITS_DIR=out)
    if args.order:
        env["RNNATTN_SIM_ORDER"] = args.order
    cmd = ["ctest", "--test-dir", args.build, "-j", str(args.jobs), "--output-on-failure"]
    if args.regex:
        cmd += ["-R", args.regex]
    rc = subprocess.call(cmd, env=env)
    files = [f for f in os.listdir(out) if f.endswith(".bits")]
    print(f"bits_guard: {len(files)} tests recorded in {out}")
    return rc


def read(folder: str) -> dict:
    tests = {}
    for f in sorted(os.listdir(folder)):
        if f.endswith(".bits"):
            with open(os.path.join(folder, f)) as fh:
                tests[f[: -len(".bits")]] = [line.split() for line in fh if line.strip()]
    return tests


def compare(args) -> int:
    before, after = read(args.before), read(args.after)
    differ = 0
    for name in sorted(set(before) | set(after)):
        if name not in after:
            print(f"only before: {name}")
            continue
        if name not in before:
            print(f"only after:  {name}")
            continue
        a, b = before[name], after[name]
        if a == b:
            continue
        differ += 1
        if len(a) != len(b):
            print(f"differs:     {name}: {len(a)} copies before, {len(b)} after")
            continue
        which = [x[0] for x, y in zip(a, b) if x != y]
        print(f"differs:     {name}: copies {', '.join(which)} of {len(a)}")
    same = len(set(before) & set(after)) - differ
    print(f"bits_guard: {same} tests equal bit for bit, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("out")
    r.add_argument("--build", default="build-sim")
    r.add_argument("--order", default="", help="RNNATTN_SIM_ORDER (index, reverse, shuffle:N)")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("-R", dest="regex", default="")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = p.parse_args()
    return record(args) if args.command == "record" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
