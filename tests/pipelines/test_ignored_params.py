"""A run says which of its logged build options its model family never read."""

from __future__ import annotations

from helpers.runs import TINY, in_process, parents_and_children


def test_a_dnn_run_names_the_cnn_options_it_ignored_and_a_cnn_run_none(
    lesson_env, tracking, tmp_path
):
    result = in_process("dnn_regression", TINY | {"model": "dnn,cnn"}, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parents, children = parents_and_children(tracking, "dnn_regression")
    kids = {kid.data.params["model"]: kid for kid in children[parents[0].info.run_id]}
    # Both logged every build option (as `mlflow run` does); the tag says which did not apply.
    for kid in kids.values():
        assert {"filters", "pool_last", "units"} <= kid.data.params.keys()
    assert kids["dnn"].data.tags["ignored_params"] == "filters,pool_last"
    assert "ignored_params" not in kids["cnn"].data.tags
    assert "ignored_params" not in parents[0].data.tags  # two families: each child says
