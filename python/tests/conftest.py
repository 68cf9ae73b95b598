"""Shared helpers of the Python tests: the CLI installed beside the interpreter (the package's
own `rnnattn` script), and fresh random data."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def cli():
    """Runs the `rnnattn` CLI that the package installed into this environment."""
    exe = Path(sys.executable).parent / "rnnattn"
    if not exe.exists():
        exe = shutil.which("rnnattn")
    assert exe, "the package installs the rnnattn CLI beside the interpreter"

    def run(*args, cwd=None):
        r = subprocess.run(
            [str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, f"rnnattn {' '.join(map(str, args))}: {r.stderr}"
        return r.stdout

    return run


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name and a random draw (printed on failure)."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    return np.random.default_rng(seed)
