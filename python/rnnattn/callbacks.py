"""Keras' callbacks that rnnattn's trainer runs itself: ``EarlyStopping``.

The trainer is C++ and runs whole epochs without the interpreter, so a callback here is a
description of what to do, not Python code called each epoch; ``Model.fit(callbacks=[...])``
refuses any other kind by name.
"""

from __future__ import annotations

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stops training when a monitored loss has stopped improving, as Keras' EarlyStopping.

    ``model.fit(x, y, epochs=100, validation_split=0.1, callbacks=[EarlyStopping(patience=5,
    restore_best_weights=True)])`` behaves as the same call in Keras: the arguments, their
    defaults and their meaning are Keras'.

    Args:
        monitor: "val_loss" (Keras' default; fit needs validation_split or validation_data, and
            refuses to run without it rather than never stopping, as Keras would) or "loss".
        min_delta: An epoch improves on the best only when the monitored loss drops by more than
            this.
        patience: Epochs without improvement after which training stops. 0 and 1 both stop at the
            first epoch that does not improve, as in Keras.
        verbose: 1 prints "Epoch N: early stopping" (and the restored epoch) after fit, as Keras.
        mode: "auto" or "min": both losses are minimised ("max" is refused).
        baseline: None only (rnnattn has no baseline threshold).
        restore_best_weights: When training stops early, the model gets back the weights (and
            Adam's state) of its best epoch. As in Keras, a run that reaches ``epochs`` without
            stopping keeps its last epoch's weights. (fit's ``early_stopping=N`` restores the
            best epoch in both cases.)
        start_from_epoch: 0 only.

    Attributes:
        stopped_epoch: After fit, the 0-based epoch training stopped at (0: it did not stop).
        best_epoch: After fit, the 0-based epoch whose monitored loss was the best.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline=None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        if monitor not in ("val_loss", "loss"):
            raise ValueError(
                f"monitor: 'val_loss' or 'loss' (the values rnnattn's trainer watches), "
                f"not {monitor!r}"
            )
        if mode not in ("auto", "min"):
            raise ValueError(f"mode: 'auto' or 'min' (losses are minimised), not {mode!r}")
        if baseline is not None:
            raise ValueError("baseline: rnnattn's early stopping has no baseline (None only)")
        if start_from_epoch != 0:
            raise ValueError("start_from_epoch: 0 only")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience: an integer >= 0, not {patience!r}")
        min_delta = abs(float(min_delta))  # Keras takes its magnitude too
        if min_delta != min_delta or min_delta == float("inf"):
            raise ValueError("min_delta: must be finite")
        self.monitor = monitor
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = int(verbose)
        self.mode = mode
        self.baseline = None
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = 0
        self.stopped_epoch = 0
        self.best_epoch = 0

    def _trainer_options(self) -> dict:
        """The trainer's early-stopping options for this callback."""
        return {
            "early_stopping": max(1, self.patience),
            "monitor": self.monitor,
            "min_delta": self.min_delta,
            "restore": "on_stop" if self.restore_best_weights else "never",
        }

    def _after_fit(self, d: dict) -> None:
        """Records (and with verbose, prints) what the fit that ran this callback did."""
        last = d["initial_epoch"] + len(d["loss"]) - 1  # 0-based, as Keras counts epochs
        self.stopped_epoch = last if d["stopped_early"] else 0
        self.best_epoch = d["monitored_best_epoch"] - 1
        if self.verbose > 0 and d["stopped_early"]:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
            if self.restore_best_weights:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, min_delta={self.min_delta}, "
            f"patience={self.patience}, restore_best_weights={self.restore_best_weights})"
        )
