#!/usr/bin/env python3
"""Turn rnnattn_bench's Google Benchmark JSON into the markdown table with the ratios that matter.

Benchmarks are named op/impl/shape/model. For every (op, shape, model) row the table gives each
implementation's time and the ratios: fused vs CPU, fused vs unfused, fused vs cuDNN (RNN plus
separate attention; best of STANDARD, PERSIST_STATIC and PERSIST_STATIC_SMALL_H, all FP32 with
CUDNN_FMA_MATH) and fused vs cuDNN's RNN alone. cuDNN with TF32 allowed (cudnn_standard_tf32) gets
its own, labelled column and no ratio: it is not an FP32 comparison. A table per cuDNN algorithm
says where cuDNN refused a shape.
PyTorch eager (bench/bench_torch.py, merged with --extra) gets a column and a ratio.
A ratio > 1 means fused is faster. Skipped cases (errors) show their message.
A second table sets the fused path's recurrence designs side by side (fused-segment,
fused-persistent, fused-cluster) against the performance model's choice (fused, with its `persistent`
and `cluster` counters):
the measurements that calibrate docs/performance.md's model.
"""
import argparse
import json
import sys
from collections import defaultdict

CUDNN_FP32 = ["cudnn_standard", "cudnn_persist", "cudnn_persist_small_h"]
CUDNN_ALGOS = CUDNN_FP32 + ["cudnn_standard_tf32"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--gpu", default="?")
    ap.add_argument("--commit", default="?")
    ap.add_argument("--e2e")
    ap.add_argument("--extra", action="append", default=[],
                    help="more benchmark JSON in the same naming (bench/bench_torch.py's PyTorch runs)")
    a = ap.parse_args()
    data = json.load(open(a.json))
    for extra in a.extra:
        data["benchmarks"] += json.load(open(extra))["benchmarks"]
    rows = defaultdict(dict)
    rates = defaultdict(dict)  # (op, shape, model) -> impl -> (GFLOP/s, fraction of the cores' peak)
    chose_design = {}
    errors = {}
    refused = defaultdict(dict)  # (op, shape, model) -> cuDNN impl -> message
    for b in data["benchmarks"]:
        name = b["name"].split("/manual_time")[0]
        parts = name.split("/")
        if len(parts) < 4:
            continue
        op, impl, shape, model = parts[:4]
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            if impl.startswith("cudnn_"):
                refused[(op, shape, model)][impl] = errors[name]
            continue
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
        rows[(op, shape, model)][impl] = b["real_time"] * unit
        if "of_peak" in b:
            rates[(op, shape, model)][impl] = (b.get("GFLOP/s", 0.0), b["of_peak"])
        if impl == "fused" and "persistent" in b:
            chose_design[(op, shape, model)] = (
                "cluster" if b.get("cluster", 0) >= 0.5 else
                "persistent" if b["persistent"] >= 0.5 else "segment")

    def best(r, names):
        v = [r[n] for n in names if n in r]
        return min(v) if v else None

    def ratio(x, y):
        return f"{y / x:.2f}x" if x and y else "-"

    def fmt(t):
        if t is None:
            return "-"
        return f"{t * 1e3:.3f} ms" if t >= 1e-3 else f"{t * 1e6:.1f} µs"

    out = [f"# rnnattn benchmarks — {a.gpu}, commit {a.commit}", "",
           "Times are per call (Google Benchmark's mean over its iterations; GPU cases timed with CUDA events). Ratios: other / fused, "
           "so > 1 means the fused path is faster.", "",
           "| op | shape | model | cpu | unfused | fused | cuDNN+attn (best FP32) | cuDNN RNN only (best FP32) | cuDNN+attn TF32 (not FP32) | PyTorch eager | PyTorch CUDA graph | fused vs cpu | fused vs unfused | fused vs cuDNN+attn | fused vs cuDNN RNN | fused vs PyTorch | fused vs PyTorch graph |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    losses = []
    for (op, shape, model), r in sorted(rows.items()):
        f = r.get("fused")
        cd = best(r, CUDNN_FP32)
        cr = best(r, [n + "_rnn_only" for n in CUDNN_FP32])
        pt, pg = r.get("pytorch"), r.get("pytorch_graph")
        out.append(f"| {op} | {shape} | {model} | {fmt(r.get('cpu'))} | {fmt(r.get('unfused'))} | {fmt(f)} | "
                   f"{fmt(cd)} | {fmt(cr)} | {fmt(r.get('cudnn_standard_tf32'))} | {fmt(pt)} | {fmt(pg)} | {ratio(f, r.get('cpu'))} | {ratio(f, r.get('unfused'))} | "
                   f"{ratio(f, cd)} | {ratio(f, cr)} | {ratio(f, pt)} | {ratio(f, pg)} |")
        for label, other in (("unfused", r.get("unfused")), ("cuDNN+attention", cd), ("PyTorch eager", pt),
                             ("PyTorch CUDA graph", pg)):
            if f and other and other < f:
                losses.append(f"- {op} {shape} {model}: fused {fmt(f)} vs {label} {fmt(other)}")
    out += ["", "## Where fused loses", ""] + (losses or ["- nowhere"])
    # The CPU: the fast path beside the reference and PyTorch on the CPU (bench/bench_torch.py
    # --device cpu), same thread count. Ratios: other / cpu, so > 1 means the fast path is faster.
    cpu_rows = [(k, r) for k, r in sorted(rows.items()) if "cpu" in r and
                ("reference" in r or "pytorch_cpu" in r)]

    def rate(key, impl):
        g = rates.get(key, {}).get(impl)
        return f"{g[0]:.1f} ({g[1] * 100:.0f}%)" if g else "-"

    if cpu_rows:
        peak = data.get("context", {}).get("fp32_peak_gflops_per_core", "not measured")
        out += ["", "## CPU: the fast path, the reference and PyTorch", "",
                f"One core's FP32 peak, GFLOP/s: {peak}. GFLOP/s per row (a multiply-add counts 2; "
                "backward 2x the forward, a training step 3x), and in brackets the fraction of the "
                "peak of the threads the row ran on (CPU time).", "",
                "| op | shape | model | cpu (fast path) | cpu GFLOP/s (of peak) | reference | PyTorch CPU | reference ÷ cpu | PyTorch ÷ cpu |",
                "|---|---|---|---|---|---|---|---|---|"]
        for (op, shape, model), r in cpu_rows:
            c = r["cpu"]
            out.append(f"| {op} | {shape} | {model} | {fmt(c)} | {rate((op, shape, model), 'cpu')} | "
                       f"{fmt(r.get('reference'))} | "
                       f"{fmt(r.get('pytorch_cpu'))} | {ratio(c, r.get('reference'))} | "
                       f"{ratio(c, r.get('pytorch_cpu'))} |")
    keys = sorted(k for k in set(rows) | set(refused)
                  if any(n in rows.get(k, {}) or n in refused.get(k, {}) for n in CUDNN_ALGOS))
    if keys:
        out += ["", "## cuDNN by algorithm (RNN + attention)", "",
                "| op | shape | model | STANDARD | PERSIST_STATIC | PERSIST_STATIC_SMALL_H | STANDARD, TF32 allowed |",
                "|---|---|---|---|---|---|---|"]
        for k in keys:
            cells = [fmt(rows[k][n]) if n in rows.get(k, {}) else
                     ("refused" if n in refused.get(k, {}) else "-") for n in CUDNN_ALGOS]
            out.append(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(cells) + " |")
    rec = [(k, r) for k, r in sorted(rows.items()) if "fused-segment" in r and "fused-persistent" in r]
    if rec:
        out += ["", "## Recurrence: segment vs persistent vs cluster vs the model's choice", "",
                "| op | shape | model | segment | persistent | cluster | fused (auto) | the model chose | faster |",
                "|---|---|---|---|---|---|---|---|---|"]
        for (op, shape, model), r in rec:
            times = {d: r[f"fused-{d}"] for d in ("segment", "persistent", "cluster")
                     if f"fused-{d}" in r}
            chose_s = chose_design.get((op, shape, model), "-")
            faster = min(times, key=times.get)
            mark = "" if chose_s == "-" or chose_s == faster else " (model wrong)"
            out.append(f"| {op} | {shape} | {model} | {fmt(times.get('segment'))} | "
                       f"{fmt(times.get('persistent'))} | {fmt(times.get('cluster'))} | "
                       f"{fmt(r.get('fused'))} | {chose_s} | {faster}{mark} |")
    if errors:
        out += ["", "## Skipped cases", ""] + [f"- {k}: {v}" for k, v in sorted(errors.items())]
    if a.e2e:
        out += ["", "## End to end", "", "```", open(a.e2e).read().rstrip(), "```"]
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
