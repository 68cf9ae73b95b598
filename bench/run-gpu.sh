#!/usr/bin/env bash
# Runs the whole benchmark suite on a GPU machine and records it:
#   bench/results/<date>-<gpu>.json   raw Google Benchmark JSON
#   bench/results/<date>-<gpu>-pytorch.json   PyTorch eager on the same shapes (bench/bench_torch.py)
#   bench/results/<date>-<gpu>.md     the table with the ratios (tools/bench_table.py)
# plus the end-to-end timings (the tutorial's whole training run on the CPU and the GPU, and
# training throughput at batch 128). Usage: bench/run-gpu.sh [extra benchmark flags]
# cuDNN may live in the Python packages there (nvidia-cudnn-*): it is looked up at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/rnnattn_bench ] || tools/build.sh
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
[ -n "$gpu" ] || { echo "run-gpu.sh: no GPU found (nvidia-smi)" >&2; exit 1; }
tag=$(date -u +%Y-%m-%d)-$(echo "$gpu" | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')
mkdir -p bench/results
if ! ldconfig -p 2>/dev/null | grep -q libcudnn.so.9; then
  for py in python3 /opt/torch/.venv/bin/python3; do
    d=$("$py" -c 'import nvidia.cudnn, os; print(os.path.join(os.path.dirname(nvidia.cudnn.__file__), "lib"))' 2>/dev/null) && break
  done
  [ -n "${d:-}" ] && export LD_LIBRARY_PATH=$d:${LD_LIBRARY_PATH:-} && echo "run-gpu.sh: cuDNN from $d"
fi
json=bench/results/$tag.json
build/bench/rnnattn_bench --benchmark_out="$json" --benchmark_out_format=json \
  --benchmark_min_time=0.2 "$@"

e2e=bench/results/$tag-e2e.txt
python3 - "$e2e" <<'PY'
import subprocess, sys, time
lines = ["commit " + subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()]
for dev in ("cpu", "cuda"):
    attention = ["--model", "attention"]
    for label, extra, seqs in (("fib attention, 30 epochs, batch 1 (the tutorial's run)", attention, None),
                               ("fib attention, 100 epochs, batch 128", attention + ["--batch", "128", "--epochs", "100"], 826 * 100),
                               # the tutorial's 20 runs side by side (docs/cli.md) (--threads: one per core)
                               ("fib --compare --seeds 10, 30 epochs, batch 1 (the tutorial's 20 runs)", ["--compare", "--seeds", "10"], None)):
        t0 = time.perf_counter()
        r = subprocess.run(["build/rnnattn", "train", "--data", "fib",
                            "--device", dev, "--quiet"] + extra, capture_output=True, text=True)
        t = time.perf_counter() - t0
        if r.returncode != 0:
            lines.append(f"{dev}: {label}: FAILED: {r.stderr.strip()}")
            continue
        rate = f", {seqs / t:.0f} training sequences/s" if seqs else ""
        lines.append(f"{dev}: {label}: {t:.2f} s wall{rate}")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
# PyTorch eager on the same shapes (its python3 may be a venv's); a failure is recorded, not fatal.
torch_json=bench/results/$tag-pytorch.json
extra=()
for py in python3 /opt/torch/.venv/bin/python3; do
  if "$py" -c 'import torch' 2>/dev/null; then
    if "$py" bench/bench_torch.py "$torch_json" --cells elman,lstm,gru; then
      extra=(--extra "$torch_json")
    fi
    break
  fi
done
[ ${#extra[@]} -gt 0 ] || echo "run-gpu.sh: no PyTorch results (no torch, or bench_torch.py failed)" >&2
python3 tools/bench_table.py "$json" --gpu "$gpu" --commit "$(git rev-parse --short HEAD)" \
  --e2e "$e2e" ${extra[@]+"${extra[@]}"} >"bench/results/$tag.md"
cat "bench/results/$tag.md"
