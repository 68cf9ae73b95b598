#!/usr/bin/env bash
# Configure and build rnnattn (library, CLI, tests, benchmarks).
#   tools/build.sh               the nvcc build for sm_90 in ./build (CPU-only without nvcc)
#   tools/build.sh --simulator   the GPU simulator build in ./build-sim: the CUDA sources compiled
#                                as C++ and run on the CPU (sim/; no nvcc, no GPU needed)
# Installs what the machine lacks (cmake, GoogleTest, Google Benchmark, nlohmann/json, OpenBLAS)
# from Debian's packages when it can. With the CUDA toolkit (nvcc) on the machine the build has
# the CUDA backend (sm_90); without it, a CPU-only build (said in one line).
set -euo pipefail
cd "$(dirname "$0")/.."

simulator=0
for arg in "$@"; do
  case "$arg" in
    --simulator) simulator=1 ;;
    *) echo "usage: tools/build.sh [--simulator]" >&2; exit 2 ;;
  esac
done

# Installs Debian packages where this user may (root), else names them and stops.
install_packages() {
  echo "build.sh: installing Debian packages: $*"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "$@"
  else
    echo "build.sh: please install: $* (as root: apt-get install $*)" >&2
    exit 1
  fi
}
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v c++ >/dev/null || need+=(g++)
[ ${#need[@]} -eq 0 ] || install_packages "${need[@]}"
# The libraries: what CMake itself finds (tools/deps/CMakeLists.txt runs the project's
# find_package calls), not paths, which differ between Debian's multiarch folders and others.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
if ! cmake -S tools/deps -B "$probe" >"$probe/configure.log" 2>&1; then
  cat "$probe/configure.log" >&2
  echo "build.sh: the dependency probe (tools/deps) failed to configure" >&2
  exit 1
fi
mapfile -t need < <(grep -v '^$' "$probe/missing.txt")
[ ${#need[@]} -eq 0 ] || install_packages "${need[@]}"

# tools/plot.py draws with matplotlib: into the python3 on PATH, from PyPI, else Debian's package.
if command -v python3 >/dev/null && ! python3 -c 'import matplotlib' 2>/dev/null; then
  echo "build.sh: installing matplotlib for tools/plot.py"
  python3 -m pip install --quiet matplotlib 2>/dev/null ||
    { [ "$(id -u)" = 0 ] && apt-get install -y -qq python3-matplotlib; } ||
    echo "build.sh: could not install matplotlib; tools/plot.py will not run" >&2
fi

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
if [ $simulator = 1 ]; then
  cmake -S . -B build-sim -DCMAKE_BUILD_TYPE=Release -DRNNATTN_GPU_SIMULATOR=ON ${CMAKE_ARGS:-}
  cmake --build build-sim -j "$jobs"
  exit 0
fi
if ! command -v nvcc >/dev/null; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH=/usr/local/cuda/bin:$PATH
  else
    # RNNATTN_CUDA=AUTO (the default) then configures without the CUDA backend.
    echo "build.sh: no CUDA toolkit (nvcc) found: building the CPU-only library, CLI, CPU tests" \
      "and CPU benchmarks (no CUDA backend; tools/build.sh --simulator runs the CUDA code on the CPU)"
  fi
fi
# The compiled-code check (tools/sass_check.py, a test of the nvcc build) reads the SASS with
# cuobjdump and nvdisasm. The toolkit here lacks them; PyPI's wheels (of the toolkit's major
# version, ~5 MB) carry them: into build/_tools, where the test looks. Without them it skips.
if command -v nvcc >/dev/null && ! { command -v cuobjdump && command -v nvdisasm; } >/dev/null 2>&1; then
  major=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
  if [ -n "$major" ] && [ ! -x "build/_tools/nvidia/cu$major/bin/nvdisasm" ]; then
    echo "build.sh: installing cuobjdump and nvdisasm $major.x from PyPI for tools/sass_check.py"
    python3 -m pip install --quiet --target build/_tools "nvidia-cuda-cuobjdump==$major.*" \
      "nvidia-cuda-nvdisasm==$major.*" ||
      echo "build.sh: could not install cuobjdump/nvdisasm; the SASS check will be skipped" >&2
  fi
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build build -j "$jobs"
