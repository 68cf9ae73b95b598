#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, build (or reuse ./build), run the GPU tests,
# run compute-sanitizer (memcheck, racecheck, initcheck, synccheck) over a reduced set, and write
# a short report. Usage: tools/gpu-check.sh [REPORT_DIR]   (default: build/gpu-check)
# Exit status: non-zero when any step failed. Record what it printed in docs/gpu-runs.md.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu-check}
mkdir -p "$out"
report=$out/report.md
status=0

# The GPU machine reaches no package registry: never build (or install) here. The build made on
# the development machine travels with the tree (carry build/).
if [ ! -x build/tests/rnnattn_tests ] || [ ! -x build/rnnattn ]; then
  echo "gpu-check: build/ holds no built tests; build on the development machine" \
    "(tools/build.sh) and carry build/ to this one" >&2
  exit 1
fi
if grep -q "RNNATTN_GPU_SIMULATOR:BOOL=ON" build/CMakeCache.txt 2>/dev/null; then
  echo "gpu-check: build/ is a GPU simulator build; the GPU needs the nvcc build" >&2
  exit 1
fi
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
{
  echo "# rnnattn GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- GPU: ${gpu:-none found}"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo
  echo "| step | result | seconds |"
  echo "| --- | --- | --- |"
} >"$report"

step() {  # step NAME LOG COMMAND...
  local name=$1 log=$2
  shift 2
  local t0=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  local summary
  summary=$(grep -E "tests passed|PASSED|FAILED|ERROR SUMMARY" "$log" | tail -2 | tr '\n' ' ')
  [ $rc -eq 0 ] || status=1
  echo "| $name | rc=$rc ${summary} | $((SECONDS - t0)) |" >>"$report"
  echo "gpu-check: $name rc=$rc $summary"
}

# 0. The smoke pass, first: one small case per design, path and cell (tests/cuda/test_gpu_smoke.cpp;
#    together they launch every kernel of the library, which the simulator build's
#    GpuSmokeCoverage.CoversEveryKernel checks), each in its own process so that a failure, even
#    one that spoils the CUDA context, is recorded and the next case still runs. Before them, the
#    device's layout and each cluster kernel's cudaOccupancyMaxActiveClusters.
smoke=$out/smoke
mkdir -p "$smoke"
step "device layout and cluster occupancy" "$smoke/device.log" \
  build/tests/rnnattn_tests --gtest_filter='GpuDevice.*'
{
  echo
  echo "Device (as the plan queries it):"
  echo
  grep -E "^(device:|cudaOccupancyMaxActiveClusters)" "$smoke/device.log" | sed 's/^/    /'
  echo
  echo "| smoke case | outcome | kernels launched, or the error |"
  echo "| --- | --- | --- |"
} >>"$report"
smoke_failed=0
for c in $(build/tests/rnnattn_tests --gtest_list_tests --gtest_filter='Gpu/GpuSmoke.*' |
  awk '/^  /{print $1}'); do
  name=${c#Runs/}
  log=$smoke/$name.log
  timeout 300 build/tests/rnnattn_tests --gtest_filter="Gpu/GpuSmoke.$c" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q "^\[       OK \]" "$log"; then
    echo "| $name | ok | $(sed -n "s/^smoke $name: launched //p" "$log") |" >>"$report"
  else
    smoke_failed=1
    why=$(grep -m1 -E "failed|Failure|what\(\)|exception" "$log" | tr '|' '/' | cut -c1-300)
    echo "| $name | FAILED (rc=$rc) | ${why:-see $log} |" >>"$report"
    echo "gpu-check: smoke case $name failed (rc=$rc): $why"
  fi
done
[ $smoke_failed -eq 0 ] || status=1
echo "gpu-check: smoke pass $([ $smoke_failed -eq 0 ] && echo passed || echo FAILED; true)"

# 1. Every test, GPU ones included (they skip only where no GPU exists).
step "all tests (ctest)" "$out/ctest.log" ctest --test-dir build --output-on-failure -j4
step "GPU tests (gtest)" "$out/gpu-tests.log" build/tests/rnnattn_tests --gtest_filter='Gpu/*:Cuda.*:Device.*:DeviceApi.*:CudaSequence*:CudaEmbedding*'

# 2. compute-sanitizer over a reduced set that still reaches every kernel: small shapes of the
#    segment kernels, H = 256 and B > 16 at H = 257 (the model's choice there), H = 1024
#    (1024-thread blocks), and the graph-captured training step with its re-captures.
reduced='Gpu/CudaSweep.*/*_B5_T2_D3_H7_O2:Gpu/CudaSweep.*/attn_tanh_B3_T5_D1_H33_O1'
reduced+=':Gpu/CudaSweep.*/attn_tanh_B2_T3_D4_H129_O1:Gpu/CudaSweep.*/attn_tanh_B3_T4_D2_H256_O1'
reduced+=':Gpu/CudaSweep.*/attn_tanh_B20_T3_D2_H257_O1:Gpu/CudaSweep.*/attn_tanh_B2_T2_D2_H1024_O1'
reduced+=':Cuda.TwoRunsAreBitwiseIdentical:Cuda.InferenceMatchesTraining'
reduced+=':Cuda.CapturedStepFollowsNewDatasetsAndBatchSizes:Cuda.SmallModelEpochKernelFollowsTheCpu:DeviceApi.*'
# Sequence models: lengths in every one-layer kernel (the persistent one at H = 257), the layered
# kernels (rnn_segment.cu) with two directions, 3 layers and a 64-thread segment, and the trainer.
reduced+=':Gpu/CudaSequence.*/*_B5_T7_D3_H8_O2_L2_bidir_attn_lengths*:Gpu/CudaSequence.*/*_H33_*'
reduced+=':Gpu/CudaSequence.*/*_H257_*:Gpu/CudaSequence.*/*_L1_plain_lengths*'
reduced+=':Gpu/CudaSequence.*/*_L3_*:CudaSequenceTraining.*'
# The persistent forward and backward forced over their tilings: the seed (split 2), H = 1024
# (64 slices, 16-byte staging), 2 and 4 units a thread with 16-byte staging (B = 168 and 300,
# H = 128), 4 units with 4-byte staging (B = 280, H = 129), split 4 (B = 168, H = 129), padding
# units (H = 33, above), and 171 blocks (B = 600, H = 129: more than the SMs, the variants capped
# at 64 registers).
reduced+=':Gpu/CudaSequence.*/*_B1_T20_D1_H2_*_persistent:Gpu/CudaSequence.*/*_H1024_*_persistent'
reduced+=':Gpu/CudaSequence.*/*_B168_*_persistent:Gpu/CudaSequence.*/*_B600_*_persistent'
reduced+=':Gpu/CudaSequence.*/*_B300_T2_D2_H128_*_persistent:Gpu/CudaSequence.*/*_B280_*_persistent'
# One slice at T = 1 (persistent), and the segment kernels forced with lengths: Wh in shared
# memory at H = 129 (opt-in), through L2 at H = 300.
reduced+=':Gpu/CudaSequence.*/*_B4_T1_D2_H16_*_persistent:Gpu/CudaSequence.*/*_H129_*_segment'
reduced+=':Gpu/CudaSequence.*/*_H300_*_segment'
# The cluster kernels (rnn_cluster.cu) forced: H = 33 and 257 above (3 and 6 blocks, padding),
# the seed (one block a cluster), groups of 32 at H = 300 packed by length, H = 512 (8 blocks x
# 4 slices) and T = 1.
reduced+=':Gpu/CudaSequence.*/*_B1_T20_D1_H2_*_cluster:Gpu/CudaSequence.*/*_B500_*_cluster'
# Several units a thread in the cluster kernels (B = 200, H = 128: 2; bidirectional: the layer
# kernels' 4; B = 500 above: 4).
reduced+=':Gpu/CudaSequence.*/*_B200_T2_D2_H128_*_cluster'
reduced+=':Gpu/CudaSequence.*/*_H512_*_cluster:Gpu/CudaSequence.*/*_B3_T1_D2_H64_*_cluster'
# The cluster kernels without the head (a layer, both directions in one launch): two layers,
# H = 257, plain lengths.
reduced+=':Gpu/CudaSequence.*/*_L2_bidir_attn_lengths_cluster:Gpu/CudaSequence.*/*_L2_plain_lengths_cluster'
# The persistent kernels on the Elman cell's blocks (both directions in one grid; 171 blocks a
# direction, the 64-register variant).
reduced+=':Gpu/CudaSequence.*/fused_B5_T7_D3_H8_O2_L2_bidir_attn_lengths_persistent'
reduced+=':Gpu/CudaSequence.*/fused_B600_T2_D2_H129_O1_L1_bidir_attn_lengths_persistent'
# The gated cells (rnn_segment.cu; the patterns above take their two-layer bidirectional, H = 33
# and three-layer cases on both paths), with Wh in shared memory (LSTM H = 100, GRU H = 129) and
# through L2 (LSTM H = 129, GRU H = 150).
reduced+=':Gpu/CudaSequence.*/lstm_fused_*_H100_*:Gpu/CudaSequence.*/*_fused_*_H129_*'
reduced+=':Gpu/CudaSequence.*/gru_fused_*_H150_*'
# The embedding (embedding.cu): the gather, CUB's sort and the per-id sums at D = 129 and with a
# 13-bit vocabulary, and a token model's captured training step.
reduced+=':Gpu/CudaEmbedding.*/*_D129_*:Gpu/CudaEmbedding.*/*_V5000_*:CudaEmbeddingTraining.*'
# The one-layer gated kernels with the attention and head inside (the L1 plain-lengths, H = 33,
# H = 100/129/150 cases above run them too): several segments a block, one unit, T = 1. The
# gated persistent kernels (rnn_persistent.cu) forced: the patterns above take their
# two-layer bidirectional, H = 33, H = 129, plain-lengths and T = 1 cases; B70 runs 70 groups.
reduced+=':Gpu/CudaSequence.*/*_fused_B70_T6_D2_H4_O1_L1_*:Gpu/CudaSequence.*/*_fused_B3_T4_D2_H1_O1_L1_*'
reduced+=':Gpu/CudaSequence.*/*_fused_B4_T1_D2_H16_O1_L1_attn_lengths_segment'
# The gated persistent kernels at the notebook's layer: both directions in one cooperative grid
# of two planes, the backward's own split 8 x 2 units, the LSTM's rows in pieces.
reduced+=':Gpu/CudaSequence.*/*_fused_B128_T4_D3_H256_O1_L1_bidir_attn_lengths_persistent'
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in memcheck racecheck initcheck synccheck; do
  step "compute-sanitizer $tool" "$out/sanitizer-$tool.log" \
    "$cs" --tool "$tool" --error-exitcode 1 build/tests/rnnattn_tests --gtest_filter="$reduced"
done

# 3. The main job on the GPU (timed).
step "rnnattn train --data fib --compare --device cuda" "$out/train-fib.log" \
  build/rnnattn train --data fib --compare --device cuda --quiet
grep -E "^\| (attention|plain)" "$out/train-fib.log" >>"$report" || true

# 4. The Python package's PyTorch module on CUDA tensors, where this machine's python3 has PyTorch
#    with CUDA and pytest (it reaches no registry to install them) and the package travelled in
#    build/python-package (tools/test-python.sh stages it there; the same Python version).
if python3 -c "import torch, pytest; assert torch.cuda.is_available()" 2>/dev/null &&
  [ -d build/python-package/rnnattn ]; then
  step "python: RNNAttention on CUDA tensors (pytest)" "$out/python-cuda.log" \
    env PYTHONPATH="$PWD/build/python-package" python3 -m pytest -q -p no:cacheprovider \
    python/tests/test_torch_cuda.py
else
  echo "| python: RNNAttention on CUDA tensors | skipped: no python3 with CUDA PyTorch and pytest, or no build/python-package | 0 |" >>"$report"
fi

echo >>"$report"
echo "Overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)" >>"$report"
cat "$report"
exit $status
