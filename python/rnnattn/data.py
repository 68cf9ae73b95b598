"""The CLI's data sets as NumPy arrays: the tutorial's Fibonacci windows, the generated sentiment
task, and windows over the columns of a CSV file (the same code as ``rnnattn train --data``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import _core


class Dataset:
    """A train/test split, as the CLI reads its --data.

    Attributes:
        x_train: Inputs [N, T, D] float32 (token ids [N, T] int32 for text).
        y_train: Targets [N, O] float32.
        lengths_train: [N] int32 valid steps of each sequence, or None.
        index_train: The windows' start rows (or the sequences' numbers).
        x_test, y_test, lengths_test, index_test: The same for the test part.
        source: "fib", "sentiment" or the CSV path.
        column: The predicted column ("" for fib).
        features: The input columns.
        scaler: (min, max): the targets are (v - min) / (max - min) (standard scaling: min is the
            mean, max the mean + standard deviation).
        note: What preparing the data did that a user should hear (rows dropped, filled).
    """

    def __init__(self, core: _core.Data):
        self._core = core
        train, test = core.train, core.test
        self.x_train, self.y_train = train["x"], train["y"]
        self.lengths_train, self.index_train = train["lengths"], train["index"]
        self.x_test, self.y_test = test["x"], test["y"]
        self.lengths_test, self.index_test = test["lengths"], test["index"]
        self.source = core.source
        self.column = core.column
        self.features = list(core.features)
        self.scaler = tuple(core.scaler)
        self.note = core.note

    def unscale(self, y) -> np.ndarray:
        """Scaled targets or predictions back in the data's units (float64); not for a
        differenced series, whose predictions are changes."""
        lo, hi = self.scaler
        return np.asarray(y, dtype=np.float64) * (hi - lo) + lo

    def __repr__(self) -> str:
        return (
            f"<rnnattn.data.Dataset {self.source} train={len(self.y_train)} "
            f"test={len(self.y_test)} x={tuple(self.x_train.shape[1:])}>"
        )


def fibonacci(steps: int = 20) -> Dataset:
    """The tutorial's data: 1200 Fibonacci numbers, min-max scaled.

    Args:
        steps: T, the values each window holds; it predicts the next one.

    Returns:
        The windows split 70/30 by NumPy's RandomState(13).permutation, as the tutorial's.
    """
    return Dataset(_core.fibonacci(int(steps)))


def sentiment(
    train: int = 2000,
    test: int = 1000,
    dim: int = 100,
    min_length: int = 50,
    max_length: int = 200,
    seed: int = 7,
) -> Dataset:
    """The generated sentiment task shaped like the IMDB notebook (docs/sentiment.md).

    Args:
        train: Training sequences.
        test: Test sequences.
        dim: The word vectors' width D.
        min_length: The shortest sequence.
        max_length: The longest, and T: shorter ones are padded to it.
        seed: Draws the task.

    Returns:
        Sequences of word vectors with their lengths and a 0/1 label (train with loss="bce").
    """
    return Dataset(
        _core.sentiment(
            int(train), int(test), int(dim), int(min_length), int(max_length), int(seed)
        )
    )


def read_csv(
    path,
    steps: int,
    *,
    columns: Sequence[str] | None = None,
    target: str | None = None,
    train_fraction: float = 0.7,
    scaling: str = "minmax",
    difference: bool = False,
    missing: str = "error",
) -> Dataset:
    """Windows over the columns of a CSV file, as the CLI's ``--data FILE.csv``.

    Args:
        path: The CSV file (RFC 4180, a header row).
        steps: T, the rows each window holds; it predicts the target's next value.
        columns: The input columns (default: the target alone).
        target: The predicted column (default: the only column, or the value column beside a
            YEAR/DATE/TIME index).
        train_fraction: The first part of the rows trained on (a chronological split).
        scaling: "minmax" or "standard", fit on the training part only.
        difference: Model first differences instead of levels.
        missing: Missing values: "error" (the message names the file and lines), "drop" or
            "interpolate".

    Returns:
        The split windows, scaled.

    Raises:
        rnnattn.DataError: a malformed file (naming the file, line and column).
    """
    return Dataset(
        _core.read_csv(
            os.fspath(path),
            int(steps),
            list(columns or []),
            target or "",
            float(train_fraction),
            scaling,
            bool(difference),
            missing,
        )
    )


def pad_sequences(
    sequences,
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0,
    return_lengths: bool = False,
):
    """Sequences of token ids as one array [N, maxlen], as Keras' ``pad_sequences`` makes it.

    The same placement as the CLI's ``--padding`` and ``--truncating`` (and Keras' defaults, pre
    for both, where the CLI's are post): ``padding`` is the end the padding goes to,
    ``truncating`` the end a longer sequence loses.

    Args:
        sequences: A list of sequences (lists or 1-D arrays) of token ids.
        maxlen: T; default the longest sequence's length.
        dtype: The array's type.
        padding: "pre" or "post".
        truncating: "pre" or "post".
        value: The padding's id (0: rnnattn's padding token).
        return_lengths: Also return the steps a model reads of each row [N] int32, what
            ``Model.fit(lengths=)`` takes: the sequence's own length with post padding (the
            recurrence stops there and the padding gets no attention), maxlen with pre padding
            (the padding is read as tokens).

    Returns:
        The array [N, maxlen], and with ``return_lengths`` the lengths too.

    Raises:
        ValueError: ``padding`` or ``truncating`` is neither "pre" nor "post", or maxlen < 1.
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in ("pre", "post"):
            raise ValueError(f"{name}: {side!r} is not 'pre' or 'post'")
    seqs = [np.asarray(s).reshape(-1) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    if maxlen < 1:
        raise ValueError(f"maxlen must be >= 1, got {maxlen}")
    out = np.full((len(seqs), maxlen), value, dtype=dtype)
    lengths = np.empty(len(seqs), dtype=np.int32)
    for i, s in enumerate(seqs):
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "pre":
            out[i, maxlen - len(kept) :] = kept
            lengths[i] = maxlen
        else:
            out[i, : len(kept)] = kept
            lengths[i] = max(1, len(kept))  # an empty sequence reads one step of padding
    return (out, lengths) if return_lengths else out
