"""RNNAttention on CUDA tensors (the device API on PyTorch's stream and caching allocator) against
the same module on CPU tensors. Skipped without a GPU (CI); tools/gpu-check.sh runs it where the
GPU machine's Python has PyTorch with CUDA."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import rnnattn
from rnnattn.torch import RNNAttention

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and rnnattn.built_with_cuda()),
    reason="needs a GPU and a package built with CUDA",
)

CASES = [
    (1, 2, 20, 1, True, "elman", 1, False),
    (3, 64, 9, 2, True, "elman", 2, True),
    (2, 16, 7, 1, False, "lstm", 1, False),
    (2, 8, 6, 1, True, "gru", 1, True),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("side_stream", [False, True])
def test_cuda_tensors_match_cpu_tensors(case, side_stream, rng):
    d, h, t, o, attention, cell, layers, bi = case
    b = 5
    cpu = RNNAttention(d, h, t, o, attention=attention, cell=cell, layers=layers, bidirectional=bi)
    gpu = RNNAttention(d, h, t, o, attention=attention, cell=cell, layers=layers, bidirectional=bi)
    gpu.cuda()
    x = torch.from_numpy(rng.standard_normal((b, t, d)).astype(np.float32))
    lengths = torch.from_numpy(rng.integers(1, t + 1, b))
    g = torch.from_numpy(rng.standard_normal((b, o)).astype(np.float32))
    xc = x.clone().requires_grad_()
    (cpu(xc, lengths=lengths) * g).sum().backward()
    xg = x.cuda().requires_grad_()
    stream = torch.cuda.Stream() if side_stream else torch.cuda.current_stream()
    with torch.cuda.stream(stream):
        y = gpu(xg, lengths=lengths)
        (y * g.cuda()).sum().backward()
    torch.cuda.synchronize()
    torch.testing.assert_close(y.cpu(), cpu(x, lengths=lengths), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu.weight.grad.cpu(), cpu.weight.grad, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(xg.grad.cpu(), xc.grad, rtol=1e-3, atol=1e-5)
