"""The Keras-like model: rnnattn::fit, predict and checkpoints on NumPy arrays."""

from __future__ import annotations

import os
import sys

import numpy as np

from . import _core
from .callbacks import EarlyStopping

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


def _distributions(y: np.ndarray, name: str) -> np.ndarray:
    """y [N, K], refused (naming its first row) where a row is not a distribution over the K
    classes: CCE trains on one-hot rows (Keras' categorical_crossentropy), or on soft ones."""
    if y.ndim != 2 or y.shape[1] < 2:
        raise ValueError(
            f"{name}: shape {y.shape}; loss='cce' trains on one-hot rows [samples, classes] "
            "(K >= 2; rnnattn.to_categorical makes them from class numbers)"
        )
    bad = (y < 0).any(axis=1) | (np.abs(y.sum(axis=1, dtype=np.float64) - 1.0) > 1e-5)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{name}: row {row} is {y[row].tolist()}; loss='cce' trains on one-hot rows (or "
            "rows of probabilities summing to 1)"
        )
    return y


def to_categorical(y, num_classes: int | None = None) -> np.ndarray:
    """Class numbers [N] (0..K-1) as one-hot rows [N, K] of float32, as Keras'
    ``to_categorical``: the targets of a model with loss "cce".

    Args:
        y: The class numbers (integers, or floats that are whole numbers).
        num_classes: K (default: the largest class number + 1).

    Returns:
        The one-hot rows.
    """
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"y: expected class numbers [samples], got shape {a.shape}")
    if a.dtype.kind not in "iuf" or (a.dtype.kind == "f" and not np.all(a == np.floor(a))):
        raise ValueError("y: class numbers must be whole numbers 0..K-1")
    c = a.astype(np.int64)
    k = int(c.max()) + 1 if num_classes is None else _integer(num_classes, "num_classes")
    if c.size and (c.min() < 0 or c.max() >= k):
        raise ValueError(f"y: class numbers must be in [0, {k}), got {c.min()}..{c.max()}")
    out = np.zeros((c.size, k), dtype=np.float32)
    out[np.arange(c.size), c] = 1.0
    return out


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


def _attention_of(attention) -> tuple[bool, str]:
    """attention=True|False|"additive"|"dot"|"dot-scaled" as (on, score)."""
    if isinstance(attention, str):
        if attention not in ("additive", "dot", "dot-scaled"):
            raise ValueError(
                f"attention: True, False, 'additive', 'dot' or 'dot-scaled', not {attention!r}"
            )
        return True, attention
    return bool(attention), "additive"

def _is_matrix(name: str) -> bool:
    """Whether the layout's tensor `name` is a matrix (kernels, the embedding) or a vector."""
    return name.split(".")[-1] in ("Wx", "Wh", "Wd", "emb")


def _early_stopping_callback(callbacks) -> EarlyStopping | None:
    """The one EarlyStopping among fit's callbacks, or None; anything else is refused by name:
    rnnattn's trainer runs whole epochs in C++ and calls no Python code between them."""
    if callbacks is None:
        return None
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks: a list of callbacks, got {type(callbacks).__name__}")
    found = None
    for cb in callbacks:
        if not isinstance(cb, EarlyStopping):
            raise TypeError(
                f"callbacks: rnnattn's trainer runs rnnattn.callbacks.EarlyStopping only, "
                f"not {type(cb).__name__}"
            )
        if found is not None:
            raise ValueError("callbacks: one EarlyStopping at most")
        found = cb
    return found


def _stdout_is_a_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


class History:
    """What fit returns, as Keras' History.

    Attributes:
        history: Maps "loss" (and with validation "val_loss", and for a BCE or CCE model
            "val_accuracy") to one value per epoch run.
        epoch: The 0-based numbers of the epochs run, counting earlier fits' (as Keras').
        best_epoch: The 1-based epoch whose weights the model holds after fit.
        stopped_early: Whether early stopping ended the fit before ``epochs``.
        epoch_seconds: Each epoch's wall time (its validation included).
        seconds: The whole fit's wall time.
    """

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

    Args:
        units: The recurrent layer's units H (Keras' name; default 2, the tutorial's).
        hidden: The same H under the CLI's name (``--hidden``); give one of the two.
        cell: "elman" (Keras' SimpleRNN), "lstm" or "gru" (Keras' reset_after GRU).
        attention: True or "additive": the tutorial's additive attention over the states; "dot"
            (the notebook's) or "dot-scaled": Keras' dot-product Attention()([h, h]) (with
            use_scale), the context sum_t o_t * h_t; False: the last state.
        dropout: Keras' Dropout(rate) on the context before the head, in training only (the
            notebook's 0.5); its masks are keyed by the seed, the step and the element, so a
            run is reproducible, and the CPU and the GPU draw the same ones.
        input_dropout: The recurrent layers' dropout on their inputs (Keras' LSTM(dropout=)):
            one mask per sequence for all its steps. Trains on the CPU.
        recurrent_dropout: Their dropout on the previous state (Keras' recurrent_dropout), the
            same way. Trains on the CPU.
        layers: Stacked recurrent layers.
        bidirectional: Each layer reads both ways (Keras' Bidirectional, concatenated).
        head: The dense head's activation, "tanh", "linear", "sigmoid" or "softmax" (default:
            sigmoid for loss "bce", softmax for "cce", else tanh).
        loss: "mse", "bce" (binary cross-entropy on labels 0 and 1) or "cce" (Keras'
            categorical cross-entropy on a softmax over K classes; y one-hot [N, K], see
            to_categorical).
        vocab: A trainable embedding of this many token ids in front (0: none, x holds features).
        embedding_dim: The embedding's width D (with vocab only).
        learning_rate: Adam's step (Keras' default 0.001).
        beta_1: Adam's first-moment decay.
        beta_2: Adam's second-moment decay.
        epsilon: Adam's epsilon (Keras' 1e-7).
        seed: Draws the initial weights and every epoch's shuffle.
        device: "cpu" (the fast CPU path), "cuda", "cuda-unfused", "auto" or "reference" (the
            plain oracle).
    """

    def __init__(
        self,
        units: int | None = None,
        *,
        hidden: int | None = None,
        cell: str = "elman",
        attention: bool | str = True,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
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
        if units is not None and hidden is not None:
            raise ValueError("units and hidden name the same H: give one of them")
        h = units if units is not None else hidden if hidden is not None else 2
        cfg = _core.Config()
        cfg.hidden_size = _integer(h, "units")
        cfg.cell = cell
        cfg.attention, cfg.score = _attention_of(attention)
        for name, rate in (
            ("dropout", dropout),
            ("input_dropout", input_dropout),
            ("recurrent_dropout", recurrent_dropout),
        ):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"{name}: a rate in [0, 1), not {rate!r}")
        cfg.dropout = float(dropout)
        cfg.input_dropout = float(input_dropout)
        cfg.recurrent_dropout = float(recurrent_dropout)
        cfg.layers = int(layers)
        cfg.bidirectional = bool(bidirectional)
        cfg.loss = loss
        cfg.head = (
            head
            if head is not None
            else {"bce": "sigmoid", "cce": "softmax"}.get(loss, "tanh")
        )
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
        """Where fit, predict and evaluate run (settable: the same names as the argument)."""
        return self._device

    @device.setter
    def device(self, value: str) -> None:
        if value not in _DEVICES:
            raise ValueError(f"device: one of {', '.join(_DEVICES)}, not {value!r}")
        self._device = value

    @property
    def built(self) -> bool:
        """Whether the shapes are fixed and the weights drawn."""
        return self._m is not None

    def build(self, steps: int, features: int = 1, outputs: int = 1) -> Model:
        """Fixes the shapes and initialises the weights; a built model's shapes never change.

        Args:
            steps: T, the time steps of every sample (the attention has one bias per step).
            features: D (ignored with an embedding: embedding_dim is D).
            outputs: O, the dense head's outputs.

        Returns:
            The model itself.
        """
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
            t = _targets(y, "y", a.shape[0])
            if str((self._m.config if self._m else self._pending).loss) == "cce":
                _distributions(t, "y")  # before a model of the wrong O is built from it
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
        verbose="auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        early_stopping: int = 0,
        lengths=None,
    ) -> History:
        """Trains for ``epochs`` more epochs, as Keras' fit: Adam on the configured loss over
        mini-batches in an order reshuffled every epoch from the model's seed. Two fits of 5
        epochs give the bits of one of 10.

        Args:
            x: Inputs [N, T, D] (token ids [N, T] with an embedding).
            y: Targets [N] or [N, O] (labels 0 and 1 for loss "bce"; one-hot rows [N, K] for
                loss "cce").
            epochs: Epochs to run in this call.
            batch_size: Samples per Adam step.
            verbose: 0 silent; 1 a line per epoch that shows progress within it on a terminal;
                2 a line per epoch; "auto" (Keras' default) is 1.
            callbacks: ``[rnnattn.callbacks.EarlyStopping(...)]`` (Keras' arguments); no other
                callback runs inside rnnattn's trainer.
            validation_split: Holds out the last fraction of the samples (as Keras does, before
                shuffling); it must leave a sample to train on (Keras' int(N (1 - split))).
            validation_data: (x, y) or (x, y, lengths), evaluated after every epoch.
            shuffle: True only (the order is the seed's).
            early_stopping: Patience in epochs (0: off); the best epoch's weights are restored
                whether training stopped or ran to the end, monitoring val_loss with validation
                data, else the loss. Use the callback for Keras' exact behaviour.
            lengths: [N] valid steps of each sample (the rest is padding).

        Returns:
            A History.

        Raises:
            TypeError: a non-integer epochs, batch_size or early_stopping, or a callback other
                than EarlyStopping.
            ValueError: a wrong shape, NaN or infinite values (by index), a validation_split that
                leaves no sample to train on, a BCE label other than 0 and 1 (by index), a CCE
                row that is not one-hot (or a distribution).
        """
        if not shuffle:
            raise ValueError("shuffle: rnnattn always shuffles (the order is the seed's)")
        epochs, batch_size = _integer(epochs, "epochs"), _integer(batch_size, "batch_size")
        early_stopping = _integer(early_stopping, "early_stopping")
        verbose = 1 if isinstance(verbose, str) and verbose == "auto" else verbose
        verbose = _integer(verbose, "verbose")
        stopping = _early_stopping_callback(callbacks)
        if stopping is not None and early_stopping:
            raise ValueError("early_stopping: give it or an EarlyStopping callback, not both")
        trainer = (
            stopping._trainer_options()
            if stopping is not None
            else {
                "early_stopping": early_stopping,
                "monitor": "auto",
                "min_delta": 0.0,
                "restore": "always",
            }
        )
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
            trainer["early_stopping"],
            trainer["monitor"],
            trainer["min_delta"],
            trainer["restore"],
            self._device,
            verbose,
            verbose == 1 and _stdout_is_a_terminal(),
        )
        if stopping is not None:
            stopping._after_fit(d)
        return History(d)

    def predict(self, x, *, lengths=None, return_attention: bool = False):
        """Predictions for x.

        Args:
            x: Inputs [N, T, D] (token ids [N, T] with an embedding).
            lengths: [N] valid steps of each sample.
            return_attention: Also return the attention weights.

        Returns:
            Predictions [N, O] in the targets' units; with return_attention, the pair
            (predictions, attention weights [N, T], 0 on padding).
        """
        xa = self._input(x, "x")
        la = _lengths(lengths, "lengths", xa.shape[0], self._m.config.steps)
        return self._m.predict(xa, la, bool(return_attention), self._device)

    def evaluate(self, x, y, *, lengths=None) -> float:
        """The configured loss (MSE, BCE or CCE, as training computes it) on (x, y).

        Args:
            x: Inputs [N, T, D] (token ids [N, T] with an embedding).
            y: Targets [N] or [N, O].
            lengths: [N] valid steps of each sample.

        Returns:
            The mean loss.
        """
        y_arr = np.asarray(y)
        xa = self._input(x, "x", int(y_arr.shape[1]) if y_arr.ndim == 2 else 1, y_arr)
        ya = self._checked_targets(y_arr, "y", xa.shape[0])
        la = _lengths(lengths, "lengths", xa.shape[0], self._m.config.steps)
        return self._m.evaluate(xa, ya, la, self._device)

    def _checked_targets(self, y, name: str, n: int) -> np.ndarray:
        """Targets as _targets reads them, and for a BCE model labels 0 and 1 only, for a CCE
        model rows that are distributions over its classes."""
        a = _targets(y, name, n)
        loss = str(self._m.config.loss)
        if loss == "cce":
            return _distributions(a.reshape(n, -1), name)
        return _labels(a, name) if loss == "bce" else a

    # -- weights and files --------------------------------------------------------------------
    def _require_built(self, what: str) -> _core.Model:
        if self._m is None:
            raise ValueError(f"{what}: the model is not built yet (call fit, predict or build)")
        return self._m

    @property
    def config(self) -> _core.Config:
        """The built model's configuration (shapes, cell, head, loss)."""
        return self._require_built("config").config

    @property
    def epochs_trained(self) -> int:
        """Epochs whose updates the weights hold, counting every fit (and the checkpoint's)."""
        return self._m.epochs_trained if self._m else 0

    def _tensors(self, what: str):
        """The built model's tensors as (name, rows, cols, offset) in Keras' layer order: the
        embedding first, then the layout's order (each layer, forward then backward; attention;
        head)."""
        m = self._require_built(what)
        layout = list(m.config.layout())
        return m, [t for t in layout if t[0] == "emb"] + [t for t in layout if t[0] != "emb"]

    def _keras_shape(self, name: str, rows: int, cols: int) -> tuple:
        """A tensor's shape as Keras holds it: kernels [in, out]; the tutorial's attention W
        [C, 1] and b [T, 1]; the dot-product attention's scale, a scalar; a GRU's bias [2, 3H]
        (input, then recurrent); other biases [n]."""
        last = name.split(".")[-1]
        if _is_matrix(name):
            return (rows, cols)
        if last in ("wa", "ba"):
            return (rows * cols, 1)
        if last == "scale":  # Keras' Attention(use_scale=True) holds a scalar
            return ()
        if last == "bh" and str(self._m.config.cell) == "gru":
            return (2, rows * cols // 2)
        return (rows * cols,)

    def get_weights(self) -> list:
        """Every weight as a float32 NumPy copy, in Keras' order and shapes.

        The order and shapes are those of the tutorial's Keras model (for the embedding model, the
        notebook's): [embedding [V, D]], then for each layer and direction (forward first)
        kernel [I, G*H], recurrent kernel [H, G*H], bias [G*H] (GRU: [2, 3H]); attention W [C, 1]
        and b [T, 1]; dense kernel [C, O] and bias [O]. So ``keras_model.set_weights(
        model.get_weights())`` loads them into the same model built in Keras. By name:
        state_dict().

        Returns:
            A list of arrays.
        """
        m, tensors = self._tensors("get_weights")
        flat = m.get_params()
        return [
            flat[off : off + rows * cols].reshape(self._keras_shape(name, rows, cols)).copy()
            for name, rows, cols, off in tensors
        ]

    def set_weights(self, weights) -> None:
        """Sets every weight from a list in get_weights()' order and shapes (Keras' set_weights).

        Args:
            weights: A list or tuple of arrays, one per weight; each converted to float32.

        Raises:
            TypeError: weights is not a list (a dict: see load_state_dict).
            ValueError: a list of another length, an array of another shape, or a NaN or
                infinite value (naming the weight and the index).
        """
        if isinstance(weights, dict):
            raise TypeError(
                "set_weights: takes a list in get_weights()' order, as Keras' does; "
                "load_state_dict(...) takes the weights by name"
            )
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"set_weights: expected a list of arrays, got {type(weights).__name__}")
        m, tensors = self._tensors("set_weights")
        if len(weights) != len(tensors):
            raise ValueError(
                f"set_weights: {len(weights)} arrays for a model of {len(tensors)} weights "
                f"({', '.join(t[0] for t in tensors)})"
            )
        flat = m.get_params()
        for value, (name, rows, cols, off) in zip(weights, tensors):
            want = self._keras_shape(name, rows, cols)
            a = self._weight_array(value, f"set_weights: {name}", want)
            flat[off : off + rows * cols] = a.reshape(-1)
        m.set_params(flat)

    def state_dict(self) -> dict:
        """Every weight by its name in rnnattn's flat layout, as float32 NumPy copies.

        Names: Wx, Wh, bh (l1.Wx, l0.rev.Wh, ... for the other layers and directions), wa, ba,
        Wd, bd, emb (docs/checkpoint-format.md); matrices [rows, cols], the rest [length].

        Returns:
            A dict of arrays, in the flat layout's order.
        """
        m = self._require_built("state_dict")
        flat = m.get_params()
        out = {}
        for name, rows, cols, off in m.config.layout():
            t = flat[off : off + rows * cols]
            out[name] = (t.reshape(rows, cols) if _is_matrix(name) else t).copy()
        return out

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Sets weights by name, as PyTorch's load_state_dict.

        Args:
            state: Name to array, as state_dict() gives them.
            strict: Every weight must be given (True, the default); False sets the ones given
                and keeps the others.

        Raises:
            ValueError: with strict, a missing name (all of them listed); an unknown name; an
                array of another shape; a NaN or infinite value (naming the weight and index).
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state).__name__}")
        m = self._require_built("load_state_dict")
        layout = {name: (rows, cols, off) for name, rows, cols, off in m.config.layout()}
        unknown = [k for k in state if k not in layout]
        if unknown:
            raise ValueError(
                f"load_state_dict: no weight named {unknown[0]!r} (have {', '.join(layout)})"
            )
        missing = [k for k in layout if k not in state]
        if strict and missing:
            raise ValueError(
                f"load_state_dict: missing {', '.join(missing)} (strict=False keeps those)"
            )
        flat = m.get_params()
        for name, value in state.items():
            rows, cols, off = layout[name]
            a = self._weight_array(
                value,
                f"load_state_dict: {name}",
                (rows, cols) if _is_matrix(name) else (rows * cols,),
            )
            flat[off : off + rows * cols] = a.reshape(-1)
        m.set_params(flat)

    @staticmethod
    def _weight_array(value, name: str, shape: tuple) -> np.ndarray:
        """value as float32 of exactly `shape`, finite; refused with `name` (the call and the
        weight)."""
        with np.errstate(over="ignore"):
            a = np.asarray(value, dtype=np.float32)
        if a.shape != shape:
            raise ValueError(f"{name}: shape {a.shape}, expected {shape}")
        return _finite(a, name)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter buffer (a copy), in the layout of docs/checkpoint-format.md."""
        return self._require_built("params").get_params()

    def save(self, path, data=None) -> None:
        """Writes the model (weights, Adam state, epochs) as an rnnattn checkpoint.

        The CLI's format: ``rnnattn predict --model PATH`` reads it. The file is written to a
        temporary file and renamed over ``path``: never half-written, and a failed save leaves
        an earlier file intact.

        Args:
            path: The checkpoint's path.
            data: The rnnattn.data Dataset the model was trained on: the checkpoint then records
                it (source, columns, scaling; a CSV file's size and hash), as
                ``rnnattn train --save`` does.

        Raises:
            rnnattn.CheckpointError: the file cannot be written (the message says why).
        """
        m = self._require_built("save")
        m.save(os.fspath(path), None if data is None else data._core)

    def summary(self) -> str:
        """The configuration, parameter count and epochs trained, in one line."""
        m = self._m
        if m is None:
            return f"<rnnattn.Model (not built) {self._pending!r}>"
        return f"{m.config!r} params={m.config.parameter_count()} epochs={m.epochs_trained}"

    def __repr__(self) -> str:
        return self.summary()


def load(path, device: str = "cpu") -> Model:
    """A model from an rnnattn checkpoint, written by Model.save or ``rnnattn train --save``.

    Args:
        path: The checkpoint's path.
        device: As Model's.

    Returns:
        A built Model with the file's configuration, weights, Adam state and epoch count:
        training continues where it stopped.

    Raises:
        rnnattn.CheckpointError: a missing, truncated, corrupted or foreign file (named).
    """
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
