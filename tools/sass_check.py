#!/usr/bin/env python3
"""The compiled-code check of the nvcc build (issue 23, item 8: its register and spill part).

For every kernel in the given objects or libraries (the nvcc build's librnnattn.a), reads
`cuobjdump -res-usage` (registers, stack frame, local memory) and the SASS (`cuobjdump -sass`,
which needs nvdisasm): local-memory instructions (STL/LDL: spills or arrays the compiler could not
keep in registers), global loads (LDG) and barriers (BAR). Prints one table row per kernel and
fails (exit 1) when any kernel has a stack frame or touches local memory: on the recurrent kernels
a spill is a round trip through L1/L2 inside the step's dependent chain.

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


def sass_counts(cuobjdump, path, env):
    """{mangled: {STL, LDL, LDG, BAR}} from the SASS."""
    text = subprocess.run([cuobjdump, "-sass", path], capture_output=True, text=True, env=env,
                          check=True).stdout
    counts, current = {}, None
    for line in text.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            current = m.group(1)
            counts[current] = {"STL": 0, "LDL": 0, "LDG": 0, "BAR": 0}
            continue
        if current is None:
            continue
        m = re.search(r"\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)(?:\.|\s|;)", line)
        if m:
            op = m.group(1)
            if op in counts[current]:
                counts[current][op] += 1
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
                    f"{c.get('LDG', 0)} | {c.get('BAR', 0)} |")
        if u.get("STACK", 0) or u.get("LOCAL", 0) or local:
            bad.append(f"{name}: stack {u.get('STACK', 0)} B, local {u.get('LOCAL', 0)} B, "
                       f"{local} local-memory instructions")
    table = ["| kernel | registers | stack bytes | STL+LDL | LDG | BAR |",
             "| --- | --- | --- | --- | --- | --- |"] + rows
    print("\n".join(table))
    if args.report:  # whole or not at all
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.report)))
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(table) + "\n")
        os.replace(tmp, args.report)
    if bad:
        print(f"sass_check: {len(bad)} kernel(s) spill or use local memory:", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    print(f"sass_check: {len(rows)} kernels, none spills or uses local memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
