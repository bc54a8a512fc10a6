"""`-P register=NAME`: a run's model becomes a version of NAME in the real MLflow model
registry, and the alias `champion` moves only to a better one."""

from __future__ import annotations

import pytest

from steps.track.registry import Comparison, Verdict, task_metric

from helpers.runs import ONE_FIT, TINY, assert_clean_failure, in_process, parents_and_children


def registered_line(result) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("registered ")]
    assert len(lines) == 1, result.stdout[-2000:]
    return lines[0]


def held_out_rows(dataset: str, seed: int, val_fraction: float, test_fraction: float):
    """The test rows a run of `dataset` with `seed` held out, as the split step cuts them."""
    from steps.data import cache, catalog
    from steps.data.prepare import floats, split

    data, _ = cache.load_cached(catalog.resolve(dataset))
    parts = split(data, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    return floats(parts.x_test), parts.y_test


def rmse_on(uri: str, x, y) -> float:
    import mlflow
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y, mlflow.pyfunc.load_model(uri).predict(x).ravel()))


def test_the_champion_is_decided_on_the_new_versions_test_rows(lesson_env, tracking, tmp_path):
    lines = []
    for units in (4, 16):  # two models on the same split: seed 2 for both
        params = TINY | {"register": "diabetes", "seed": 2, "units": units}
        result = in_process("dnn_regression", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        lines.append(registered_line(result))

    found = tracking.search_model_versions("name='diabetes'")
    first, second = sorted(found, key=lambda v: int(v.version))
    runs = [tracking.get_run(v.run_id) for v in (first, second)]
    logged = [run.data.metrics["test_rmse"] for run in runs]
    fractions = {k: runs[1].data.params[k] for k in ("val_fraction", "test_fraction")}
    for version, run, seed in ((first, runs[0], "2"), (second, runs[1], "2")):
        assert version.tags["test_rmse"] == f"{run.data.metrics['test_rmse']:.6g}"
        assert version.tags["lesson"] == "05-09" and version.tags["entry_point"] == "dnn_regression"
        assert {k: version.tags[k] for k in ("dataset", "seed", *fractions)} == {
            "dataset": "diabetes",
            "seed": seed,
            **fractions,
        }

    # Both models scored here on seed 2's test rows, cut again by the split step.
    x, y = held_out_rows("diabetes", 2, *(float(v) for v in fractions.values()))
    ours, theirs = rmse_on("models:/diabetes/2", x, y), rmse_on("models:/diabetes/1", x, y)
    assert ours == pytest.approx(logged[1], rel=1e-4)  # the rows version 2 was tested on
    rows = (
        f"the {len(y)} test rows of diabetes (seed 2, test_fraction {fractions['test_fraction']})"
    )
    assert second.tags["compared_on"] == rows
    assert second.tags["compared_with"] == "version 1"
    said = float(second.tags["compared_test_rmse"])
    compared = float(second.tags["compared_champion_test_rmse"])
    assert said == pytest.approx(ours, rel=1e-4)
    assert compared == pytest.approx(theirs, rel=1e-4)
    assert compared == pytest.approx(logged[0], rel=1e-4)  # version 1's own test rows
    assert first.tags["test_rows"] == second.tags["test_rows"]
    moved = said < compared
    champion = tracking.get_model_version_by_alias("diabetes", "champion")
    assert str(champion.version) == ("2" if moved else "1")
    assert lines[0] == (
        f"registered diabetes version 1 (test_rmse {logged[0]:.4g}); it is the first champion"
    )
    way = "lower" if said < compared else "higher"
    decision = (
        f"champion {'moved to it from' if moved else 'stays on'} version 1: on {rows} test_rmse "
        f"{said:.4g} against {compared:.4g}, "
    )
    assert lines[1].startswith(f"registered diabetes version 2 (test_rmse {logged[1]:.4g}); ")
    decided = second.tags["decision"]
    assert lines[1].endswith(decided) and decided.startswith(decision)
    # The gap is of the unrounded scores; the tags above hold them to 6 digits.
    gap, said_way = decided.removeprefix(decision).split()
    assert float(gap) == pytest.approx(abs(said - compared), rel=1e-3) and said_way == way
    # The run says it too, as a tag beside its metrics.
    assert runs[1].data.tags["registered"] == lines[1]


@pytest.mark.slow
def test_a_champion_tested_on_other_rows_is_not_judged_on_rows_it_may_have_trained_on(
    lesson_env, tracking, tmp_path
):
    for seed in (1, 2):  # the seed moves the split: seed 2's test rows may have trained seed 1
        params = TINY | {"register": "diabetes", "seed": seed}
        result = in_process("dnn_regression", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    first = tracking.get_model_version("diabetes", "1")
    second = tracking.get_model_version("diabetes", "2")
    split = ", ".join(f"{k} {first.tags[k]}" for k in ("seed", "val_fraction", "test_fraction"))
    decision = (
        f"champion stays on version 1: it was tested on other rows ({split}): some of this "
        "version's test rows may have trained it (the same -P seed and fractions give the same "
        "rows); compare them on the same rows by hand or register under another name"
    )
    assert registered_line(result).endswith(f"; {decision}")
    assert second.tags["decision"] == decision and "compared_on" not in second.tags
    assert first.tags["test_rows"] != second.tags["test_rows"]
    assert str(tracking.get_model_version_by_alias("diabetes", "champion").version) == "1"


@pytest.mark.slow
def test_a_model_of_another_data_set_is_registered_but_not_compared(lesson_env, tracking, tmp_path):
    for dataset in ("iris", "wine"):
        params = TINY | ONE_FIT | {"register": "flowers", "dataset": dataset}
        result = in_process("tabular", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    decision = (
        "champion stays on version 1: it was trained on iris, this version on wine; compare "
        "them on the same rows by hand or register under another name"
    )
    assert registered_line(result).endswith(f"; {decision}")
    versions = tracking.search_model_versions("name='flowers'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    assert str(tracking.get_model_version_by_alias("flowers", "champion").version) == "1"
    wine = tracking.get_model_version("flowers", "2")
    assert wine.tags["decision"] == decision and wine.tags["dataset"] == "wine"
    assert "compared_on" not in wine.tags


def test_a_sweep_registers_its_best_child(lesson_env, tracking, tmp_path):
    params = TINY | {"layers": "1,2", "register": "depths"}
    result = in_process("dnn_regression", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parents, children = parents_and_children(tracking, "dnn_regression")
    kids = children[parents[0].info.run_id]
    best = min(kids, key=lambda run: run.data.metrics["test_rmse"])
    (version,) = tracking.search_model_versions("name='depths'")
    assert version.run_id == best.info.run_id
    assert parents[0].data.tags["registered"] == registered_line(result)


def test_no_name_registers_nothing_and_a_bad_name_is_refused(lesson_env, tracking, tmp_path):
    result = in_process("dnn_regression", TINY | {"register": "a/b"}, lesson_env, tmp_path)
    message = "bad value 'a/b' for register: give a name without / or : (or nothing, to "
    assert_clean_failure(result, tracking, "dnn_regression", message, parameter_error=True)
    assert in_process("dnn_regression", TINY, lesson_env, tmp_path).returncode == 0
    assert tracking.search_registered_models() == []


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"test_accuracy": 0.9, "test_loss": 0.3}, ("test_accuracy", True)),
        ({"test_rmse": 50.0, "test_mae": 40.0, "test_loss": 2500.0}, ("test_rmse", False)),
        ({"test_loss": 0.1}, ("test_loss", False)),
    ],
)
def test_each_task_is_judged_by_its_own_metric(metrics, expected):
    assert task_metric(metrics) == expected


def test_the_verdict_says_which_way_and_by_how_much():
    rows = "the 30 test rows of iris (seed 2, test_fraction 0.2)"
    stays = Verdict("m", "3", "test_accuracy", 0.9, "2", Comparison(rows, 0.9, 0.95))
    assert stays.line() == (
        "registered m version 3 (test_accuracy 0.9); champion stays on version 2: on the 30 "
        "test rows of iris (seed 2, test_fraction 0.2) test_accuracy 0.9 against 0.95, 0.05 lower"
    )
    tie = Verdict("m", "4", "test_accuracy", 0.95, "2", Comparison(rows, 0.95, 0.95))
    assert tie.line().endswith("test_accuracy 0.95 against 0.95, equal, not better")
    assert tie.tags() == {
        "decision": tie.decision(),
        "compared_on": rows,
        "compared_with": "version 2",
        "compared_test_accuracy": "0.95",
        "compared_champion_test_accuracy": "0.95",
    }
