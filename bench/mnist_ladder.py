"""The keras-io `mnist_convnet` model trained through the pipeline's fit step with its
guarantees added one at a time: what each costs on top of the ones before. `bench/run.py`'s
`guarantees` section runs every rung in its own process (op determinism cannot be turned off
once on), interleaved. Prints one JSON line: fit seconds (wall and CPU: on a shared machine
the CPU seconds are the steadier measure) and the rows trained and validated.

    python bench/mnist_ladder.py FILE.npz EPOCHS BATCH_SIZE SEED RUNG WORK_FOLDER

RUNG is a number: 0 the rows through the pipeline's input path and nothing else, then each
of `RUNGS` in turn (with all of them, the seconds spent inside each callback are printed too);
`arrays`: rung 0 with NumPy arrays into `fit` instead; `fit` is the fit step itself with every
guarantee (`fit-nondeterministic`: the same with `deterministic` off).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RUNGS = (
    "op determinism",
    "per-epoch reseeding",
    "learning rate in logs, TerminateOnNaN",
    "ReduceLROnPlateau",
    "best-epoch checkpoint",
    "TensorBoard",
    "per-epoch backup",
    "resumable EarlyStopping",
    "MLflow epoch logger",
)


def main() -> None:
    path, epochs, batch_size, seed = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    rung, work = sys.argv[5], Path(sys.argv[6])
    deterministic = rung == "fit" or (rung.isdigit() and int(rung) >= 1)
    inside: dict[str, float] = {}
    import keras

    from steps.model.build import Head
    from steps.train import fit
    from steps.train.options import AUTO, FitOptions

    config = FitOptions(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=0.001,
        optimizer="adam",
        metrics=(AUTO,),
        patience=3,
        reduce_lr_patience=2,
        checkpoint=True,
        verbose=0,
        seed=seed,
        jit_compile="auto",
        folds=0,
        fold_mode="ensemble",
        deterministic=deterministic,
    )
    fit.seed_everything(seed, deterministic=deterministic)
    if not deterministic:
        keras.utils.set_random_seed(seed)
    data = split(path)
    model = mnist_convnet(keras)
    head = Head(10, "softmax", "categorical_crossentropy", ("accuracy",))
    folders = {name: work / name for name in ("tensorboard", "backup", "checkpoint")}
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    with mlflow.start_run():
        if rung.startswith("fit"):
            from steps.track.tracker import epoch_logger

            cpu_started = time.process_time()
            result = fit.fit(
                model,
                head,
                data,
                config,
                log_dir=folders["tensorboard"],
                checkpoint=folders["checkpoint"] / "best.keras",
                extra_callbacks=[epoch_logger()],
                backup=folders["backup"],
            )
            seconds, cpu = result.seconds, time.process_time() - cpu_started
        else:
            seconds, cpu = ladder_fit(model, head, data, config, rung, folders, inside)
    rows = {"train_rows": len(data.x_train), "val_rows": len(data.x_val)}
    print(json.dumps({"fit_seconds": seconds, "fit_cpu_seconds": cpu, **rows, "inside": inside}))


def split(path: str):
    """The bare script's rows: pixels / 255, one-hot labels, the last tenth for validation
    (where `validation_split=0.1` cuts it)."""
    import keras

    from steps.data.prepare import Split

    with np.load(path) as archive:
        x, y = archive["x_train"], archive["y_train"]
    x = np.expand_dims(x.astype("float32") / 255, -1)
    y = keras.utils.to_categorical(y, 10)
    cut = int(len(x) * 0.9)
    empty = x[:0], y[:0]
    return Split(x[:cut], y[:cut], x[cut:], y[cut:], *empty)


def mnist_convnet(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


HOOKS = tuple(
    f"on_{when}_{edge}"
    for when in ("train", "epoch", "test", "train_batch", "test_batch", "batch")
    for edge in ("begin", "end")
)


def timed(callback, inside: dict[str, float]):
    """`callback` with each hook it overrides timed into inside[its class name]."""
    import keras

    name = type(callback).__name__
    inside.setdefault(name, 0.0)
    for hook in HOOKS:
        if getattr(type(callback), hook) is getattr(keras.callbacks.Callback, hook):
            continue
        method = getattr(callback, hook)

        def wrapper(*args, _method=method, **kwargs):
            started = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                inside[name] += time.perf_counter() - started

        setattr(callback, hook, wrapper)
    return callback


def ladder_fit(model, head, data, config, rung: str, folders, inside) -> tuple[float, float]:
    """`fit.fit`'s callbacks, those of the first `rung` guarantees."""
    import keras

    from steps.track import tensorboard
    from steps.track.tracker import epoch_logger
    from steps.train import reseed, resume, save_cadence
    from steps.train.feed import feed

    fit_compile(model, head, config)
    on = lambda name: rung.isdigit() and RUNGS.index(name) < int(rung)  # noqa: E731
    callbacks: list = []
    if on("per-epoch reseeding"):
        callbacks.append(reseed.epoch_seeds(config.seed))
    if on("learning rate in logs, TerminateOnNaN"):
        from steps.train.fit import learning_rate_in_logs

        callbacks += [learning_rate_in_logs(), keras.callbacks.TerminateOnNaN()]
    if on("resumable EarlyStopping"):
        stopping = {"monitor": "val_loss", "patience": config.patience}
        callbacks.append(
            resume.resumable_early_stopping(
                folders["backup"], restore_best_weights=True, **stopping
            )
        )
    if on("ReduceLROnPlateau"):
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2, factor=0.5)
        )
    if on("best-epoch checkpoint"):
        callbacks.append(resume.best_checkpoint(folders["checkpoint"] / "best.keras", "val_loss"))
    if on("TensorBoard"):
        callbacks.append(tensorboard.tensorboard_callback(folders["tensorboard"]))
    if on("MLflow epoch logger"):
        callbacks.append(epoch_logger())
    if on("per-epoch backup"):
        callbacks.append(resume.backup_and_restore(folders["backup"]))
    savers = [callback for callback in callbacks if hasattr(callback, "write_out")]
    if savers:
        callbacks.append(save_cadence.saving_every(save_cadence.save_seconds(), savers))
    if rung == str(len(RUNGS)):
        callbacks = [timed(callback, inside) for callback in callbacks]
    rows_in = feed(data, config.batch_size, config.seed, config.epochs, 0.0)
    if rung == "arrays":
        arguments = {"x": data.x_train, "y": data.y_train, "batch_size": config.batch_size}
        arguments["validation_data"] = (data.x_val, data.y_val)
    else:
        arguments = rows_in.fit_arguments()
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(
        **arguments,
        epochs=config.epochs,
        verbose=0,
        callbacks=callbacks if rung == "arrays" else [*rows_in.callbacks, *callbacks],
    )
    return time.perf_counter() - started, time.process_time() - cpu_started


def fit_compile(model, head, config) -> None:
    from steps.train.fit import compile_model

    compile_model(model, head, config)


if __name__ == "__main__":
    main()
