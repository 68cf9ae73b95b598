"""rnnattn.torch.RNNAttention against the same model written in plain PyTorch ops (float64),
outputs and every gradient, on CPU tensors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from rnnattn.torch import RNNAttention


def plain_pytorch(module, x, lengths=None):
    """The model from the module's own weight views, in float64 PyTorch ops (reference.hpp's
    definition): padding steps pass every state through unchanged and get no attention."""
    c = module.config
    w = {k: v.double() for k, v in module.views().items()}
    x = x.double()
    b, t_steps, h_size = x.shape[0], c.steps, c.hidden_size
    lengths = torch.full((b,), t_steps) if lengths is None else torch.as_tensor(lengths)
    valid = (torch.arange(t_steps).unsqueeze(0) < lengths.unsqueeze(1)).double()  # [B, T]
    inp = x
    for layer in range(c.layers):
        outs = []
        for d in range(2 if c.bidirectional else 1):
            p = "" if layer == 0 and d == 0 else f"l{layer}{'.rev' if d else ''}."
            wx, wh, bh = w[p + "Wx"], w[p + "Wh"], w[p + "bh"]
            hs = torch.zeros(b, h_size, dtype=torch.float64)
            cs = torch.zeros(b, h_size, dtype=torch.float64)
            out = [None] * t_steps
            for n in range(t_steps):
                t = n if d == 0 else t_steps - 1 - n
                if c.cell == "elman":
                    hn, cn = torch.tanh(inp[:, t] @ wx + bh + hs @ wh), cs
                elif c.cell == "lstm":
                    i, f, g, o = (inp[:, t] @ wx + bh + hs @ wh).split(h_size, dim=1)
                    cn = torch.sigmoid(f) * cs + torch.sigmoid(i) * torch.tanh(g)
                    hn = torch.sigmoid(o) * torch.tanh(cn)
                else:  # GRU, reset_after (Keras' default): input and recurrent biases apart
                    xz, xr, xh = (inp[:, t] @ wx + bh[: 3 * h_size]).split(h_size, dim=1)
                    hz, hr, hh = (hs @ wh + bh[3 * h_size :]).split(h_size, dim=1)
                    z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
                    hn, cn = z * hs + (1 - z) * torch.tanh(xh + r * hh), cs
                m = valid[:, t : t + 1]
                hs, cs = m * hn + (1 - m) * hs, m * cn + (1 - m) * cs
                out[t] = hs
            outs.append(torch.stack(out, dim=1))
        inp = torch.cat(outs, dim=2)
    top = inp  # [B, T, C]
    if c.attention:
        e = torch.tanh(top @ w["wa"] + w["ba"])
        e = e.masked_fill(valid == 0, float("-inf"))
        a = torch.softmax(e, dim=1)
        ctx = (a.unsqueeze(2) * top).sum(dim=1)
    else:
        a = None
        ctx = top[:, -1, :h_size]
        if c.bidirectional:
            ctx = torch.cat([ctx, top[:, 0, h_size:]], dim=1)
    pre = ctx @ w["Wd"] + w["bd"]
    y = {
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "linear": lambda v: v,
        "softmax": lambda v: torch.softmax(v, dim=1),
    }[c.head](pre)
    return y, a


CASES = [
    # (D, H, T, O, attention, cell, layers, bidirectional, head, lengths?)
    (1, 2, 20, 1, True, "elman", 1, False, "tanh", False),  # the tutorial's model
    (3, 5, 7, 2, True, "elman", 1, False, "linear", True),
    (2, 4, 6, 1, False, "elman", 1, False, "sigmoid", True),
    (3, 4, 5, 3, True, "elman", 2, True, "tanh", True),
    (2, 3, 6, 1, True, "lstm", 1, False, "tanh", True),
    (3, 4, 5, 2, False, "lstm", 2, True, "linear", False),
    (2, 3, 6, 1, True, "gru", 2, False, "tanh", True),
    (1, 1, 1, 1, True, "gru", 1, True, "sigmoid", False),
    (3, 4, 6, 4, True, "lstm", 1, True, "softmax", True),  # a softmax over four classes
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=lambda c: (
        f"{c[5]}-L{c[6]}{'bi' if c[7] else ''}-{'att' if c[4] else 'plain'}-D{c[0]}H{c[1]}T{c[2]}O{c[3]}{'-len' if c[9] else ''}"
    ),
)
@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_matches_plain_pytorch(case, backend, rng):
    d, h, t, o, attention, cell, layers, bi, head, with_lengths = case
    b = 6
    seed = int(rng.integers(1 << 20))
    m = RNNAttention(
        d,
        h,
        t,
        o,
        attention=attention,
        cell=cell,
        num_layers=layers,
        bidirectional=bi,
        head=head,
        seed=seed,
        cpu_backend=backend,
    )
    with torch.no_grad():  # biases away from their zero initial values, so their gradients count
        m.weight.add_(torch.from_numpy(rng.normal(0, 0.1, m.weight.shape).astype(np.float32)))
    x = torch.from_numpy(rng.standard_normal((b, t, d)).astype(np.float32)).requires_grad_()
    lengths = torch.from_numpy(rng.integers(1, t + 1, b)) if with_lengths else None
    g = torch.from_numpy(rng.standard_normal((b, o)))

    if attention:
        y, a = m(x, lengths=lengths, return_attention=True)
    else:
        y, a = m(x, lengths=lengths), None
    (y.double() * g).sum().backward()
    dw, dx = m.weight.grad.clone(), x.grad.clone()

    m.weight.grad = None
    x.grad = None
    y_ref, a_ref = plain_pytorch(m, x, lengths)
    (y_ref * g).sum().backward()

    # Tolerances: float32 kernels against a float64 oracle over a handful of steps.
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-5, atol=1e-6)
    if attention:
        torch.testing.assert_close(a.double(), a_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dw.double(), m.weight.grad.double(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dx.double(), x.grad.double(), rtol=1e-4, atol=1e-5)
    if with_lengths:  # padding's input gets no gradient
        for i in range(b):
            assert torch.all(dx[i, int(lengths[i]) :] == 0)


def test_mask_equals_lengths(rng):
    m = RNNAttention(2, 3, 5, seed=3)
    x = torch.from_numpy(rng.standard_normal((4, 5, 2)).astype(np.float32))
    lengths = torch.tensor([5, 1, 3, 2])
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    torch.testing.assert_close(m(x, mask=mask), m(x, lengths=lengths), rtol=0, atol=0)
    with pytest.raises(ValueError, match="valid steps of each sequence must come first"):
        m(x, mask=mask.flip(1))


def test_inputs_are_checked_by_name():
    m = RNNAttention(2, 3, 5)
    with pytest.raises(TypeError, match="x: expected float32"):
        m(torch.zeros(1, 5, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x: expected \[batch, 5, 2\]"):
        m(torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="lengths: each must be in"):
        m(torch.zeros(2, 5, 2), lengths=torch.tensor([0, 5]))
    with pytest.raises(KeyError, match="no tensor 'Wq'"):
        m.view("Wq")


def test_pytorch_names_for_the_structure():
    # nn.RNN's num_layers (rnnattn's layers too, not both); one flat parameter, as documented.
    m = RNNAttention(2, 3, 5, num_layers=2, bidirectional=True)
    assert m.num_layers == 2 == m.config.layers and "num_layers=2" in repr(m)
    assert RNNAttention(2, 3, 5, layers=3).num_layers == 3
    assert RNNAttention(2, 3, 5).num_layers == 1
    with pytest.raises(ValueError, match="num_layers and layers"):
        RNNAttention(2, 3, 5, num_layers=2, layers=2)
    assert [name for name, _ in m.named_parameters()] == ["weight"]
    assert "weight_ih_l0" in RNNAttention.__doc__ and "view(name)" in RNNAttention.__doc__


def test_views_share_the_parameter_and_train(rng):
    torch.manual_seed(0)
    m = RNNAttention(1, 4, 8, seed=1)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.view("Wh").data_ptr() == m.weight.data_ptr() + 4 * m._layout["Wh"][2]
    x = torch.from_numpy(rng.uniform(0, 1, (32, 8, 1)).astype(np.float32))
    y = x.mean(dim=1) * 0.5
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_no_copies_through_dlpack(rng, monkeypatch):
    # The kernels write into the tensors PyTorch allocated: y is produced in place.
    from rnnattn import _core

    seen = {}
    real = _core.forward

    def spy(cfg, dev, w, x, y, att, lengths):
        seen["y"] = y.data_ptr()
        return real(cfg, dev, w, x, y, att, lengths)

    monkeypatch.setattr(_core, "forward", spy)
    m = RNNAttention(2, 3, 4)
    y = m(torch.zeros(3, 4, 2))
    assert seen["y"] == y.data_ptr()


def test_checkpoints_both_ways(tmp_path, cli, rng):
    import rnnattn

    m = RNNAttention(1, 3, 20, head="linear", seed=4)
    m.save_checkpoint(tmp_path / "t.bin")
    model = rnnattn.load(tmp_path / "t.bin")
    x = rng.standard_normal((5, 20, 1)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), m(torch.from_numpy(x)).detach().numpy())
    cli("inspect", "--model", tmp_path / "t.bin")  # the CLI reads it
    back = RNNAttention.from_checkpoint(tmp_path / "t.bin")
    assert torch.equal(back.weight, m.weight) and back.config == m.config


def test_module_pickles_copies_and_saves(tmp_path):
    import copy
    import pickle

    m = RNNAttention(2, 3, 4, seed=5, bidirectional=True)
    x = torch.rand(3, 4, 2)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert clone.config.hidden_size == 3 and clone.config.bidirectional
        assert torch.equal(clone(x), m(x))
        clone.weight.data.zero_()  # a copy, not the same tensor
        assert not torch.equal(clone(x), m(x))
    path = tmp_path / "m.pt"
    torch.save(m, path)
    assert torch.equal(torch.load(path, weights_only=False)(x), m(x))


def test_no_instances_leak_at_exit():
    """A script that keeps the module and an output (with its autograd graph) to its exit: no
    nanobind report of leaked instances."""
    import subprocess
    import sys

    script = (
        "import torch\n"
        "from rnnattn.torch import RNNAttention\n"
        "m = RNNAttention(2, 3, 4)\n"
        "y = m(torch.rand(5, 4, 2))\n"
        "y.sum().backward()\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "leaked" not in r.stderr, r.stderr
