"""How often per-epoch state is saved: at most every `save_seconds()` (KERAS_LESSONS_SAVE_SECONDS,
5 s by default) and after the last epoch, every saver at the same epoch.

An epoch of a small table takes milliseconds, and saving it would take longer than training
it. A kill costs the epoch in progress plus at most that many seconds of finished epochs."""

from __future__ import annotations

import math
import os
import time

from steps.errors import UserError
from steps.train.interrupts import uninterrupted

SAVE_SECONDS = "KERAS_LESSONS_SAVE_SECONDS"


def save_seconds() -> float:
    """Seconds between two saves of a fit's progress: KERAS_LESSONS_SAVE_SECONDS, else 5."""
    text = os.environ.get(SAVE_SECONDS, "").strip()
    try:
        seconds = float(text) if text else 5.0
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise UserError(
            f"{SAVE_SECONDS} must be a number of seconds of 0 or more (0: save every epoch), "
            f"got {text!r}"
        )
    return seconds


def saving_every(seconds: float, savers: list):
    """The last callback: every `seconds`, and after the last epoch, each saver's
    `write_out(epoch)` writes what it holds, in order, as one step a Ctrl-C waits for."""
    import keras

    class SaveEvery(keras.callbacks.Callback):
        last = 0.0

        def on_train_begin(self, logs=None):
            self.last = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            final = self.model.stop_training or epoch + 1 >= self.params.get("epochs", 0)
            if final or time.monotonic() - self.last >= seconds:
                with uninterrupted():
                    for saver in savers:
                        saver.write_out(epoch)
                self.last = time.monotonic()

    return SaveEvery()
