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
step "GPU tests (gtest)" "$out/gpu-tests.log" build/tests/rnnattn_tests --gtest_filter='Gpu/*:GpuSanitized/*:Cuda.*:Device.*:DeviceApi.*:CudaSequence*:CudaEmbedding*'

# 2. compute-sanitizer over a reduced set that still reaches every kernel and tiling: the
#    recurrence sweep's `GpuSanitized` cases (tests/cuda/test_gpu_recurrence.cpp marks them), the
#    other CUDA tests (two runs' bits, inference against training, the graph-captured training
#    steps with their re-captures, the small-model epoch kernel, the trainers with lengths), and
#    the embedding (embedding.cu: the gather, CUB's sort and the per-id sums at D = 129 and with a
#    13-bit vocabulary, and a token model's captured training step).
reduced='GpuSanitized/*:Cuda.TwoRunsAreBitwiseIdentical:Cuda.InferenceMatchesTraining'
reduced+=':Cuda.CapturedStepFollowsNewDatasetsAndBatchSizes:Cuda.SmallModelEpochKernelFollowsTheCpu'
reduced+=':CudaSequenceTraining.*:DeviceApi.*'
reduced+=':Gpu/CudaEmbedding.*/*_D129_*:Gpu/CudaEmbedding.*/*_V5000_*:CudaEmbeddingTraining.*'
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
