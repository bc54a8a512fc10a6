"""`-P register=NAME`: a run's model becomes a version of NAME in the real MLflow model
registry, and the alias `champion` moves only to a better one."""

from __future__ import annotations

import pytest

from steps.track.registry import Verdict, task_metric

from helpers.runs import TINY, assert_clean_failure, in_process, parents_and_children


def registered_line(result) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("registered ")]
    assert len(lines) == 1, result.stdout[-2000:]
    return lines[0]


def test_the_champion_is_the_better_of_two_seeds(lesson_env, tracking, tmp_path):
    runs = []
    for seed in (1, 2):
        params = TINY | {"register": "diabetes", "seed": seed}
        result = in_process("dnn_regression", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(registered_line(result))

    found = tracking.search_model_versions("name='diabetes'")
    versions = sorted(found, key=lambda v: int(v.version))
    assert [str(v.version) for v in versions] == ["1", "2"]
    scores = [tracking.get_run(v.run_id).data.metrics["test_rmse"] for v in versions]
    for version, score in zip(versions, scores, strict=True):
        assert version.tags["test_rmse"] == f"{score:.6g}"
        assert version.tags["lesson"] == "05-09" and version.tags["dataset"] == "diabetes"
        assert version.tags["entry_point"] == "dnn_regression"
    best = versions[scores.index(min(scores))]
    champion = tracking.get_model_version_by_alias("diabetes", "champion")
    assert str(champion.version) == str(best.version)

    first, second = runs
    assert (
        first
        == f"registered diabetes version 1 (test_rmse {scores[0]:.4g}); it is the first champion"
    )
    moved = "moved to it from" if str(best.version) == "2" else "stays on"
    way = "lower" if scores[1] < scores[0] else "higher"
    assert second == (
        f"registered diabetes version 2 (test_rmse {scores[1]:.4g}); champion {moved} version 1 "
        f"(test_rmse {scores[0]:.4g}): {abs(scores[1] - scores[0]):.4g} {way}"
    )
    # The run says it too, as a tag beside its metrics.
    run = tracking.get_run(versions[1].run_id)
    assert run.data.tags["registered"] == second


def test_a_model_with_another_signature_is_refused(lesson_env, tracking, tmp_path):
    params = TINY | {"register": "houses"}
    assert in_process("dnn_regression", params, lesson_env, tmp_path).returncode == 0
    result = in_process("tabular", TINY | {"register": "houses"}, lesson_env, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "tabular",
        "the model's signature ([Tensor('float32', (-1, 4))] -> [Tensor('float32', (-1, 3))]) "
        "differs from houses@champion's ([Tensor('float32', (-1, 10))] -> "
        "[Tensor('float32', (-1, 1))]): register it under another name",
    )
    assert [str(v.version) for v in tracking.search_model_versions("name='houses'")] == ["1"]


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
    stays = Verdict("m", "3", "test_accuracy", 0.9, ("2", 0.95), promoted=False)
    assert stays.line() == (
        "registered m version 3 (test_accuracy 0.9); champion stays on version 2 "
        "(test_accuracy 0.95): 0.05 lower"
    )
    tie = Verdict("m", "4", "test_accuracy", 0.95, ("2", 0.95), promoted=False)
    assert tie.line().endswith(
        "champion stays on version 2 (test_accuracy 0.95): equal, not better"
    )
