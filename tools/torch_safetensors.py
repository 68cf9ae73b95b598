#!/usr/bin/env python3
"""PyTorch interoperability of `rnnattn export` / `rnnattn import` (docs/safetensors.md), where
torch and safetensors are installed (pip install torch safetensors; never a build or test
dependency of rnnattn).

  tools/torch_safetensors.py fixture
      Regenerates the test fixtures: models built in PyTorch (nn.RNN, nn.LSTM and nn.GRU, two
      layers, bidirectional, D=2 H=3, with rnnattn's attention and a tanh head: nn.Linear), each
      state dict saved by safetensors.torch.save_file to tests/fixtures/torch_{rnn,lstm,gru}.safetensors,
      and its outputs for a seeded input to tests/fixtures/torch_{rnn,lstm,gru}_expected.txt.
      tests/io/test_safetensors.cpp imports each file and checks rnnattn's forward pass against
      PyTorch's.
  tools/torch_safetensors.py check FILE.safetensors
      Loads a file written by `rnnattn export` into PyTorch: nn.RNN.load_state_dict(strict=True)
      on the recurrent tensors, nn.Linear on the head, and prints the model's output for a zero
      window, so that it can be compared with rnnattn's.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AttentionModel(torch.nn.Module):
    """rnnattn's model: e_t = tanh(h_t . w + b_t), a = softmax(e), c = sum_t a_t h_t, y = tanh(c Wd + bd)."""

    def __init__(self, d, h, layers, bidirectional, steps, outputs, cell="elman"):
        super().__init__()
        kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=True)
        if cell == "lstm":
            self.rnn = torch.nn.LSTM(d, h, **kw)
        elif cell == "gru":
            self.rnn = torch.nn.GRU(d, h, **kw)
        else:
            self.rnn = torch.nn.RNN(d, h, nonlinearity="tanh", **kw)
        c = h * (2 if bidirectional else 1)
        self.attention_weight = torch.nn.Parameter(0.3 * torch.randn(c))
        self.attention_bias = torch.nn.Parameter(0.1 * torch.randn(steps))
        self.head = torch.nn.Linear(c, outputs)

    def forward(self, x):
        states, _ = self.rnn(x)                                               # [B, T, C]
        e = torch.tanh(states @ self.attention_weight + self.attention_bias)  # [B, T]
        a = torch.softmax(e, dim=1)
        context = (a.unsqueeze(-1) * states).sum(dim=1)                        # [B, C]
        return torch.tanh(self.head(context))

    def state(self):
        s = {k: v.detach().contiguous() for k, v in self.rnn.state_dict().items()}
        s["attention.weight"] = self.attention_weight.detach()
        s["attention.bias"] = self.attention_bias.detach()
        s["head.weight"] = self.head.weight.detach()
        s["head.bias"] = self.head.bias.detach()
        return s


def fixture():
    for cell, name in (("elman", "rnn"), ("lstm", "lstm"), ("gru", "gru")):
        fixture_of(cell, name)


def fixture_of(cell, name):
    torch.manual_seed(20261202)
    B, T, D, H = 4, 5, 2, 3
    model = AttentionModel(D, H, layers=2, bidirectional=True, steps=T, outputs=1, cell=cell)
    if cell != "elman":  # biases away from PyTorch's small uniform ones, so that each one counts
        with torch.no_grad():
            for k, v in model.rnn.named_parameters():
                if k.startswith("bias"):
                    v.uniform_(-0.8, 0.8)
    x = torch.randn(B, T, D)
    with torch.no_grad():
        y = model(x)
    out = os.path.join(root, "tests", "fixtures")
    save_file(model.state(), os.path.join(out, f"torch_{name}.safetensors"))
    with open(os.path.join(out, f"torch_{name}_expected.txt"), "w") as f:
        f.write(f"# written by tools/torch_safetensors.py fixture with torch {torch.__version__}\n")
        f.write(f"# B T D, then x [B, T, D], then PyTorch's y [B, 1]\n{B} {T} {D}\n")
        f.write(" ".join(repr(v) for v in x.flatten().tolist()) + "\n")
        f.write(" ".join(repr(v) for v in y.flatten().tolist()) + "\n")
    print("wrote", out, "torch", torch.__version__)


def check(path):
    tensors = load_file(path)
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        meta = json.loads(f.metadata()["rnnattn"])
    model = AttentionModel(meta["input_size"], meta["hidden_size"], meta["layers"],
                           meta["bidirectional"], meta["steps"], meta["output_size"],
                           meta.get("cell", "elman"))
    rnn = {k: v for k, v in tensors.items() if not k.startswith(("attention.", "head."))}
    model.rnn.load_state_dict(rnn, strict=True)
    model.head.load_state_dict({"weight": tensors["head.weight"], "bias": tensors["head.bias"]})
    with torch.no_grad():
        model.attention_weight.copy_(tensors["attention.weight"])
        model.attention_bias.copy_(tensors["attention.bias"])
        y = model(torch.zeros(1, meta["steps"], meta["input_size"]))
    print(f"loaded into nn.{type(model.rnn).__name__} (strict):", sorted(rnn))
    print("output for a zero window:", repr(y.flatten().tolist()))


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "fixture":
        fixture()
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        sys.exit(__doc__)
