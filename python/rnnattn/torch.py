"""rnnattn's model as a PyTorch module: ``RNNAttention``, whose forward and backward run rnnattn's
kernels on the tensors themselves (DLPack: no copies). CPU tensors run the fast CPU path; CUDA
tensors run the device API on PyTorch's current stream, with workspace and reserve from PyTorch's
caching allocator (a package built with CUDA). The parameters are one nn.Parameter, ``weight``,
in rnnattn's flat layout (docs/checkpoint-format.md), with views by name (``view("Wh")``), so
optimisers, ``state_dict`` and DistributedDataParallel see one tensor."""

from __future__ import annotations

import weakref

import torch

from . import _core
from ._model import _attention_of

__all__ = ["RNNAttention"]

# The configuration's fields a module is built from (what pickle keeps of its _core.Config).
_CONFIG_FIELDS = (
    "input_size",
    "hidden_size",
    "steps",
    "output_size",
    "attention",
    "score",
    "cell",
    "layers",
    "bidirectional",
    "head",
)


def _lengths_from(x: torch.Tensor, lengths, mask, steps: int) -> torch.Tensor | None:
    """lengths [B] (int) or a padding mask [B, T] (True on valid steps, which come first) as
    int32 lengths on x's device, or None."""
    b = x.shape[0]
    if lengths is not None and mask is not None:
        raise ValueError("give lengths or mask, not both")
    if mask is not None:
        if mask.dtype != torch.bool or tuple(mask.shape) != (b, steps):
            raise ValueError(
                f"mask: expected a bool tensor [{b}, {steps}], got {mask.dtype} {tuple(mask.shape)}"
            )
        lengths = mask.sum(dim=1)
        prefix = torch.arange(steps, device=mask.device).unsqueeze(0) < lengths.unsqueeze(1)
        if not torch.equal(prefix, mask):
            raise ValueError(
                "mask: the valid steps of each sequence must come first (right padding)"
            )
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    if (
        lengths.dtype.is_floating_point
        or lengths.dtype == torch.bool
        or tuple(lengths.shape) != (b,)
    ):
        raise ValueError(
            f"lengths: expected integers [{b}], got {lengths.dtype} {tuple(lengths.shape)}"
        )
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise ValueError(f"lengths: each must be in [1, {steps}]")
    return lengths.to(device=x.device, dtype=torch.int32).contiguous()


class _Pass(torch.autograd.Function):
    """One forward (returning y and the attention weights) and its backward through rnnattn."""

    @staticmethod
    def forward(ctx, weight, x, lengths, module):
        cfg = module.config
        w, xd = weight.detach(), x.detach()
        b = xd.shape[0]
        y = torch.empty(b, cfg.output_size, dtype=torch.float32, device=x.device)
        att = torch.empty(
            b, cfg.steps if cfg.attention else 0, dtype=torch.float32, device=x.device
        )
        if x.is_cuda:
            h = module._cuda_handle(x.device)
            stream = torch.cuda.current_stream(x.device).cuda_stream
            reserve = torch.empty(h.reserve_size(b), dtype=torch.uint8, device=x.device)
            work = torch.empty(h.workspace_size(b), dtype=torch.uint8, device=x.device)
            h.forward_training(
                stream, w, xd, y, att if cfg.attention else None, reserve, work, lengths
            )
            ctx.save_for_backward(w, xd, lengths, y, reserve)
        else:
            _core.forward(
                cfg, module.cpu_backend, w, xd, y, att if cfg.attention else None, lengths
            )
            ctx.save_for_backward(w, xd, lengths)
        # A weak reference: an output kept alive to the interpreter's exit (its graph holds ctx)
        # then keeps no rnnattn object alive past the extension's teardown (nanobind's leak report).
        ctx.module = weakref.ref(module)
        ctx.mark_non_differentiable(att)
        return y, att

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, _datt):
        module = ctx.module()
        if module is None:
            raise RuntimeError("RNNAttention: the module was deleted before this backward")
        cfg = module.config
        saved = ctx.saved_tensors
        w, xd, lengths = saved[0], saved[1], saved[2]
        if dy is None:
            dy = torch.zeros(xd.shape[0], cfg.output_size, dtype=torch.float32, device=xd.device)
        dy = dy.contiguous()
        dweight = torch.empty_like(w)
        dx = torch.empty_like(xd) if ctx.needs_input_grad[1] else None
        if xd.is_cuda:
            y, reserve = saved[3], saved[4]
            h = module._cuda_handle(xd.device)
            stream = torch.cuda.current_stream(xd.device).cuda_stream
            work = torch.empty(h.workspace_size(xd.shape[0]), dtype=torch.uint8, device=xd.device)
            h.backward(stream, w, xd, y, dy, reserve, dweight, dx, work, lengths)
        else:
            _core.backward(cfg, module.cpu_backend, w, xd, dy, dweight, dx, lengths)
        return dweight, dx, None, None


class RNNAttention(torch.nn.Module):
    """An RNN (Elman, LSTM or GRU; stacked, bidirectional) with additive attention and a dense
    head, as rnnattn computes it: input x [B, T, D] float32 (batch first), output y [B, O] (and
    the attention weights [B, T] with ``return_attention``).

    The parameters are one ``nn.Parameter``, ``weight``, in rnnattn's flat layout, not
    ``weight_ih_l0``, ``weight_hh_l0``, ... as ``nn.RNN`` names its own: the kernels read that
    buffer in place (as cuDNN reads its flat weight buffer), an optimiser and
    DistributedDataParallel see one tensor, and no per-step gather copies the pieces together.
    ``view(name)`` and ``views()`` give each tensor by rnnattn's name as a view of ``weight``
    (gradients flow through them). The layouts differ beyond the names (rnnattn's kernels are
    [in, out], nn.RNN's [out, in]; a GRU's gates are z, r, h in Keras' order, r, z, n in
    PyTorch's), so ``rnnattn export`` converts to PyTorch's names and layout in a safetensors
    file, and ``rnnattn import`` back (docs/safetensors.md).

    Args:
        input_size: D, the features per step.
        hidden_size: H, the units of each recurrent layer (and direction).
        steps: T, fixed: the attention has one bias per step.
        output_size: O, the dense head's outputs.
        attention: True or "additive": the tutorial's additive attention over the states; "dot"
            or "dot-scaled": Keras' dot-product Attention()([h, h]) (with use_scale), the
            context sum_t o_t * h_t; False: the last state.
        cell: "elman" (nn.RNN with tanh), "lstm" or "gru".
        num_layers: Stacked recurrent layers (nn.RNN's name).
        layers: The same, under rnnattn's name; give one of the two.
        bidirectional: Each layer reads both ways, concatenated.
        head: The dense head's activation, "tanh", "linear", "sigmoid" or "softmax" (over the O
            outputs, O >= 2).
        seed: Draws the initial weights with Keras' initialisers, as rnnattn.Model and the CLI.
        cpu_backend: "cpu" (the fast CPU path, the default) or "reference" (the plain oracle).
        device: Where ``weight`` is made.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        steps: int,
        output_size: int = 1,
        *,
        attention: bool | str = True,
        cell: str = "elman",
        num_layers: int | None = None,
        layers: int | None = None,
        bidirectional: bool = False,
        head: str = "tanh",
        seed: int = 1,
        cpu_backend: str = "cpu",
        device=None,
    ):
        super().__init__()
        if num_layers is not None and layers is not None:
            raise ValueError("num_layers and layers name the same count: give one of them")
        layers = num_layers if num_layers is not None else layers if layers is not None else 1
        cfg = _core.Config()
        cfg.input_size, cfg.hidden_size, cfg.steps = int(input_size), int(hidden_size), int(steps)
        cfg.output_size, cfg.cell = int(output_size), cell
        cfg.attention, cfg.score = _attention_of(attention)
        cfg.layers, cfg.bidirectional, cfg.head = int(layers), bool(bidirectional), head
        cfg.validate()
        if cpu_backend not in ("cpu", "reference"):
            raise ValueError(f"cpu_backend: 'cpu' or 'reference', not {cpu_backend!r}")
        self.config = cfg
        self.cpu_backend = cpu_backend
        self.weight = torch.nn.Parameter(
            torch.from_numpy(_core.init_parameters(cfg, int(seed))).to(device=device)
        )
        self._layout = {name: (rows, cols, off) for name, rows, cols, off in cfg.layout()}
        self._handles = {}

    def __getstate__(self):
        """For pickle, copy.deepcopy and torch.save: the configuration as plain values; the CUDA
        handles (one a device, made again on first use) are not kept."""
        state = self.__dict__.copy()
        state["config"] = {f: getattr(self.config, f) for f in _CONFIG_FIELDS}
        state["_handles"] = {}
        return state

    def __setstate__(self, state):
        cfg = _core.Config()
        for field, value in state["config"].items():
            setattr(cfg, field, value)
        cfg.validate()
        super().__setstate__(dict(state, config=cfg))

    def view(self, name: str) -> torch.Tensor:
        """One tensor as a view of ``weight``; gradients flow through it, and under
        torch.no_grad() it can be assigned in place.

        Args:
            name: Wx, Wh, bh, wa, ba, Wd, bd; l1.Wx, l0.rev.Wh, ... for the other layers and
                directions (docs/checkpoint-format.md).

        Returns:
            [rows, cols] for matrices, [length] for vectors.

        Raises:
            KeyError: no such tensor (the names there are listed).
        """
        if name not in self._layout:
            raise KeyError(f"no tensor {name!r} (have {', '.join(self._layout)})")
        rows, cols, off = self._layout[name]
        flat = self.weight.narrow(0, off, rows * cols)
        matrix = name.split(".")[-1] in ("Wx", "Wh", "Wd")
        return flat.view(rows, cols) if matrix else flat

    def views(self) -> dict:
        """Every tensor by name, as view() gives it."""
        return {name: self.view(name) for name in self._layout}

    def _cuda_handle(self, device: torch.device):
        if not hasattr(_core, "CudaHandle"):
            raise RuntimeError("rnnattn: this package was built without CUDA (CPU tensors only)")
        key = device.index if device.index is not None else torch.cuda.current_device()
        if key not in self._handles:
            with torch.cuda.device(key):
                self._handles[key] = _core.CudaHandle(self.config)
        return self._handles[key]

    @property
    def num_layers(self) -> int:
        """Stacked recurrent layers, as nn.RNN's attribute."""
        return self.config.layers

    def forward(self, x: torch.Tensor, lengths=None, mask=None, return_attention: bool = False):
        """Runs the model on x.

        Args:
            x: [B, T, D] float32, on the device of ``weight``.
            lengths: [B] integers, each sequence's valid steps (the rest is right padding).
            mask: [B, T] bool, True on valid steps (which come first); instead of lengths.
            return_attention: Also return the attention weights.

        Returns:
            y [B, O]; with return_attention, (y, attention weights [B, T], 0 on padding).
        """
        cfg = self.config
        if not isinstance(x, torch.Tensor):
            raise TypeError("x: expected a torch.Tensor")
        if x.dtype != torch.float32:
            raise TypeError(f"x: expected float32, got {x.dtype} (rnnattn computes in float32)")
        if (
            x.dim() != 3
            or x.shape[1] != cfg.steps
            or x.shape[2] != cfg.input_size
            or x.shape[0] < 1
        ):
            raise ValueError(
                f"x: expected [batch, {cfg.steps}, {cfg.input_size}], got {list(x.shape)}"
            )
        if x.device != self.weight.device:
            raise ValueError(f"x: on {x.device}, the module's weight on {self.weight.device}")
        if return_attention and not cfg.attention:
            raise ValueError("return_attention: the module has no attention (attention=False)")
        l = _lengths_from(x, lengths, mask, cfg.steps)
        y, att = _Pass.apply(self.weight, x.contiguous(), l, self)
        return (y, att) if return_attention else y

    def save_checkpoint(self, path) -> None:
        """Writes the weights as an rnnattn checkpoint (the CLI's format, without optimiser
        state): ``rnnattn predict --model PATH`` and ``rnnattn.load(PATH)`` read it.

        Args:
            path: The checkpoint's path (written atomically).
        """
        import os

        m = _core.Model(self.config, 1, 1e-3, 0.9, 0.999, 1e-7)
        m.set_params(self.weight.detach().to("cpu", torch.float32).contiguous().numpy())
        m.save(os.fspath(path), None)

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> RNNAttention:
        """A module with the configuration and weights of an rnnattn checkpoint.

        Args:
            path: A checkpoint written by ``rnnattn train --save``, ``rnnattn.Model.save`` or
                ``save_checkpoint``. A model with an embedding is refused (put
                torch.nn.Embedding in front instead).
            **kwargs: seed, cpu_backend, device, as the constructor's.

        Returns:
            The module.
        """
        import os

        m = _core.Model.load(os.fspath(path))
        c = m.config
        if c.vocab_size:
            raise ValueError(f"{path}: a model with an embedding (vocab {c.vocab_size})")
        module = cls(
            c.input_size,
            c.hidden_size,
            c.steps,
            c.output_size,
            attention=c.attention,
            cell=c.cell,
            num_layers=c.layers,
            bidirectional=c.bidirectional,
            head=c.head,
            **kwargs,
        )
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(m.get_params()))
        return module

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"input_size={c.input_size}, hidden_size={c.hidden_size}, steps={c.steps}, "
            f"output_size={c.output_size}, attention={c.attention}, cell={c.cell!r}, "
            f"num_layers={c.layers}, bidirectional={c.bidirectional}, head={c.head!r}"
        )
