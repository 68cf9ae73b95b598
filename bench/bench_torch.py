#!/usr/bin/env python3
"""PyTorch eager peer of rnnattn's benchmarks: nn.RNN (tanh) plus the attention and the head as
tensor ops, FP32 (without TF32 on the GPU), on the benchmark shapes of bench/bench_common.hpp
(one-layer attention models).

Ops, named as rnnattn_bench's so that tools/bench_table.py puts them in the same rows:
  forward_inference/pytorch[_cpu]/<shape>/attention   forward under torch.no_grad()
  train_step/pytorch[_cpu]/<shape>/attention          forward, MSE loss, backward, Adam step
  train_step/pytorch_graph/<shape>/attention         the same step captured in a CUDA graph and
                                                      replayed (GPU only)
  train_step_embedding/pytorch[_cpu|_graph]/notebook/attention[-lstm]
                                                      the notebook's whole model:
      nn.Embedding(10000, 100), a bidirectional nn.RNN / nn.LSTM (H 256), attention masked by the
      lengths, a sigmoid head, BCE, Adam, at B128 T200 (the shape's lengths and Zipf-like ids);
      "dot-lstm" is the notebook as written: the LSTM, Keras' dot-product Attention()([h, h]),
      the context sum_t o_t * h_t, Dropout(0.5)
--device cuda (default; impl "pytorch"): timed with CUDA events per iteration after warm-up. --device cpu --threads N (impl "pytorch_cpu"): torch.set_num_threads(N), timed with
perf_counter (MKL/oneDNN underneath). Writes Google Benchmark-style JSON.
Usage: bench/bench_torch.py OUT.json [--device cpu|cuda] [--threads N] [--shapes seed-1,large,...,notebook]
                             [--cells elman,lstm,gru]
"""
import argparse
import json
import sys
import time

SHAPES = [  # name, B, T, D, H, O, head (bench/bench_common.hpp)
    ("seed-1", 1, 20, 1, 2, 1, "tanh"),
    ("seed-batch", 826, 20, 1, 2, 1, "tanh"),
    ("small", 32, 50, 16, 64, 1, "tanh"),
    ("medium", 64, 100, 32, 128, 1, "tanh"),
    ("large", 128, 200, 100, 256, 1, "sigmoid"),
    ("wide", 32, 100, 256, 1024, 1, "tanh"),
    ("long", 16, 4000, 8, 64, 1, "tanh"),
]


def build(torch, B, T, D, H, O, head, device, cell="elman"):
    nn = torch.nn

    class Model(nn.Module):
        """SPEC.md's model: h = SimpleRNN(x); e_t = tanh(h_t . wa + ba_t); a = softmax_t(e);
        c = sum_t a_t h_t; y = act(c Wd + bd)."""

        def __init__(self):
            super().__init__()
            if cell == "lstm":
                self.rnn = nn.LSTM(D, H, batch_first=True)
            elif cell == "gru":
                self.rnn = nn.GRU(D, H, batch_first=True)
            else:
                self.rnn = nn.RNN(D, H, nonlinearity="tanh", batch_first=True)
            self.wa = nn.Parameter(torch.randn(H) * 0.1)
            self.ba = nn.Parameter(torch.zeros(T))
            self.head = nn.Linear(H, O)

        def forward(self, x):
            h, _ = self.rnn(x)                                  # [B,T,H]
            e = torch.tanh(h @ self.wa + self.ba)               # [B,T]
            a = torch.softmax(e, dim=1)
            c = (a.unsqueeze(-1) * h).sum(dim=1)                # [B,H]
            z = self.head(c)
            return torch.sigmoid(z) if head == "sigmoid" else torch.tanh(z)

    m = Model().to(device)
    x = torch.rand(B, T, D, device=device) * 2 - 1
    y = torch.rand(B, O, device=device) - 0.5
    return m, x, y


def notebook_step(torch, device, cell):
    """The notebook's model on token ids, as rnnattn_bench's train_step_embedding times it."""
    nn = torch.nn
    B, T, D, H, V = 128, 200, 100, 256, 10000
    lengths = torch.tensor([T // 4 + (b * 37) % (T - T // 4 + 1) for b in range(B)], device=device)
    steps = torch.arange(T, device=device)
    valid = steps.unsqueeze(0) < lengths.unsqueeze(1)              # [B,T]
    u = torch.rand(B, T, device=device)
    ids = torch.clamp(1 + (float(V - 1) ** u).long(), max=V - 1) * valid

    dot = cell == "dot-lstm"  # the notebook as written: dot-product attention, Dropout(0.5)

    class Notebook(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, D)
            rnn = nn.LSTM if cell in ("lstm", "dot-lstm") else nn.RNN
            self.rnn = rnn(D, H, batch_first=True, bidirectional=True)
            self.wa = nn.Parameter(torch.randn(2 * H) * 0.05)
            self.ba = nn.Parameter(torch.zeros(T))
            self.head = nn.Linear(2 * H, 1)
            self.drop = nn.Dropout(0.5)

        def forward(self, tok):
            h, _ = self.rnn(self.emb(tok))                          # [B,T,2H]
            if dot:  # Keras' Attention()([h, h]), then reduce_sum(o * h, axis=1), Dropout(0.5)
                e = (h @ h.transpose(1, 2)).masked_fill(~valid.unsqueeze(1), float("-inf"))
                o = torch.softmax(e, dim=2) @ h                     # [B,T,2H]
                c = (o * h * valid.unsqueeze(-1)).sum(dim=1)
                return torch.sigmoid(self.head(self.drop(c)))
            e = torch.tanh(h @ self.wa + self.ba).masked_fill(~valid, float("-inf"))
            a = torch.softmax(e, dim=1)
            return torch.sigmoid(self.head((a.unsqueeze(-1) * h).sum(dim=1)))

    m = Notebook().to(device)
    y = (torch.rand(B, 1, device=device) > 0.5).float()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)

    def loss():
        return torch.nn.functional.binary_cross_entropy(m(ids), y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss().backward()
        opt.step()
    return step, lambda: graphed(torch, m, loss)


def graphed(torch, m, loss_of):
    """The training step (forward, loss, backward, Adam) captured once in a CUDA graph
    (torch.cuda.CUDAGraph, PyTorch's whole-network capture: capturable Adam, gradients left unset
    before capture so that the graph's backward writes them) and replayed: PyTorch without its
    per-op launch overhead, as rnnattn's training step is graph-captured. Returns the replay."""
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, capturable=True)

    def step():
        loss_of().backward()
        opt.step()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as capture asks
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream().wait_stream(side)
    opt.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def time_cuda(torch, fn, min_seconds=0.2, min_iters=10):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    start_wall = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start_wall < min_seconds:
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) * 1e3)  # us
        if len(times) >= 10000:
            break
    return sum(times) / len(times), len(times)


def time_cpu(fn, min_seconds=0.5, min_iters=3, max_seconds=60):
    fn()  # warm-up
    times = []
    start_wall = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start_wall < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)  # us
        if len(times) >= 100000 or time.perf_counter() - start_wall > max_seconds:
            break
    return sum(times) / len(times), len(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shapes", default=",".join([s[0] for s in SHAPES] + ["notebook"]))
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--threads", type=int, default=1, help="CPU: torch.set_num_threads")
    ap.add_argument("--cells", default="elman",
                    help="elman,lstm,gru: nn.RNN / nn.LSTM / nn.GRU (models attention, "
                         "attention-lstm, attention-gru, as rnnattn_bench names them)")
    a = ap.parse_args()
    import torch

    cpu = a.device == "cpu"
    if cpu:
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
    elif not torch.cuda.is_available():
        print("bench_torch.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 1
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(1)
    device = torch.device(a.device)
    impl = "pytorch_cpu" if cpu else "pytorch"
    wanted = set(a.shapes.split(","))
    context = {"torch": torch.__version__}
    if cpu:
        context.update({"threads": torch.get_num_threads(), "config": torch.__config__.show()})
    else:
        context.update({"gpu": torch.cuda.get_device_name(0),
                        "cudnn": torch.backends.cudnn.version()})
    out = {"context": context, "benchmarks": []}
    cases = [(shape, cell) for shape in SHAPES for cell in a.cells.split(",")]
    for (name, B, T, D, H, O, head), cell in cases:
        if name not in wanted:
            continue
        model = "attention" if cell == "elman" else "attention-" + cell
        m, x, y = build(torch, B, T, D, H, O, head, device, cell)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)

        def forward():
            with torch.no_grad():
                m(x)

        def train_step():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()

        runs = [("forward_inference", impl, lambda: forward),
                ("train_step", impl, lambda: train_step)]
        if not cpu:  # the same step captured in a CUDA graph (its own model and optimizer)
            mg, _, _ = build(torch, B, T, D, H, O, head, device, cell)
            runs.append(("train_step", "pytorch_graph", lambda: graphed(
                torch, mg, lambda: torch.nn.functional.mse_loss(mg(x), y))))
        for op, impl_name, make in runs:
            bench = f"{op}/{impl_name}/{name}/{model}/manual_time"
            try:
                fn = make()
                us, n = time_cpu(fn) if cpu else time_cuda(torch, fn)
                out["benchmarks"].append({"name": bench, "real_time": us, "time_unit": "us",
                                          "iterations": n})
                print(f"{bench}: {us:.1f} us ({n} iterations)")
            except RuntimeError as e:  # e.g. out of memory: recorded, not fatal
                out["benchmarks"].append({"name": bench, "error_occurred": True,
                                          "error_message": str(e)[:200]})
                print(f"{bench}: error: {e}", file=sys.stderr)
    if "notebook" in wanted:
        runs = [(cell, impl) for cell in ("elman", "lstm", "dot-lstm")]
        if not cpu:
            runs += [(cell, "pytorch_graph") for cell in ("elman", "lstm")]
        names = {"elman": "attention", "lstm": "attention-lstm", "dot-lstm": "dot-lstm"}
        for cell, impl_name in runs:
            bench = f"train_step_embedding/{impl_name}/notebook/{names[cell]}/manual_time"
            try:
                eager, graph = notebook_step(torch, device, cell)
                fn = graph() if impl_name == "pytorch_graph" else eager
                us, n = time_cpu(fn) if cpu else time_cuda(torch, fn)
                out["benchmarks"].append({"name": bench, "real_time": us, "time_unit": "us",
                                          "iterations": n})
                print(f"{bench}: {us:.1f} us ({n} iterations)")
            except RuntimeError as e:
                out["benchmarks"].append({"name": bench, "error_occurred": True,
                                          "error_message": str(e)[:200]})
                print(f"{bench}: error: {e}", file=sys.stderr)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
