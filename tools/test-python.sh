#!/usr/bin/env bash
# The Python package's tests (python/tests): a virtual environment in build-py/venv with what they
# need from PyPI (python/requirements-test.txt; torch is about 3 GB with its CUDA libraries, ~1.5
# min to install here the first time, nothing after), the package installed from this checkout
# with `pip install .` (CMake through scikit-build-core; its build folder build-py/<wheel tag> is
# kept, so a second run rebuilds only what changed), then pytest. Fails when any test fails.
#   PYTHON=python3.12 tools/test-python.sh   another interpreter for the environment
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=build-py/venv
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r python/requirements-test.txt
echo "== the Python package: pip install . (build-py/)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation \
  --config-settings=build-dir="$root/build-py/{wheel_tag}" "$root"
echo "== the Python tests"
# From outside the checkout, so that `import rnnattn` is the installed package; no cache files.
cd "$venv"
"$root/$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests"
# The installed package, staged where tools/gpu-check.sh finds it when build/ travels to a GPU
# machine (a few MB: the module and the Python files).
site=$("$root/$venv/bin/python" -c "import rnnattn, os; print(os.path.dirname(rnnattn.__file__))")
rm -rf "$root/build/python-package" && mkdir -p "$root/build/python-package"
cp -r "$site" "$root/build/python-package/rnnattn"
rm -rf "$root/build/python-package/rnnattn/__pycache__"
