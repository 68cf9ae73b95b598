"""The CLI's data sets as NumPy arrays: the tutorial's Fibonacci windows, the generated sentiment
task, and windows over the columns of a CSV file (the same code as ``rnnattn train --data``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import _core


class Dataset:
    """A train/test split: x_train [N, T, D] float32 (token ids [N, T] int32 for text),
    y_train [N, O], lengths_train [N] int32 or None, and the same for test; index_* are the
    windows' start rows (or the sequences' numbers). ``scaler`` = (min, max): the targets are
    (v - min) / (max - min) (standard scaling: min = mean, max = mean + std); ``unscale`` maps
    predictions back (not for a differenced series, whose predictions are changes)."""

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
        lo, hi = self.scaler
        return np.asarray(y, dtype=np.float64) * (hi - lo) + lo

    def __repr__(self) -> str:
        return (
            f"<rnnattn.data.Dataset {self.source} train={len(self.y_train)} "
            f"test={len(self.y_test)} x={tuple(self.x_train.shape[1:])}>"
        )


def fibonacci(steps: int = 20) -> Dataset:
    """The tutorial's data: 1200 Fibonacci numbers min-max scaled, windows of ``steps`` values
    predicting the next, split 70/30 by NumPy's RandomState(13).permutation."""
    return Dataset(_core.fibonacci(int(steps)))


def sentiment(
    train: int = 2000,
    test: int = 1000,
    dim: int = 100,
    min_length: int = 50,
    max_length: int = 200,
    seed: int = 7,
) -> Dataset:
    """The generated sentiment task shaped like the IMDB notebook (docs/sentiment.md):
    sequences of ``min_length``..``max_length`` word vectors of width ``dim``, padded to
    max_length, with their lengths and a 0/1 label (train with loss="bce")."""
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
    """Windows of ``steps`` rows over the columns of a CSV file (the CLI's --data FILE.csv):
    input ``columns`` (default: the target alone), the ``target`` column (default: the only
    column, or the value column beside a YEAR/DATE/TIME index), a chronological split, scalings
    fit on the training part only ("minmax" or "standard"), optional first differences, and
    missing values "error" (the default: the message names the file and lines), "drop" or
    "interpolate". Malformed files raise rnnattn.DataError naming the file, line and column."""
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
