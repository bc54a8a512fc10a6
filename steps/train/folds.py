"""K-fold fit step: on a small training set every row trains, and every row validates once.

A plain fit keeps a validation share for EarlyStopping: on a small table that is 70 to 90
rows, its choice of epoch is noisy, and those rows never train the model. Here the
training rows (the split's training and validation rows together) are cut into `folds`
folds, stratified by class; each fold's model trains on the other folds and is
early-stopped on its own. Then, by `fold_mode`:

- ensemble: the fold models averaged inside one Keras model (an Average layer over them),
  the one model that is evaluated, logged and served (AutoGluon's bagged models are made
  so, and pytabkit's RealMLP with `n_cv=5`);
- refit: a fresh model trained on every row for the fold models' mean kept epoch, without
  EarlyStopping or ReduceLROnPlateau (no rows are left to watch), as Chollet's
  "Deep Learning with Python" fits its small housing table.

Each fold's kept epoch and scores on its held-out rows (`best_metrics`) are the run's
cross-validation. A fold whose fit finished is kept beside the run's backups, so a resumed
run trains only the folds it had not finished.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from steps.data.prepare import Split
from steps.errors import UserError
from steps.model.build import Head
from steps.train import fit
from steps.train.evaluate import class_indices
from steps.train.options import FitOptions

# Training rows up to which a k-fold fit is made: from there on a validation share of 20%
# holds over 2,000 rows, enough for EarlyStopping to choose steadily, and k + 1 fits of a
# large set cost more than the rows it adds would bring.
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Fold:
    number: int  # from 1
    train_rows: int
    held_rows: int
    result: fit.FitResult  # its best_metrics: the held-out fold's scores (val_*) and more


@dataclass(frozen=True)
class FoldsResult:
    folds: tuple[Fold, ...]
    mode: str  # one of FOLD_MODES
    refit: fit.FitResult | None  # the fit on every row (refit mode)

    @property
    def epochs_trained(self) -> int:
        members = sum(fold.result.epochs_run for fold in self.folds)
        return members + (self.refit.epochs_run if self.refit else 0)

    @property
    def seconds(self) -> float:
        members = sum(fold.result.seconds for fold in self.folds)
        return members + (self.refit.seconds if self.refit else 0.0)

    @property
    def kept_epochs(self) -> list[int]:
        return [fold.result.best_epoch for fold in self.folds]

    @property
    def mean_kept_epoch(self) -> int:
        """The refit's epochs: the folds' kept epochs, averaged."""
        return max(1, round(statistics.fmean(self.kept_epochs)))

    def text(self) -> str:
        """What the k-fold fit did, for the run's last printed line."""
        kept = ", ".join(map(str, self.kept_epochs))
        what = f"{len(self.folds)}-fold {self.mode}, folds kept epochs {kept}"
        if self.refit is not None:
            what += f", refit on every row for {fit.n_epochs(self.refit.epochs_run)}"
        return f"{what} ({fit.n_epochs(self.epochs_trained)} in all)"

    @property
    def diverged(self) -> fit.FitResult | None:
        """The first fit whose loss became NaN or infinite, if one did."""
        fits = [*(fold.result for fold in self.folds), *([self.refit] if self.refit else [])]
        return next((result for result in fits if result.diverged is not None), None)

    def as_fit(self) -> fit.FitResult:
        """The whole k-fold fit as one fit's result: every epoch trained, the refit's epochs
        or the folds' mean kept epoch, the cross-validation scores as its best metrics."""
        return fit.FitResult(
            history=self.refit.history if self.refit else {},
            epochs_run=self.epochs_trained,
            best_epoch=self.refit.epochs_run if self.refit else self.mean_kept_epoch,
            seconds=self.seconds,
            best_metrics=self.cross_validation(),
            kept_by=self.text(),
            callbacks=self.folds[0].result.callbacks,
        )

    def every_epoch(self) -> dict[str, list[float]]:
        """Each quantity over every epoch trained: the folds' one after another, the refit's
        last."""
        fits = [*(fold.result for fold in self.folds), *([self.refit] if self.refit else [])]
        names = dict.fromkeys(name for result in fits for name in result.history)
        return {
            name: [v for result in fits for v in result.history.get(name, [])] for name in names
        }

    def cross_validation(self) -> dict[str, float]:
        """Each held-out score (`val_loss`, `val_accuracy`...), averaged over the folds."""
        names = [n for n in self.folds[0].result.best_metrics if n.startswith("val_")]
        return {
            name: statistics.fmean(
                fold.result.best_metrics.get(name, math.nan) for fold in self.folds
            )
            for name in names
        }


def trial_value(result: FoldsResult, metric: str, direction: str) -> float:
    """A search trial's score of a k-fold fit: the cross-validation of `metric` (a `val_`
    name), else its best over every epoch; NaN where a fit diverged."""
    from steps.train.search import best_of

    if result.diverged is not None:
        return math.nan
    return result.cross_validation().get(
        metric, best_of(result.every_epoch().get(metric, []), direction)
    )


def applies(config: FitOptions, data: Split, devices: int = 1) -> bool:
    """A k-fold fit is asked for, the training rows are few enough (MAX_ROWS) and the run
    trains on one device."""
    return config.folds > 1 and not one_fit_reason(config, data, devices)


def one_fit_reason(config: FitOptions, data: Split, devices: int = 1) -> str:
    """Why a k-fold fit asked for is not made: too many training rows, or several devices
    (data parallelism is for data too large to fit k times); '' otherwise."""
    count = fit.rows(data.x_train) + fit.rows(data.x_val)
    if config.folds <= 1:
        return ""
    if count > MAX_ROWS:
        return f"one fit: {count:,} training rows, over the {MAX_ROWS:,} of a k-fold fit"
    if devices > 1:
        return f"one fit: data-parallel over {devices} devices"
    return ""


def every_training_row(data: Split) -> Split:
    """The training and validation rows as one training set; no validation rows."""
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    return Split(x, y, x[:0], y[:0], data.x_test, data.y_test)


def fold_indices(y: np.ndarray, k: int, seed: int, classes: bool) -> list[tuple]:
    """(training rows, held-out rows) of each fold: stratified for classes where every
    class has at least k rows, shuffled with `seed`."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if len(y) < k:
        raise UserError(f"{len(y)} training rows cannot make {k} folds; give -P folds=0 or fewer")
    seed %= 2**32
    labels = class_indices(y)
    if classes and np.bincount(labels).min(initial=k) >= k:
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(y, labels))
    return list(KFold(k, shuffle=True, random_state=seed).split(y))


def member_seed(seed: int, number: int) -> int:
    return (seed + number) % 2**32


def fit_folds(
    build_member: Callable[[str], object],
    head: Head,
    data: Split,
    config: FitOptions,
    *,
    log_dir: Path | None = None,
    backup: Path | None = None,
    callbacks: Callable[[str], list] = lambda name: [],
    name: str = "ensemble",
) -> tuple[object, FoldsResult]:
    """The k-fold fit of `data`'s training and validation rows (see the module's docstring):
    the model it makes, one Keras model, and how each fold went.

    `build_member(name)` builds a fresh model named so (seeded here before each call);
    `callbacks(name)` the extra callbacks of the fit `name` (`fold1`... and `refit`); `log_dir` and
    `backup` get a sub-folder per fit; the model made is called `name`. Fold i trains with
    seed + i, the refit with the seed."""
    every = every_training_row(data)
    classes = head.activation in ("softmax", "sigmoid")
    folds, members = [], []
    for number, (train, held) in enumerate(
        fold_indices(every.y_train, config.folds, config.seed, classes), start=1
    ):
        part_name = f"fold{number}"
        seed = member_seed(config.seed, number)
        fit.seed_everything(seed, config.deterministic)
        member = build_member(part_name)
        x, y = every.x_train, every.y_train
        part = Split(x[train], y[train], x[held], y[held], data.x_test, data.y_test)
        result = fit.fit(  # a fold an earlier run finished comes back from its backup
            member,
            head,
            part,
            replace(config, seed=seed),
            log_dir=log_dir / part_name if log_dir else None,
            extra_callbacks=callbacks(part_name),
            backup=backup / part_name if backup else None,
        )
        folds.append(Fold(number, len(train), len(held), result))
        members.append(member)
        if result.diverged is not None:  # a fold that blew up: the others would tell no more
            return member, FoldsResult(tuple(folds), config.fold_mode, None)
    if config.fold_mode == "ensemble":
        model = averaged(members, name)
        fit.compile_model(model, head, config)
        # Its optimizer's state as a trained model's, so reloading the saved model is quiet.
        model.optimizer.build(model.trainable_variables)
        return model, FoldsResult(tuple(folds), config.fold_mode, None)
    done = FoldsResult(tuple(folds), config.fold_mode, None)
    fit.seed_everything(config.seed, config.deterministic)
    model = build_member(name)
    # Every row trains: none is left to stop early or cut the learning rate on.
    refit_config = replace(config, epochs=done.mean_kept_epoch, patience=0, reduce_lr_patience=0)
    result = fit.fit(
        model,
        head,
        every,
        refit_config,
        log_dir=log_dir / "refit" if log_dir else None,
        extra_callbacks=callbacks("refit"),
        backup=backup / "refit" if backup else None,
    )
    return model, replace(done, refit=result)


def averaged(members: list, name: str):
    """One Keras model: the sample into every member, their outputs averaged."""
    import keras

    inputs = keras.Input(tuple(members[0].inputs[0].shape[1:]), name="sample")
    outputs = keras.layers.Average(name="fold_average")([member(inputs) for member in members])
    return keras.Model(inputs, outputs, name=name)
