"""The fit's callbacks: EarlyStopping, ReduceLROnPlateau and ModelCheckpoint are on by default
and each one switches off with its parameter; progress is saved every few seconds, not every
epoch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from steps.data import prepare
from steps.data.sources import sklearn_sets
from steps.model import build
from steps.train import fit

from helpers.options import fit_options, model_options, prepare_options
from helpers.runs import artifact_paths, finished_run, in_process

# A step size large enough for iris's validation loss to stall within a few epochs.
STALLING = {
    "dataset": "iris",
    "epochs": 40,
    "learning_rate": 0.3,
    "patience": 4,
    "reduce_lr_patience": 1,
    "verbose": 0,
    "folds": 0,  # the plain fit, whose callbacks these are
}


def rates(client, run) -> list[float]:
    return [m.value for m in client.get_metric_history(run.info.run_id, "learning_rate")]


def test_every_callback_is_on_by_default_and_does_its_work(lesson_env, tracking, tmp_path):
    import mlflow

    done = in_process("tabular", STALLING, lesson_env, tmp_path)
    run = finished_run(done, tracking, "tabular")
    tags, metrics = run.data.tags, run.data.metrics
    for active in (
        "EarlyStopping(val_loss, patience 4, best)",
        "ReduceLROnPlateau(val_loss, patience 1, factor 0.5, cooldown 1, floor 0.00469)",
        "ModelCheckpoint(val_loss, best epoch)",
        "TensorBoard",
        "BackupAndRestore(every 5 s and after the last epoch)",
    ):
        assert active in tags["callbacks"]
    # EarlyStopping stopped before the last epoch and kept the best one
    assert metrics["epochs_run"] < STALLING["epochs"]
    assert metrics["best_epoch"] < metrics["epochs_run"]
    # ReduceLROnPlateau halved the rate; the run counts each cut and says after which epochs
    history = rates(tracking, run)
    cuts = [i for i in range(1, len(history)) if history[i] < history[i - 1]]
    assert cuts and metrics["lr_reductions"] == len(cuts)
    assert all(history[i] == pytest.approx(history[i - 1] / 2) for i in cuts)
    assert "learning rate halved after epoch" in done.stdout
    # ModelCheckpoint's best epoch is the one EarlyStopping restored: same predictions
    assert "checkpoints/best.keras" in artifact_paths(tracking, run.info.run_id)
    import keras

    local = tracking.download_artifacts(run.info.run_id, "checkpoints/best.keras", str(tmp_path))
    checkpoint = keras.saving.load_model(local)
    logged = mlflow.pyfunc.load_model(tags["model_uri"])
    rows = np.random.default_rng(0).normal(5, 1, size=(6, 4)).astype("float32")
    expected = np.asarray(logged.predict(rows))
    assert np.allclose(checkpoint.predict(rows, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("off", "callback"),
    [
        ({"patience": 0}, "EarlyStopping"),
        ({"reduce_lr_patience": 0}, "ReduceLROnPlateau"),
        ({"checkpoint": "false"}, "ModelCheckpoint"),
    ],
    ids=["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"],
)
def test_each_callback_switches_off(off, callback, lesson_env, tracking, tmp_path):
    params = STALLING | {"epochs": 12} | off
    done = in_process("tabular", params, lesson_env, tmp_path)
    run = finished_run(done, tracking, "tabular")
    assert callback not in run.data.tags["callbacks"]
    others = {"EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"} - {callback}
    assert all(name in run.data.tags["callbacks"] for name in others)
    metrics, artifacts = run.data.metrics, artifact_paths(tracking, run.info.run_id)
    if callback == "EarlyStopping":
        assert metrics["epochs_run"] == metrics["best_epoch"] == 12  # the last epoch is kept
    elif callback == "ReduceLROnPlateau":
        assert rates(tracking, run) == [pytest.approx(0.3)] * int(metrics["epochs_run"])
        assert metrics["lr_reductions"] == 0
    else:
        assert not [path for path in artifacts if path.startswith("checkpoints/")]


def test_the_learning_rate_stops_at_its_floor_and_waits_between_cuts(
    lesson_env, tracking, tmp_path
):
    """Without EarlyStopping, a stalled fit would halve the rate every epoch towards 0 and
    freeze: the rate stops at 1/64 of its start (six halvings), and after each cut a cooldown
    of `reduce_lr_patience` epochs lets the new rate settle before it is judged."""
    # At this rate val_loss moves less than ReduceLROnPlateau's min_delta: a sure stall.
    params = STALLING | {"patience": 0, "reduce_lr_patience": 2, "epochs": 30}
    params |= {"learning_rate": 1e-7}
    done = in_process("tabular", params, lesson_env, tmp_path)
    run = finished_run(done, tracking, "tabular")
    assert (
        "ReduceLROnPlateau(val_loss, patience 2, factor 0.5, cooldown 2, floor 1.56e-09)"
        in (run.data.tags["callbacks"])
    )
    history = rates(tracking, run)
    assert len(history) == 30
    cuts = [i for i in range(1, len(history)) if history[i] < history[i - 1]]
    assert len(cuts) == run.data.metrics["lr_reductions"] == 6, history
    assert min(history) == pytest.approx(1e-7 / 64) == history[-1]
    # Keras counts the cooldown's last epoch towards patience: each rate trains at least
    # cooldown + patience - 1 = 3 epochs
    assert all(later - earlier >= 3 for earlier, later in itertools.pairwise(cuts))


# ------------------------------------------------------------------ saving every few seconds


def fit_recording_saves(seconds: float, epochs: int = 5, stop_after: int | None = None):
    """The epochs at which `saving_every(seconds)` had its savers write, on a tiny fit."""
    import keras

    from steps.train import save_cadence

    class Recorder:
        epochs: list[int]

        def __init__(self):
            self.epochs = []

        def write_out(self, epoch: int) -> None:
            self.epochs.append(epoch)

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if stop_after is not None and epoch + 1 == stop_after:
                self.model.stop_training = True

    recorder = Recorder()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 2), dtype="float32")
    callbacks = [StopAfter(), save_cadence.saving_every(seconds, [recorder])]
    model.fit(x, x[:, :1], epochs=epochs, verbose=0, callbacks=callbacks)
    return recorder.epochs


def test_saves_wait_for_their_interval_but_never_skip_the_last_epoch():
    assert fit_recording_saves(1e9) == [4]  # only after the last epoch
    assert fit_recording_saves(0) == [0, 1, 2, 3, 4]  # every epoch
    assert fit_recording_saves(1e9, stop_after=2) == [1]  # where EarlyStopping stopped it


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_save_interval_is_refused_in_one_line(value, monkeypatch):
    from steps.errors import UserError
    from steps.train import save_cadence

    monkeypatch.setenv("KERAS_LESSONS_SAVE_SECONDS", value)
    with pytest.raises(UserError) as refused:
        save_cadence.save_seconds()
    assert str(refused.value) == (
        "KERAS_LESSONS_SAVE_SECONDS must be a number of seconds of 0 or more "
        f"(0: save every epoch), got {value!r}"
    )


def test_early_stopping_keeps_the_state_of_two_saves_and_the_weights_they_name(tmp_path):
    """The backup falls back on its previous save: EarlyStopping keeps that one's state too;
    state saved by a fit killed before its backup (epoch 9 here) is not the future any more."""
    import json

    from steps.train.resume import forget_all_but

    folder = tmp_path / "backup"
    folder.mkdir()
    for epoch, best in ((3, 2), (5, 4), (7, 4), (9, 8)):
        (folder / f"early_stopping-{epoch}.json").write_text(json.dumps({"epoch": best}))
        (folder / f"best_weights-{best}.npz").write_bytes(b"w")
    forget_all_but(folder, 7)
    assert sorted(p.name for p in folder.iterdir()) == [
        "best_weights-4.npz",
        "early_stopping-5.json",
        "early_stopping-7.json",
    ]


class Stopped(Exception):
    """A fit cut short as a kill would cut it: at an epoch's start, its previous epoch saved."""


def fit_iris(backup, stop_at: int | None = None) -> dict[str, list[float]]:
    return fit_iris_model(backup, stop_at)[0].history


def fit_iris_model(backup, stop_at: int | None = None, no_epoch: bool = False):
    """(the fit's result, its model): iris on a rate high enough to stall, ReduceLROnPlateau
    waits, cuts and cools down. Stopped before epoch `stop_at`, or before any with `no_epoch`."""
    import keras

    class StopAt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == stop_at or no_epoch:
                raise Stopped

    prepared = prepare.prepare(sklearn_sets.source("iris").load(), prepare_options(seed=3))
    config = fit_options(
        epochs=9, learning_rate=0.3, patience=0, reduce_lr_patience=2, checkpoint=False, verbose=0
    )
    fit.seed_everything(config.seed, True)
    model = build.build("dnn", prepared, model_options(units=8, layers=1))
    result = fit.fit(
        model,
        build.head_for(prepared),
        prepared.data,
        config,
        extra_callbacks=[StopAt()],
        backup=backup,
    )
    return result, model


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, list[float]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_LESSONS_SAVE_SECONDS", "0")
        return fit_iris(tmp_path_factory.mktemp("whole"))


# Iris's validation loss is lowest after epoch 4, then the rate waits 2 epochs, is halved
# after epoch 6 and cools down for 2: stopped after a best epoch, while waiting, cooling down.
@pytest.mark.parametrize("stopped_at", [4, 5, 7])
def test_a_fit_resumed_after_any_epoch_ends_as_the_uninterrupted_one(
    stopped_at, uninterrupted, tmp_path, monkeypatch
):
    """The learning rate's schedule too: ReduceLROnPlateau's patience used, cooldown and best
    value carry over, so a resumed fit cuts the rate where the uninterrupted one did."""
    monkeypatch.setenv("KERAS_LESSONS_SAVE_SECONDS", "0")  # a backup after every epoch
    rates = uninterrupted["learning_rate"]
    assert [i + 1 for i, (a, b) in enumerate(itertools.pairwise(rates)) if b < a] == [6]
    with pytest.raises(Stopped):
        fit_iris(tmp_path, stop_at=stopped_at)
    resumed = fit_iris(tmp_path)
    for name, values in resumed.items():
        assert values == pytest.approx(uninterrupted[name][stopped_at:], rel=1e-6), name


@pytest.mark.parametrize("killed_after", [4, 5])
def test_a_kill_while_the_backup_is_written_resumes_from_the_last_whole_one(
    killed_after, uninterrupted, tmp_path, monkeypatch
):
    """A SIGKILL that lands once the new weights are on disk but before the save is complete:
    the resumed fit starts from the save before, weights and epoch alike, and ends as the
    uninterrupted one."""
    import keras

    monkeypatch.setenv("KERAS_LESSONS_SAVE_SECONDS", "0")
    save_weights, saves = keras.Model.save_weights, []

    def killed_after_writing(model, *args, **kwargs):
        save_weights(model, *args, **kwargs)
        saves.append(args)
        if len(saves) == killed_after:
            raise Stopped

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save_weights", killed_after_writing)
        with pytest.raises(Stopped):
            fit_iris(tmp_path)
    resumed = fit_iris(tmp_path)
    for name, values in resumed.items():
        assert values == pytest.approx(uninterrupted[name][killed_after - 1 :], rel=1e-6), name


def test_a_fit_killed_after_it_ended_comes_back_whole_without_training(tmp_path, monkeypatch):
    """Killed once its fit had ended (while the run scored the test rows or logged the
    model): the resumed fit trains no epoch and gives back the ended fit's result and model."""
    monkeypatch.setenv("KERAS_LESSONS_SAVE_SECONDS", "0")
    ended, model = fit_iris_model(tmp_path)
    resumed, again = fit_iris_model(tmp_path, no_epoch=True)
    assert resumed == ended
    assert ended.epochs_run == 9 and len(ended.history["loss"]) == 9
    for kept, loaded in zip(model.get_weights(), again.get_weights(), strict=True):
        assert np.array_equal(kept, loaded)
