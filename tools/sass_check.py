#!/usr/bin/env python3
"""The compiled-code check of the nvcc build.

For every kernel in the given objects or libraries (the nvcc build's librnnattn.a), reads
`cuobjdump -res-usage` (registers, stack frame, local memory) and the SASS (`cuobjdump -sass`,
which needs nvdisasm): local-memory instructions (STL/LDL: spills or arrays the compiler could not
keep in registers), global loads (LDG) and barriers (BAR), and the most global loads the kernel
issues back to back before any of them is used ("in flight": a run of LDGs ends at the first
instruction that reads one of their results, or at a branch or barrier), over all its loads and
over its strong ones (LDG.E.STRONG.GPU: __ldcg, which the persistent kernels use for exactly the
rows other blocks wrote the step before, h_{t-1} or dL/drec_{t+1}: their per-step staging), the
4-byte and the 16-byte ones (LDG.E.128.STRONG.GPU, rows of a multiple of 4 floats) apart. Prints
one table row per kernel and fails (exit 1) when any kernel has a stack frame or touches local
memory (on the recurrent kernels a spill is a round trip through L1/L2 inside the step's dependent
chain), or when a persistent kernel keeps fewer than IN_FLIGHT 4-byte staging loads in flight, or
one compiled for more than 64 registers (a grid of at most one block an SM) fewer than
WIDE_IN_FLIGHT 16-byte ones (a step would pay one L2 round trip per load or few).

cuobjdump and nvdisasm come from the CUDA toolkit, or from PyPI's nvidia-cuda-cuobjdump and
nvidia-cuda-nvdisasm wheels (tools/build.sh installs them where the toolkit lacks them). Where
neither is found the check exits 77 (ctest's skip) and says so.

usage: tools/sass_check.py [--tools DIR] [--report FILE] OBJECT_OR_LIBRARY...
"""
import argparse
import glob
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile

SKIP = 77
# The persistent kernels' staging keeps up to 16 loads in flight (kStageInFlight,
# persistent_common.cuh), the Elman forward's 4-blocks-an-SM variant 4 (its 64 registers hold no
# more): the check asks for 4, which every staging written one load at a time (1) fails. Their
# 16-byte staging keeps the same bytes in flight where registers are capped at 64 (1 to 4 loads)
# and 16 loads in the one-block-an-SM variants (B32 H1024's whole step): those must keep 8.
IN_FLIGHT = 4
WIDE_IN_FLIGHT = 8
CAPPED_REGISTERS = 64
# The whole-GPU kernels that stage from L2: the grid's variants, not the cluster's (ClusterWide:
# their rows arrive in shared memory from the cluster's blocks; nothing is staged).
PERSISTENT = re.compile(r"persistent_(forward|backward)_kernel(?!.*ClusterWide)")


def find_tool(name, tool_dirs):
    """The tool on PATH, in the CUDA toolkit, or in a pip wheel's nvidia/cu*/bin (under one of
    tool_dirs, a pip --target, or this Python's site-packages)."""
    found = shutil.which(name)
    if found:
        return found
    for d in [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"]:
        p = os.path.join(d, "bin", name)
        if d and os.access(p, os.X_OK):
            return p
    roots = tool_dirs + site.getsitepackages() + [site.getusersitepackages()]
    for root in roots:
        for p in sorted(glob.glob(os.path.join(root, "nvidia", "cu*", "bin", name)), reverse=True):
            if os.access(p, os.X_OK):
                return p
    return None


def demangle(names):
    if not names or not shutil.which("c++filt"):
        return {n: n for n in names}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return dict(zip(names, out)) if len(out) == len(names) else {n: n for n in names}


def short(name):
    """rnnattn::kernels::(anonymous namespace)::k<...>(args) -> k<...>."""
    name = re.sub(r"rnnattn::kernels::|rnnattn::|\(anonymous namespace\)::|^void ", "", name)
    depth = 0
    for i, c in enumerate(name):  # drop the parameter list (the first '(' outside <>)
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0:
            name = name[:i]
            break
    # Library kernels with long template arguments (CUB's): the name and its first argument.
    return name if len(name) <= 90 else name[:87] + "..."


def res_usage(cuobjdump, path, env):
    """{mangled: {REG, STACK, LOCAL, SHARED}} from cuobjdump -res-usage."""
    text = subprocess.run([cuobjdump, "-res-usage", path], capture_output=True, text=True,
                          env=env, check=True).stdout
    usage, current = {}, None
    for line in text.splitlines():
        m = re.match(r"\s*Function (\S+):", line)
        if m:
            current = m.group(1)
            continue
        if current and "REG:" in line:
            usage[current] = {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", line)}
            current = None
    return usage


REG = re.compile(r"\bR(\d+)\b")
INSTR = re.compile(r"\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)((?:\.[A-Z0-9_]+)*)\s*([^;]*);")
# Instructions after which the linear scan cannot tell what runs next, or that wait anyway.
ENDS_RUN = {"BRA", "BRX", "JMP", "JMX", "CALL", "RET", "EXIT", "BAR", "BSYNC", "WARPSYNC"}


def registers(operand):
    return {int(r) for r in REG.findall(operand)}


def load_width(modifiers):
    """Registers an LDG writes: 1, or 2 / 4 for .64 / .128."""
    return 4 if ".128" in modifiers else 2 if ".64" in modifiers else 1


class Flight:
    """The longest run of loads (of one kind) issued before one of their results is read."""

    def __init__(self):
        self.pending, self.run, self.best = set(), 0, 0

    def instruction(self, reads, ends_run):
        if reads & self.pending or ends_run:
            self.pending, self.run = set(), 0

    def load(self, dest_regs):
        self.pending |= dest_regs
        self.run += 1
        self.best = max(self.best, self.run)

    def overwrite(self, regs):
        self.pending -= regs


def sass_counts(cuobjdump, path, env):
    """{mangled: {STL, LDL, LDG, BAR, FLIGHT, STRONG, WIDE}} from the SASS (FLIGHT: the longest
    run of global loads issued before one of their results is read; STRONG and WIDE: the same over
    the strong loads, LDG.E.STRONG.GPU, of 4 and of 16 bytes)."""
    text = subprocess.run([cuobjdump, "-sass", path], capture_output=True, text=True, env=env,
                          check=True).stdout
    counts, flights, current = {}, {}, None
    for line in text.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            current = m.group(1)
            counts[current] = {"STL": 0, "LDL": 0, "LDG": 0, "BAR": 0}
            flights[current] = {"FLIGHT": Flight(), "STRONG": Flight(), "WIDE": Flight()}
            continue
        if current is None:
            continue
        m = INSTR.search(line)
        if not m:
            continue
        op, modifiers, operands = m.group(1), m.group(2), m.group(3)
        c = counts[current]
        if op in c:
            c[op] += 1
        parts = [p.strip() for p in operands.split(",")] if operands.strip() else []
        stores = op.startswith("ST") or op.startswith("RED") or op.startswith("ATOM")
        # What the instruction reads: every operand of a store; else all but the destination
        # (the first operand), plus the registers of a bracketed address in it.
        reads = set()
        for i, part in enumerate(parts):
            if stores or i > 0 or "[" in part:
                reads |= registers(part)
        for f in flights[current].values():
            f.instruction(reads, op in ENDS_RUN)
        dest = registers(parts[0].split("[")[0]) if parts and not stores else set()
        if op == "LDG":
            regs = set(range(min(dest), min(dest) + load_width(modifiers))) if dest else set()
            flights[current]["FLIGHT"].load(regs)
            if ".STRONG" in modifiers:
                flights[current]["WIDE" if ".128" in modifiers else "STRONG"].load(regs)
        else:
            for f in flights[current].values():
                f.overwrite(dest)  # overwritten before any use
    for name, f in flights.items():
        counts[name]["FLIGHT"] = f["FLIGHT"].best
        counts[name]["STRONG"] = f["STRONG"].best
        counts[name]["WIDE"] = f["WIDE"].best
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--report", help="also write the table to this file (markdown)")
    ap.add_argument("--tools", action="append", default=[],
                    help="a folder holding the wheels' nvidia/cu*/bin (pip install --target)")
    args = ap.parse_args()

    cuobjdump, nvdisasm = find_tool("cuobjdump", args.tools), find_tool("nvdisasm", args.tools)
    if not cuobjdump or not nvdisasm:
        print("sass_check: cuobjdump or nvdisasm not found (neither in the CUDA toolkit nor from "
              "PyPI's nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm; tools/build.sh installs them): "
              "skipped", file=sys.stderr)
        return SKIP
    env = dict(os.environ, PATH=os.path.dirname(nvdisasm) + os.pathsep + os.environ["PATH"])

    usage, counts = {}, {}
    for f in args.files:
        if not os.path.exists(f):
            print(f"sass_check: {f}: no such file", file=sys.stderr)
            return 2
        usage.update(res_usage(cuobjdump, f, env))
        counts.update(sass_counts(cuobjdump, f, env))
    if not usage:
        print("sass_check: no device code in " + " ".join(args.files), file=sys.stderr)
        return 1
    names = demangle(sorted(usage))
    rows, bad = [], []
    for mangled in sorted(usage, key=lambda n: short(names[n])):
        u, c = usage[mangled], counts.get(mangled, {})
        name = short(names[mangled])
        local = c.get("STL", 0) + c.get("LDL", 0)
        rows.append(f"| {name} | {u.get('REG', 0)} | {u.get('STACK', 0)} | {local} | "
                    f"{c.get('LDG', 0)} | {c.get('FLIGHT', 0)} | {c.get('STRONG', 0)} / "
                    f"{c.get('WIDE', 0)} | {c.get('BAR', 0)} |")
        if u.get("STACK", 0) or u.get("LOCAL", 0) or local:
            bad.append(f"{name}: stack {u.get('STACK', 0)} B, local {u.get('LOCAL', 0)} B, "
                       f"{local} local-memory instructions")
        if PERSISTENT.search(name) and c.get("STRONG", 0) < IN_FLIGHT:
            bad.append(f"{name}: at most {c.get('STRONG', 0)} staging loads in flight (fewer than "
                       f"{IN_FLIGHT}): its step waits one L2 round trip per load")
        if (PERSISTENT.search(name) and u.get("REG", 0) > CAPPED_REGISTERS
                and c.get("WIDE", 0) < WIDE_IN_FLIGHT):
            bad.append(f"{name}: at most {c.get('WIDE', 0)} 16-byte staging loads in flight "
                       f"(fewer than {WIDE_IN_FLIGHT}): its step waits several L2 round trips")
    table = ["| kernel | registers | stack bytes | STL+LDL | LDG | LDG in flight | "
             "staging (strong) LDG in flight, 4 / 16 bytes | BAR |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"] + rows
    print("\n".join(table))
    if args.report:  # whole or not at all
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.report)))
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(table) + "\n")
        os.replace(tmp, args.report)
    if bad:
        print(f"sass_check: {len(bad)} kernel(s) spill, use local memory or keep too few loads "
              "in flight:", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    print(f"sass_check: {len(rows)} kernels, none spills or uses local memory; the persistent "
          f"kernels keep >= {IN_FLIGHT} loads in flight (>= {WIDE_IN_FLIGHT} 16-byte ones where "
          f"not capped at {CAPPED_REGISTERS} registers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
