"""The Keras-like model: rnnattn::fit, predict and checkpoints on NumPy arrays."""

from __future__ import annotations

import os

import numpy as np

from . import _core

_DEVICES = ("cpu", "reference", "cuda", "cuda-unfused", "auto")


def _finite(a: np.ndarray, name: str) -> np.ndarray:
    """a, refused where a value is NaN or infinite (as float32: a float64 beyond its range is
    infinite there), naming the array and the first such index: one such value would make every
    weight NaN."""
    bad = ~np.isfinite(a)
    if bad.any():
        index = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(
            f"{name}: {a[tuple(index)]} at index {index} (as float32); every value must be finite"
        )
    return a


def _integer(value, name: str) -> int:
    """An integer argument (Python's or NumPy's; not a float, which would be cut silently)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    return int(value)


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    """y, refused (naming its first index) where a label is not 0 or 1: BCE trains on those."""
    bad = (y != 0) & (y != 1)
    if bad.any():
        index = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(
            f"{name}: {y[tuple(index)]} at index {index}; loss='bce' trains on labels 0 and 1"
        )
    return y


def _features(x, name: str) -> np.ndarray:
    """x [N, T, D] as C-contiguous float32. Other real dtypes (float16, float64, integers,
    booleans) are converted, as Keras casts its inputs to float32; anything else is refused,
    naming the argument."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    if a.ndim != 3:
        raise ValueError(
            f"{name}: expected a 3-d array [samples, steps, features], got shape {a.shape}"
            + (" (reshape a univariate series to [samples, steps, 1])" if a.ndim == 2 else "")
        )
    with np.errstate(over="ignore"):  # beyond float32's range: inf, refused by _finite
        f = np.ascontiguousarray(a, dtype=np.float32)
    return _finite(f, name)


def _tokens(x, name: str, vocab: int) -> np.ndarray:
    """Token ids [N, T] as C-contiguous int32 (integer input only: a float id is refused)."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: a model with an embedding (vocab={vocab}) takes integer token ids, got dtype {a.dtype}"
        )
    if a.ndim != 2:
        raise ValueError(f"{name}: expected token ids [samples, steps], got shape {a.shape}")
    if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
        raise ValueError(f"{name}: token ids beyond int32")
    return np.ascontiguousarray(a, dtype=np.int32)


def _targets(y, name: str, n: int) -> np.ndarray:
    a = np.asarray(y)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[0] != n:
        raise ValueError(f"{name}: expected shape [{n}] or [{n}, outputs], got {np.shape(y)}")
    with np.errstate(over="ignore"):  # beyond float32's range: inf, refused by _finite
        f = np.ascontiguousarray(a, dtype=np.float32)
    return _finite(f, name)


def _lengths(lengths, name: str, n: int, steps: int) -> np.ndarray | None:
    if lengths is None:
        return None
    a = np.asarray(lengths)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integers, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ValueError(f"{name}: expected shape [{n}], got {a.shape}")
    if a.size and (a.min() < 1 or a.max() > steps):
        raise ValueError(f"{name}: each length must be in [1, {steps}] (got {a.min()}..{a.max()})")
    return np.ascontiguousarray(a, dtype=np.int32)


class History:
    """What fit returns, as Keras' History: ``history`` maps "loss" (and with validation
    "val_loss", and for a BCE model "val_accuracy") to one value per epoch run."""

    def __init__(self, d: dict):
        self.history = {"loss": list(d["loss"])}
        if d["val_loss"]:
            self.history["val_loss"] = list(d["val_loss"])
        if d["val_accuracy"]:
            self.history["val_accuracy"] = list(d["val_accuracy"])
        first = d["initial_epoch"]
        self.epoch = list(range(first, first + len(d["loss"])))  # 0-based, as Keras'
        self.best_epoch = d["best_epoch"]  # 1-based, counting earlier fits' epochs
        self.stopped_early = d["stopped_early"]
        self.epoch_seconds = list(d["epoch_seconds"])
        self.seconds = d["seconds"]

    def __repr__(self) -> str:
        return f"<rnnattn.History epochs={len(self.epoch)} best_epoch={self.best_epoch}>"


class Model:
    """An RNN with additive attention (the Keras tutorial's model), or without it.

    The shapes are taken from the first data the model sees (as Keras builds a model on its first
    call): steps T and features D from x [N, T, D] (token ids [N, T] when ``vocab`` > 0), outputs
    from y [N] or [N, O]; ``build()`` fixes them beforehand. Weights follow Keras' initialisers
    from ``seed``; training is rnnattn's trainer (Adam, mini-batches reshuffled every epoch), so
    ``rnnattn train --seed S`` and ``Model(seed=S)`` agree.

    Arguments: hidden (H), cell ("elman", "lstm", "gru"), attention, layers, bidirectional, head
    ("tanh", "linear", "sigmoid"; default sigmoid for loss "bce", else tanh), loss ("mse",
    "bce"), vocab (a trainable embedding of that many ids in front, 0: none; then ``embedding_dim``
    is D), learning_rate, beta_1, beta_2, epsilon (Adam, Keras' defaults), seed, device ("cpu",
    the fast CPU path; "cuda"; "auto"; "reference", the plain oracle).
    """

    def __init__(
        self,
        hidden: int = 2,
        *,
        cell: str = "elman",
        attention: bool = True,
        layers: int = 1,
        bidirectional: bool = False,
        head: str | None = None,
        loss: str = "mse",
        vocab: int = 0,
        embedding_dim: int = 0,
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        seed: int = 1,
        device: str = "cpu",
    ):
        cfg = _core.Config()
        cfg.hidden_size = int(hidden)
        cfg.cell = cell
        cfg.attention = bool(attention)
        cfg.layers = int(layers)
        cfg.bidirectional = bool(bidirectional)
        cfg.loss = loss
        cfg.head = head if head is not None else ("sigmoid" if loss == "bce" else "tanh")
        cfg.vocab_size = int(vocab)
        if vocab and embedding_dim < 1:
            raise ValueError("embedding_dim: a model with vocab > 0 needs embedding_dim >= 1")
        if embedding_dim and not vocab:
            raise ValueError("embedding_dim: only with vocab > 0")
        if embedding_dim:
            cfg.input_size = int(embedding_dim)
        self._pending = cfg
        self._adam = (float(learning_rate), float(beta_1), float(beta_2), float(epsilon))
        if int(seed) < 0:
            raise ValueError("seed: must be >= 0")
        self._seed = int(seed)
        self.device = device
        self._m: _core.Model | None = None

    # -- construction ---------------------------------------------------------------------
    @property
    def device(self) -> str:
        return self._device

    @device.setter
    def device(self, value: str) -> None:
        if value not in _DEVICES:
            raise ValueError(f"device: one of {', '.join(_DEVICES)}, not {value!r}")
        self._device = value

    @property
    def built(self) -> bool:
        return self._m is not None

    def build(self, steps: int, features: int = 1, outputs: int = 1) -> Model:
        """Fixes T, D (ignored with an embedding: embedding_dim is D) and O, and initialises the
        weights. A built model's shapes never change."""
        if self._m is not None:
            raise ValueError("build: the model is already built")
        cfg = self._pending
        cfg.steps = int(steps)
        if not cfg.vocab_size:
            cfg.input_size = int(features)
        cfg.output_size = int(outputs)
        self._m = _core.Model(cfg, self._seed, *self._adam)
        return self

    def _input(self, x, name: str, outputs: int = 1, y=None) -> np.ndarray:
        """x converted and checked against the model's shapes; an unbuilt model is built from it
        (with `outputs` outputs) once x (and y, given) are known to be well formed."""
        vocab = (self._m.config if self._m else self._pending).vocab_size
        a = _tokens(x, name, vocab) if vocab else _features(x, name)
        if y is not None:
            _targets(y, "y", a.shape[0])
        if self._m is None:
            self.build(a.shape[1], a.shape[2] if a.ndim == 3 else 0, outputs)
        cfg = self._m.config
        want = (cfg.steps,) if vocab else (cfg.steps, cfg.input_size)
        if a.shape[1:] != want:
            raise ValueError(
                f"{name}: shape {a.shape}, but the model was built for [samples, "
                + ", ".join(map(str, want))
                + "]"
            )
        return a

    # -- Keras' API -------------------------------------------------------------------------
    def fit(
        self,
        x,
        y,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        validation_split: float = 0.0,
        validation_data=None,
        early_stopping: int = 0,
        lengths=None,
        verbose: int = 0,
        shuffle: bool = True,
    ) -> History:
        """Trains for ``epochs`` more epochs (Keras' fit): mini-batches of ``batch_size`` in an
        order reshuffled every epoch from the model's seed, Adam on the configured loss.
        validation_split holds out the last fraction of the samples (as Keras does, before
        shuffling); validation_data = (x, y) or (x, y, lengths) is evaluated after every epoch;
        early_stopping = patience in epochs (0: off) restores the best epoch's weights (Keras'
        EarlyStopping(restore_best_weights=True) on val_loss, else on loss). lengths [N]: each
        sample's valid steps (the rest is padding). verbose 1 prints Keras' epoch lines, 2 also
        progress within an epoch. Two fits of 5 epochs give the bits of one of 10. Refused with
        the argument's name: a non-integer epochs, batch_size, early_stopping or verbose; a
        validation_split that leaves no sample to train on (Keras' split, int(N (1 - split)));
        NaN or infinite values; a BCE model's targets other than 0 and 1 (with their index)."""
        if not shuffle:
            raise ValueError("shuffle: rnnattn always shuffles (the order is the seed's)")
        epochs, batch_size = _integer(epochs, "epochs"), _integer(batch_size, "batch_size")
        early_stopping = _integer(early_stopping, "early_stopping")
        verbose = _integer(verbose, "verbose")
        y_arr = np.asarray(y)
        xa = self._input(x, "x", int(y_arr.shape[1]) if y_arr.ndim == 2 else 1, y_arr)
        ya = self._checked_targets(y_arr, "y", xa.shape[0])
        la = _lengths(lengths, "lengths", xa.shape[0], self._m.config.steps)
        vd = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: (x, y) or (x, y, lengths)")
            vx = self._input(validation_data[0], "validation_data[0]")
            vy = self._checked_targets(validation_data[1], "validation_data[1]", vx.shape[0])
            vl = _lengths(
                validation_data[2] if len(validation_data) == 3 else None,
                "validation_data[2]",
                vx.shape[0],
                self._m.config.steps,
            )
            vd = (vx, vy, vl)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError("validation_split: must be in [0, 1)")
        n = xa.shape[0]
        if validation_split > 0 and int(n * (1.0 - validation_split)) < 1:
            raise ValueError(
                f"validation_split: {validation_split} of {n} samples leaves no sample to train on"
            )
        d = self._m.fit(
            xa,
            ya,
            la,
            int(epochs),
            int(batch_size),
            float(validation_split),
            vd,
            int(early_stopping),
            self._device,
            int(verbose),
        )
        return History(d)

    def predict(self, x, *, lengths=None, return_attention: bool = False):
        """Predictions [N, O] (in the targets' units); with return_attention, also the
        attention weights [N, T] (0 on padding)."""
        xa = self._input(x, "x")
        la = _lengths(lengths, "lengths", xa.shape[0], self._m.config.steps)
        return self._m.predict(xa, la, bool(return_attention), self._device)

    def evaluate(self, x, y, *, lengths=None) -> float:
        """The configured loss (MSE or BCE, as training computes it) on (x, y)."""
        y_arr = np.asarray(y)
        xa = self._input(x, "x", int(y_arr.shape[1]) if y_arr.ndim == 2 else 1, y_arr)
        ya = self._checked_targets(y_arr, "y", xa.shape[0])
        la = _lengths(lengths, "lengths", xa.shape[0], self._m.config.steps)
        return self._m.evaluate(xa, ya, la, self._device)

    def _checked_targets(self, y, name: str, n: int) -> np.ndarray:
        """Targets as _targets reads them, and for a BCE model labels 0 and 1 only."""
        a = _targets(y, name, n)
        return _labels(a, name) if str(self._m.config.loss) == "bce" else a

    # -- weights and files --------------------------------------------------------------------
    def _require_built(self, what: str) -> _core.Model:
        if self._m is None:
            raise ValueError(f"{what}: the model is not built yet (call fit, predict or build)")
        return self._m

    @property
    def config(self) -> _core.Config:
        return self._require_built("config").config

    @property
    def epochs_trained(self) -> int:
        return self._m.epochs_trained if self._m else 0

    def get_weights(self) -> dict:
        """Every tensor by its name in the flat layout (Wx, Wh, bh, wa, ba, Wd, bd; l1.rev.Wx, ...
        for the other blocks; emb), as float32 copies shaped [rows, cols] or [length]."""
        m = self._require_built("get_weights")
        flat = m.get_params()
        out = {}
        for name, rows, cols, off in m.config.layout():
            t = flat[off : off + rows * cols]
            matrix = name.split(".")[-1] in ("Wx", "Wh", "Wd", "emb")
            out[name] = (t.reshape(rows, cols) if matrix else t).copy()
        return out

    def set_weights(self, weights: dict) -> None:
        """Sets the named tensors (a subset of get_weights()' names; shapes must match)."""
        m = self._require_built("set_weights")
        flat = m.get_params()
        layout = {name: (rows, cols, off) for name, rows, cols, off in m.config.layout()}
        for name, value in weights.items():
            if name not in layout:
                raise ValueError(
                    f"set_weights: no tensor named {name!r} (have {', '.join(layout)})"
                )
            rows, cols, off = layout[name]
            with np.errstate(over="ignore"):
                a = _finite(np.asarray(value, dtype=np.float32), f"set_weights: {name}")
            if a.size != rows * cols or a.ndim > 2:
                raise ValueError(
                    f"set_weights: {name} has shape {a.shape}, expected [{rows}, {cols}]"
                )
            flat[off : off + rows * cols] = a.reshape(-1)
        m.set_params(flat)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter buffer (a copy), in the layout of docs/checkpoint-format.md."""
        return self._require_built("params").get_params()

    def save(self, path, data=None) -> None:
        """Writes the model (weights, Adam state, epochs) as an rnnattn checkpoint, the CLI's
        format: ``rnnattn predict --model PATH`` reads it. ``data`` (an rnnattn.data Dataset) also
        records the data it was trained on and its scaling, as `rnnattn train --save` does. The
        file is written to a temporary file and renamed over ``path``: never half-written."""
        m = self._require_built("save")
        m.save(os.fspath(path), None if data is None else data._core)

    def summary(self) -> str:
        m = self._m
        if m is None:
            return f"<rnnattn.Model (not built) {self._pending!r}>"
        return f"{m.config!r} params={m.config.parameter_count()} epochs={m.epochs_trained}"

    def __repr__(self) -> str:
        return self.summary()


def load(path, device: str = "cpu") -> Model:
    """A model from an rnnattn checkpoint (written by Model.save or `rnnattn train --save`): its
    configuration, weights, Adam state and epoch count; training continues where it stopped."""
    core = _core.Model.load(os.fspath(path))
    model = Model.__new__(Model)
    model._pending = core.config
    model._adam = (core.learning_rate, 0.9, 0.999, 1e-7)
    model._seed = int(core.seed)
    model.device = device
    model._m = core
    model.data_source = core.data_source
    model.scaler = core.scaler
    return model
