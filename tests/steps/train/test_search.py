"""The search step alone: spaces, seeded sampler, study storage, pruning, memory per trial."""

from __future__ import annotations

import math
import re

import mlflow
import numpy as np
import optuna
import pytest

from steps.data.prepare import Split
from steps.errors import UserError
from steps.model import families, space
from steps.model.build import Head
from steps.secrets import redacted
from steps.track.tracker import Tracker
from steps.train import search
from tools import traces

from helpers.options import fit_options
from helpers.runs import assert_fit_logged


def test_space_overrides_narrow_fix_or_list_choices():
    searched = search.parse_space(
        "dnn", "units=16:32, dropout=0:0.1,optimizer=adam|sgd,batch_size=8"
    )
    assert searched["units"] == space.IntRange(16, 32, log=True)  # keeps the default's log scale
    assert searched["dropout"] == space.FloatRange(0.0, 0.1)
    assert searched["optimizer"] == space.Choice(("adam", "sgd"))
    assert searched["batch_size"] == space.Choice((8,))
    assert searched["layers"] == families.get("dnn").space["layers"]  # untouched entries stay


@pytest.mark.parametrize(
    ("family", "text", "message"),
    [
        ("lstm", "activation=relu", "'activation' is not searched for model lstm; choose from"),
        ("dnn", "units=64:16", "bad space value '64:16' for units: use low:high"),
        ("dnn", "units=a:b", "bad space value 'a:b' for units"),
        ("dnn", "learning_rate=0:0.1", "bad space value '0:0.1' for learning_rate"),
        ("dnn", "units", "bad space entry 'units': use name=low:high"),
    ],
)
def test_bad_space_says_what_to_write(family, text, message):
    with pytest.raises(UserError, match="^" + re.escape(message)):
        search.parse_space(family, text)


def first_params(tmp_path, seed: int, name: str) -> dict:
    study = search.open_study(
        f"sqlite:///{tmp_path / 'optuna.db'}",
        name,
        "val_accuracy",
        "maximize",
        resume=False,
        pruner="median",
        sampler_seed=seed,
    )
    return space.suggest(study.ask(), families.get("dnn").space)


def test_same_seed_gives_the_same_first_trial(tmp_path):
    assert first_params(tmp_path, 7, "a") == first_params(tmp_path, 7, "b")
    assert first_params(tmp_path, 7, "c") != first_params(tmp_path, 8, "d")


def test_existing_study_needs_resume_and_the_same_direction(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    opened = search.open_study(
        storage, "s", "val_loss", "minimize", resume=False, pruner="none", sampler_seed=1
    )
    opened.enqueue_trial({"x": 1})
    with pytest.raises(
        UserError, match=r"^study 's' already exists in sqlite:///.* with 1 trials; "
    ):
        search.open_study(
            storage, "s", "val_loss", "minimize", resume=False, pruner="none", sampler_seed=1
        )
    again = search.open_study(
        storage, "s", "val_loss", "minimize", resume=True, pruner="none", sampler_seed=1
    )
    assert len(again.trials) == 1
    with pytest.raises(UserError, match="was created to minimize, not maximize"):
        search.open_study(
            storage, "s", "val_loss", "maximize", resume=True, pruner="none", sampler_seed=1
        )
    assert again.metric_names == ["val_loss"]  # what Optuna's dashboard and plots show
    with pytest.raises(UserError, match=r"^study 's' optimizes val_loss, not loss; use -P metric="):
        search.open_study(
            storage, "s", "loss", "minimize", resume=True, pruner="none", sampler_seed=1
        )


def test_plots_are_labelled_by_the_studys_metric(tmp_path):
    study = search.open_study(
        f"sqlite:///{tmp_path / 'optuna.db'}",
        "labelled",
        "val_accuracy",
        "maximize",
        resume=False,
        pruner="none",
        sampler_seed=1,
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1), n_trials=4)
    assert search.history_figure(study).axes[0].get_ylabel() == "val_accuracy"
    importance = search.importance_figure(study)
    assert importance.axes[0].get_title(loc="left") == "Hyperparameter importances for val_accuracy"


def test_storage_paths_are_made_absolute_and_passwords_hidden(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert search.storage_url("sqlite:///optuna.db") == f"sqlite:///{tmp_path}/optuna.db"
    assert search.storage_url("sqlite:////abs/o.db") == "sqlite:////abs/o.db"
    monkeypatch.setenv("OPTUNA_STORAGE", "postgresql://lessons@db:5432/optuna")
    assert search.storage_url("") == "postgresql://lessons@db:5432/optuna"
    monkeypatch.delenv("OPTUNA_STORAGE")
    assert search.storage_url("") == f"sqlite:///{tmp_path}/optuna.db"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://lessons:secret@db:5432/optuna", "postgresql://lessons:***@db:5432/optuna"),
        ("postgresql+psycopg://u:p@ss@h/d", "postgresql+psycopg://u:***@h/d"),
        ("cannot open mysql://u:x@h/d: refused", "cannot open mysql://u:***@h/d: refused"),
        ("sqlite:////abs/o.db", "sqlite:////abs/o.db"),
        ("postgresql://lessons@db/optuna", "postgresql://lessons@db/optuna"),
    ],
)
def test_passwords_in_urls_are_hidden_wherever_they_stand(text, shown):
    assert redacted(text) == shown


def tiny_data(rows: int = 64) -> Split:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    return Split(x, y, x[:16], y[:16], x[:16], y[:16])


HEAD = Head(2, "softmax", "categorical_crossentropy", ("accuracy",))


def tiny_model(units: int = 8):
    import keras

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(units, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))


def test_metric_names_come_from_the_compiled_model_before_training():
    model = tiny_model()
    names = search.reported_metrics(model, HEAD, tiny_data(), fit_options())
    assert sorted(names) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert not model.optimizer.iterations.numpy()  # nothing was trained
    with pytest.raises(UserError) as error:
        search.check_metric("val_acc", names)
    assert str(error.value) == (
        "unknown metric 'val_acc': this model reports accuracy, loss, val_accuracy, val_loss; "
        "pick one with -P metric="
    )


def test_a_trial_says_in_one_line_what_it_tried_and_how_it_went():
    chosen = {"units": 64, "dropout": 0.123456789, "learning_rate": 0.000123456, "optimizer": "sgd"}
    shown = "trial 4 (units=64, dropout=0.1235, learning_rate=0.0001235, optimizer=sgd)"
    complete = search.TrialOutcome(0.97654321, "COMPLETE", 12, 3.0, 900.0)
    assert search.trial_line(4, chosen, "val_accuracy", complete) == (
        f"{shown}: val_accuracy=0.9765 after 12 epochs"
    )
    failed = search.TrialOutcome(math.nan, "FAIL", 3, 1.0, 900.0)
    assert search.trial_line(4, chosen, "val_loss", failed) == (
        f"{shown}: failed, val_loss was never a number"
    )


def test_pruning_stops_fit_without_raising_inside_it():
    from steps.train import fit

    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    trial = study.ask()
    callback = search.pruning_callback(trial, "val_loss")  # any loss is above 0: prune
    result = fit.fit(
        tiny_model(),
        HEAD,
        tiny_data(),
        fit_options(epochs=5, verbose=0),
        extra_callbacks=[callback],
    )
    assert callback.pruned_at == 0
    assert result.epochs_run == 1  # stopped after the epoch that reported


@pytest.fixture
def parent(tmp_path):
    """A real MLflow run in a temporary sqlite store, as the CLI's tracked_run opens it."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.MlflowClient().create_experiment("search-steps")
    with mlflow.start_run(experiment_id=experiment) as run:  # no process-wide experiment set
        yield Tracker(run.info.run_id, run.info.experiment_id, tmp_path / "tb")
    mlflow.set_tracking_uri(None)


def search_tiny(tracker: Tracker, study, n_trials: int, units_space, epochs: int = 3) -> None:
    """Trials trained and logged as the tune pipeline's are (`workflow.fit_and_log`)."""
    from steps import workflow

    data = tiny_data(256)

    def objective(trial):
        chosen = space.suggest(trial, {"units": units_space})

        def train(child, callbacks):
            model = tiny_model(chosen["units"])
            config = fit_options(epochs=epochs, verbose=0, patience=epochs)
            return workflow.fit_and_log(
                child, model, HEAD, data, config, callbacks=callbacks, refuse_divergence=False
            ).history

        return search.run_trial(
            trial, tracker, chosen, train, metric="val_accuracy", direction="maximize"
        )

    study.optimize(objective, n_trials=n_trials)


@pytest.mark.slow
def test_pruned_trials_are_full_finished_child_runs_saying_when(parent, tmp_path, capsys):
    # No accuracy reaches 1.01: each trial is pruned as soon as its warm-up epoch is over,
    # after epoch 2 of 3.
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        direction="maximize",
        pruner=optuna.pruners.ThresholdPruner(lower=1.01, n_warmup_steps=1),
    )
    search_tiny(parent, study, 2, space.IntRange(4, 8), epochs=3)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    assert capsys.readouterr().out.splitlines() == [
        f"trial {t.number} (units={t.params['units']}): pruned at epoch 2" for t in study.trials
    ]
    client = mlflow.MlflowClient()
    children = client.search_runs(
        [parent.experiment_id], f"tags.mlflow.parentRunId = '{parent.run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == ["trial 0 (pruned)", "trial 1 (pruned)"]
    for child in children:
        # Ended as any run that ran to its end; its tag, metric and description say pruned.
        assert child.info.status == "FINISHED"
        assert child.data.tags["state"] == "PRUNED"
        assert child.data.metrics["pruned_at_epoch"] == 2
        note = child.data.tags["mlflow.note.content"]
        assert note.startswith("pruned at epoch 2; best val_accuracy "), note
        assert "value" in child.data.metrics and "rss_mb" in child.data.metrics
        # A full run up to the epoch it was pruned at: the two epochs' metrics (learning rate
        # too), the history plot, TensorBoard traces with one point per epoch.
        assert child.data.metrics["epochs_run"] == 2
        assert_fit_logged(client, child, tmp_path / child.info.run_id)
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert [m.step for m in history] == [1, 2]
        assert child.data.metrics["value"] == max(m.value for m in history)
        assert trace_steps(tmp_path / child.info.run_id / "train", "epoch_loss") == [0, 1]
    ids = {t.user_attrs["mlflow_run_id"] for t in study.trials}
    assert ids == {c.info.run_id for c in children}
    # `make tensorboard` lists each trial's traces under its parent's name.
    assert traces.trace_tree(tmp_path / "traces") == 2
    parent_name = client.get_run(parent.run_id).info.run_name
    for child in children:
        folder = tmp_path / "traces" / "search-steps" / parent_name / child.info.run_name
        assert sorted(p.name for p in folder.iterdir()) == ["train", "validation"]


def trace_steps(folder, tag: str) -> list[int]:
    """The steps of one TensorBoard series (a scalar, or Keras's tensor summaries on TF)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder)).Reload()
    found = events.Scalars(tag) if tag in events.Tags()["scalars"] else events.Tensors(tag)
    return [event.step for event in found]


@pytest.mark.slow  # a measurement of six trials (about a minute); `make test-slow` runs it
def test_memory_does_not_grow_from_trial_to_trial(parent):
    """Six one-epoch trials of one model size: under 7 MB more resident memory per trial.

    Measured on this stack (TF 2.21, 2 CPUs): with `fresh_session()` (clear_session + gc)
    each trial adds about 4.4 MB, a TensorFlow-internal cost of tracing each new model's
    train step that clear_session does not return (plain `model.fit` in a loop shows the same,
    without MLflow or Optuna); without it about 9.5 MB (each model, optimizer and compiled
    function stays). 7 MB per trial sits between the two. The first trial loads kernels and
    code, so growth is counted from the 2nd to the 6th.
    """
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    search_tiny(parent, study, 6, space.IntRange(64, 64), epochs=1)
    rss = [t.user_attrs["rss_mb"] for t in study.trials]
    history = mlflow.MlflowClient().get_metric_history(parent.run_id, "trial_rss_mb")
    assert [m.step for m in history] == list(range(6))
    assert [m.value for m in history] == rss
    per_trial = (rss[5] - rss[1]) / 4
    assert per_trial < 7, f"resident memory per trial (MB): {[round(r) for r in rss]}"


def test_frozen_heap_hides_what_lives_now_from_the_collector_and_undoes_it():
    import gc

    before = gc.get_freeze_count()
    with search.frozen_heap():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0
