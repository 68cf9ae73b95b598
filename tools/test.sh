#!/usr/bin/env bash
# Builds and runs every test: the nvcc build's suite (its GPU tests run where there is a GPU and
# skip, saying so, where there is none), then the GPU simulator build's suite, in which the GPU
# tests run the project's CUDA sources on the CPU (sim/, docs/simulator.md). Fails when any test
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
ctest --test-dir build --output-on-failure -j2
tools/build.sh --simulator
ctest --test-dir build-sim --output-on-failure -j2
