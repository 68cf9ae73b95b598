#!/usr/bin/env python3
"""The performance model of docs/performance.md: per benchmark shape, the work of a forward and of a
training step, and the floors they imply on an H100 (SXM). Prints the markdown table.

Constants are the data-sheet or commonly measured figures named below; the first GPU run measures them
(a launch, a graph node, a grid barrier) and this script takes the measured ones when they exist.
"""

PEAK_FP32 = 67e12        # FLOP/s, FP32 without tensor cores (H100 SXM data sheet)
HBM = 3.35e12            # B/s (H100 SXM HBM3)
L2 = 7e12                # B/s, L2 read bandwidth (order of magnitude; to be measured)
LAUNCH = 3e-6            # s per kernel launch from the host (to be measured)
GRAPH_NODE = 1e-6        # s per kernel node in a replayed graph (to be measured)
GRID_BARRIER = 1.5e-6    # s per cooperative grid sync (to be measured)
FMA_LATENCY = 4 / 1.755e9  # s: a dependent FP32 FMA chain, 4 cycles at the boost clock
SMEM_PER_SM = 228 * 1024

SHAPES = [  # name, B, T, D, H, O  (bench/bench_common.hpp)
    ("seed-1", 1, 20, 1, 2, 1),
    ("seed-batch", 826, 20, 1, 2, 1),
    ("medium", 64, 100, 32, 128, 1),
    ("large", 128, 200, 100, 256, 1),
    ("wide", 32, 100, 256, 1024, 1),
    ("long", 16, 4000, 8, 64, 1),
]


def model(B, T, D, H, O):
    bt = B * T
    fwd_flops = 2 * bt * (D * H + H * H) + 4 * bt * H + 2 * B * H * O
    step_flops = 3 * fwd_flops
    # Bytes that must cross HBM for a training step: x in, the hidden states written by the
    # forward and read twice by the backward (dz, dz_next written and read by the GEMMs), weights.
    weights = 4 * (D * H + H * H + 2 * H + T + H * O + O)
    fwd_bytes = 4 * bt * D + 4 * bt * H + weights
    step_bytes = fwd_bytes + 4 * bt * H * 2 + 4 * bt * H * 2 * 2 + 3 * weights
    # The recurrence is a chain of T dependent steps. A step's critical path is at least the
    # H-long dot product of h_{t-1} with a column of Wh if one thread owns a unit (H dependent
    # FMAs), or log2(H) with a split reduction, plus one exchange of h_t (a block or grid barrier).
    chain_serial = T * H * FMA_LATENCY
    chain_split = T * (max(1, H.bit_length()) * FMA_LATENCY * 8 + GRID_BARRIER)
    return fwd_flops, step_flops, fwd_bytes, step_bytes, chain_serial, chain_split


def us(s):
    return f"{s * 1e6:.3g}"


def main():
    print("| shape | B T D H | forward GFLOP | step GFLOP | step MB (HBM) | FLOP floor µs | HBM floor µs "
          "| chain, one thread per unit µs | chain, split dot + grid barrier µs | Wh on chip |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, B, T, D, H, O in SHAPES:
        f, s, fb, sb, serial, split = model(B, T, D, H, O)
        on_chip = "one block" if 4 * H * H <= 227 * 1024 else f"{-(-4 * H * H // (200 * 1024))} SMs"
        print(f"| {name} | {B} {T} {D} {H} | {f / 1e9:.3g} | {s / 1e9:.3g} | {sb / 1e6:.3g} | "
              f"{us(s / PEAK_FP32)} | {us(sb / HBM)} | {us(serial)} | {us(split)} | {on_chip} |")


if __name__ == "__main__":
    main()
