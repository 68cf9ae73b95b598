"""RNNAttention under torch.nn.parallel.DistributedDataParallel: 2 processes on the CPU (gloo).
The replicas stay identical and match one process training on the combined batch."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
mp = pytest.importorskip("torch.multiprocessing")

from rnnattn.torch import RNNAttention

STEPS, BATCH = 4, 8


def data():
    g = np.random.default_rng(11)
    x = g.standard_normal((BATCH, 6, 2)).astype(np.float32)
    y = g.uniform(-0.5, 0.5, (BATCH, 1)).astype(np.float32)
    lengths = g.integers(1, 7, BATCH)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(lengths)


def train(model, x, y, lengths, step_fn=None):
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x, lengths=lengths), y)
        loss.backward()
        opt.step()


def worker(rank, world, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = RNNAttention(2, 3, 6, bidirectional=True, seed=rank + 1)  # DDP broadcasts rank 0's
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    x, y, lengths = data()
    part = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    train(ddp, x[part], y[part], lengths[part])
    torch.save(model.weight.detach(), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_two_processes_match_one_on_the_combined_batch(tmp_path):
    mp.spawn(worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "rank0.pt")
    w1 = torch.load(tmp_path / "rank1.pt")
    assert torch.equal(w0, w1)  # the same all-reduced gradients: the same bits

    single = RNNAttention(2, 3, 6, bidirectional=True, seed=1)
    start = single.weight.detach().clone()
    train(single, *data())
    # Mean of the two halves' mean losses = the combined batch's mean (equal halves).
    torch.testing.assert_close(w0, single.weight.detach(), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(w0, start)  # training moved the weights
