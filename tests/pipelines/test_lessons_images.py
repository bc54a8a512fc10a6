"""Lessons 35-41, 63-64, 75-78 end to end: image aliases, image_folder, transfer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.entry_points import CIFAR_CNN, ENTRY_POINTS, MNIST_CNN, params_for
from steps.errors import UserError

from helpers import upstream_files
from helpers.entry_points import ALIASES
from helpers.images import add_bad_files, write_image_folder
from helpers.runs import (
    TINY,
    artifact_paths,
    assert_clean_failure,
    assert_trained_run,
    finished_run,
    in_process,
    mlflow_run,
    parents_and_children,
    tiny,
    trained_run,
)


def test_the_alias_table_names_every_image_entry_point():
    assert sorted(ALIASES) == [
        "cnn_cifar10", "cnn_cifar100", "cnn_fashion_mnist", "cnn_mnist",
        "dnn_cifar10", "dnn_cifar100", "dnn_fashion_mnist", "dnn_mnist",
        "lstm_cifar10", "lstm_cifar100", "lstm_fashion_mnist", "lstm_mnist",
    ]  # fmt: skip


def test_each_alias_runs_image_classify_with_its_own_defaults():
    for name, (family, dataset) in ALIASES.items():
        entry = ENTRY_POINTS[name]
        assert entry.pipeline == "image_classify", name
        assert (entry.params().dataset, entry.params().model) == (dataset, family), name
    assert ENTRY_POINTS["cnn_mnist"].defaults == MNIST_CNN
    assert ENTRY_POINTS["cnn_cifar10"].defaults == CIFAR_CNN
    assert ENTRY_POINTS["cnn_fashion_mnist"].params().filters == (32, 64)
    assert ENTRY_POINTS["cnn_cifar100"].params().filters == (32, 64, 64)
    assert {ENTRY_POINTS[f"dnn_{d}"].params().layers for _, d in ALIASES.values()} == {2}
    assert {ENTRY_POINTS[f"lstm_{d}"].params().units for _, d in ALIASES.values()} == {128}
    lessons = {name: ENTRY_POINTS[name].lessons for name in ALIASES}
    assert (lessons["dnn_mnist"], lessons["lstm_mnist"], lessons["lstm_cifar100"]) == (
        "37",
        "38",
        "41",
    )


def class_table(tracking, run, tmp_path) -> pd.DataFrame:
    path = "evaluation/per_class_accuracy.csv"
    return pd.read_csv(tracking.download_artifacts(run.info.run_id, path, str(tmp_path)))


def test_dnn_fashion_mnist_logs_each_class(lesson_env, tracking, tmp_path):
    result = in_process("dnn_fashion_mnist", TINY, lesson_env, tmp_path)
    run = trained_run(result, tracking, "dnn_fashion_mnist", "classification", tmp_path)
    assert (run.data.tags["lesson"], run.data.params["model"]) == ("40", "dnn")
    plots = artifact_paths(tracking, run.info.run_id, "plots")
    for name in ("samples", "confusion_matrix", "per_class_accuracy"):
        assert f"plots/{name}.png" in plots
    table = class_table(tracking, run, tmp_path)
    assert table["class"].iloc[0] == "T-shirt/top" and len(table) == 10
    assert table["support"].sum() == 20  # the tiny test split
    # ten classes: one metric each, and they average (by support) to test_accuracy
    per_class = run.data.metrics["test_accuracy_T-shirt_top"]
    assert per_class == pytest.approx(table["accuracy"].iloc[0])
    overall = (table["correct"].sum()) / table["support"].sum()
    assert overall == pytest.approx(run.data.metrics["test_accuracy"])


@pytest.mark.slow
def test_lstm_cifar100_keeps_a_hundred_classes_in_a_table_not_metrics(
    lesson_env, tracking, tmp_path
):
    result = in_process("lstm_cifar100", TINY, lesson_env, tmp_path)
    run = trained_run(result, tracking, "lstm_cifar100", "classification", tmp_path)
    table = class_table(tracking, run, tmp_path)
    assert len(table) == 100 and table["class"].iloc[0] == "apple"
    assert table["accuracy"].isna().sum() == 95  # the tiny set uses five classes
    assert not [name for name in run.data.metrics if name.startswith("test_accuracy_")]


def test_image_classify_takes_conv1d(lesson_env, tracking, tmp_path):
    # The digits CNN's defaults have no Dense layer after its conv blocks; Conv1D needs one.
    params = TINY | {"model": "conv1d", "layers": 1}
    result = in_process("image_classify", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "image_classify", "classification", tmp_path)
    assert (run.data.tags["dataset"], run.data.params["model"]) == ("digits", "conv1d")
    assert "test_accuracy_9" in run.data.metrics


@pytest.mark.slow
@pytest.mark.parametrize("seed", [42, 1, 2])
def test_digits_cnn_reaches_97_percent_with_defaults(seed, lesson_env, tracking, tmp_path):
    params = {"dataset": "digits", "model": "cnn", "seed": seed}
    result = mlflow_run("image_classify", params, lesson_env, tmp_path)
    assert finished_run(result, tracking, "image_classify").data.metrics["test_accuracy"] >= 0.97


# ---------------------------------------------------------------- image_folder (63-64)


@pytest.mark.slow
def test_image_folder_skips_bad_files_and_hits_the_cache_the_second_time(
    lesson_env, tracking, tmp_path
):
    import mlflow

    root = write_image_folder(tmp_path / "photos", classes=("cat", "dog", "fox"), per_class=12)
    add_bad_files(root)
    params = TINY | {"dataset": f"dir:{root}", "image_size": "16", "augment": "true"}
    # The user's command, then the same again in this process: the npy cache is on disk.
    result = mlflow_run("image_folder", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    result = in_process("image_folder", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tracking.get_experiment_by_name("image_folder")
    first, second = sorted(
        tracking.search_runs([experiment.experiment_id]), key=lambda r: r.info.start_time
    )
    assert (first.data.tags["cache"], second.data.tags["cache"]) == ("miss", "hit")
    assert first.data.metrics["test_accuracy"] == second.data.metrics["test_accuracy"]
    assert_trained_run(tracking, second, "classification", tmp_path)
    assert second.data.metrics["skipped_files"] == 3
    skipped = pd.read_csv(
        tracking.download_artifacts(second.info.run_id, "data/skipped_files.csv", str(tmp_path))
    )
    assert sorted(skipped["file"]) == ["README.md", "cat/broken.png", "dog/notes.txt"]
    assert second.data.params["n_classes"] == "3"
    assert second.data.params["n_samples"] == "36"
    assert "plots/per_class_accuracy.png" in artifact_paths(tracking, second.info.run_id, "plots")
    # the logged model takes the folder's raw 16x16 RGB pixels (augmentation off in predict)
    model = mlflow.pyfunc.load_model(second.data.tags["model_uri"])
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 16, 16, 3)).astype(np.float32)
    assert np.asarray(model.predict(x)).shape == (2, 3)


def test_image_folder_with_one_class_fails_cleanly(lesson_env, tracking, tmp_path):
    root = write_image_folder(tmp_path / "photos", classes=("cat",), per_class=2)
    result = in_process("image_folder", TINY | {"dataset": f"dir:{root}"}, lesson_env, tmp_path)
    message = "has one class sub-folder (cat); a classifier needs two or more"
    assert_clean_failure(result, tracking, "image_folder", message)


def test_image_folder_classifies_two_classes_of_photos(lesson_env, tracking, tmp_path):
    """Lesson 64: any folder with two class sub-folders of photos (male/ and female/ in the
    lesson), as README.md says: `-P dataset=dir:/abs/path`."""
    root = write_image_folder(tmp_path / "photos", classes=("female", "male"), per_class=10)
    params = TINY | {"dataset": f"dir:{root}", "image_size": "16"}
    result = in_process("image_folder", params, lesson_env, tmp_path)
    run = finished_run(result, tracking, "image_folder")
    assert run.info.run_name == "image_folder · photos"
    assert (run.data.params["n_classes"], run.data.params["n_samples"]) == ("2", "20")
    assert {"test_accuracy_female", "test_accuracy_male"} <= run.data.metrics.keys()
    assert "skipped_files" in run.data.metrics and run.data.metrics["skipped_files"] == 0


# ---------------------------------------------------------------- transfer (75-78)

# lesson 77's CIFAR-10, tiny through the mirror (the default is the bigger digits_folder)
SMALL_BASE = {
    "dataset": "cifar10",
    "base": "mobilenet_v2",
    "alpha": 0.35,
    "weights": "none",
    "epochs": 1,
}


def counts_table(tracking, run, tmp_path) -> pd.DataFrame:
    path = "parameters/counts.csv"
    return pd.read_csv(tracking.download_artifacts(run.info.run_id, path, str(tmp_path)))


@pytest.mark.slow
def test_transfer_sweeps_two_bases_over_dogs_and_cats_photos(
    lesson_env, tracking, tmp_path, upstream
):
    """Lessons 75-78 in one launch of the real `mlflow run`, offline (weights=none):
    78 the two-class photo archive of TensorFlow's transfer-learning tutorial, downloaded once
    through Keras's download function (here a tiny copy in its upstream layout), its train/
    and validation/ halves kept as the train and test split; 77 several bases as a sweep, a
    child run each; 75-76 VGG16's parameter counts with and without its top, logged.
    weights=none: what trains is the table's "without top, none, trained" row plus the head
    (features x 2 + 2); only BatchNorm statistics and the RGB colour layer (12) do not."""
    upstream_files.write_cats_and_dogs_zip(upstream)
    params = tiny("transfer") | {
        "dataset": "cats_vs_dogs",
        "base": "vgg16,mobilenet_v2",
        "weights": "none",
        "epochs": 1,
        "image_size": "24",
    }
    result = mlflow_run("transfer", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parents, children = parents_and_children(tracking, "transfer")
    [parent] = parents
    vgg16, mobilenet = sorted(children[parent.info.run_id], key=lambda r: r.info.start_time)
    assert parent.info.run_name == "transfer · cats_vs_dogs · base=vgg16,mobilenet_v2"
    assert [vgg16.info.run_name, mobilenet.info.run_name] == ["base=vgg16", "base=mobilenet_v2"]
    for run, features in ((vgg16, 512), (mobilenet, 1280)):
        assert_trained_run(tracking, run, "classification", tmp_path / run.info.run_id)
        assert (run.data.tags["dataset"], run.data.params["n_samples"]) == ("cats_vs_dogs", "24")
        assert run.data.params["input_shape"] == "32x32x3"  # 24x24 photos, resized in the model
        assert {"test_accuracy_cats", "test_accuracy_dogs"} <= run.data.metrics.keys()
        inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
        assert json.loads(inputs["test"].profile)["features_shape"] == [8, 24, 24, 3]
        scratch = counts_table(tracking, run, tmp_path / run.info.run_id)
        scratch = scratch.set_index(["top", "weights"]).loc[("without top", "none, trained")]
        metrics = run.data.metrics
        assert metrics["trainable_parameters"] == scratch["trainable"] + features * 2 + 2
        assert metrics["non_trainable_parameters"] == scratch["non_trainable"] + 12
    assert (vgg16.data.metrics["base_parameters_with_top"]) == 138_357_544
    assert (vgg16.data.metrics["base_parameters_without_top"]) == 14_714_688
    assert vgg16.data.metrics["non_trainable_parameters"] == 12  # no BatchNormalization
    assert mobilenet.data.metrics["base_parameters_without_top"] == 2_257_984
    table = pd.read_csv(
        tracking.download_artifacts(parent.info.run_id, "comparison/sweep.csv", str(tmp_path))
    )
    assert table["base"].tolist() == ["vgg16", "mobilenet_v2"]
    assert table["status"].tolist() == ["FINISHED", "FINISHED"]
    assert table["trainable_parameters"].tolist() == [
        vgg16.data.metrics["trainable_parameters"],
        mobilenet.data.metrics["trainable_parameters"],
    ]
    assert "test_accuracy_base_vgg16" in parent.data.metrics


def test_transfer_refuses_fine_tuning_a_random_base(lesson_env, tracking, tmp_path):
    params = tiny("transfer") | SMALL_BASE | {"fine_tune_layers": 5}
    result = in_process("transfer", params, lesson_env, tmp_path)
    message = (
        "fine_tune_layers needs pretrained weights (imagenet or a file): with weights=none "
        "the whole base trains from the start"
    )
    assert_clean_failure(result, tracking, "transfer", message, parameter_error=True)


@pytest.mark.slow
def test_transfer_trains_a_head_then_fine_tunes(lesson_env, tracking, tmp_path):
    from steps import transfer

    weights = tmp_path / "base.weights.h5"  # a pretrained base of one's own: -P weights=PATH
    transfer.create_base("mobilenet_v2", size=32, alpha=0.35).save_weights(weights)
    params = tiny("transfer") | SMALL_BASE | {"weights": weights, "fine_tune_layers": 5}
    result = mlflow_run("transfer", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "transfer", "classification", tmp_path)
    assert (run.data.tags["lesson"], run.data.tags["dataset"]) == ("75-78", "cifar10")
    assert run.data.params["input_shape"] == "32x32x3"
    assert run.data.metrics["head_epochs"] == 1
    # head (1280 * 10 + 10) plus the non-BatchNorm weights of the base's last five layers
    assert run.data.metrics["trainable_parameters"] > 1280 * 10 + 10
    counts = counts_table(tracking, run, tmp_path)
    assert counts["top"].tolist() == ["with top"] * 2 + ["without top"] * 2
    assert counts["total"].iloc[0] - counts["total"].iloc[2] == 1280 * 1000 + 1000
    assert counts["trainable"].iloc[0] == 0 and counts["trainable"].iloc[1] > 0


def test_transfer_offline_imagenet_names_the_weights_file(lesson_env, tracking, tmp_path):
    lesson_env = lesson_env | {
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    params = tiny("transfer") | SMALL_BASE | {"weights": "imagenet"}
    result = in_process("transfer", params, lesson_env, tmp_path)
    weights = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    expected = f"Keras looks for {lesson_env['KERAS_HOME']}/models/{weights}"
    assert_clean_failure(result, tracking, "transfer", expected, exit_code=3)


def test_a_family_that_needs_layers_gets_its_fewest_when_none_are_given():
    """image_classify's CNN defaults have no Dense layer (layers=0); `-P model=conv1d` or
    lstm alone takes the family's fewest, one, while a depth typed out is checked as typed."""
    assert params_for("image_classify").layers == 0
    assert params_for("image_classify", model="conv1d").layers == 1
    assert params_for("image_classify", model="lstm").layers == 1
    assert params_for("image_classify", model="dnn").layers == 0
    assert params_for("image_classify", model="lstm", layers=3).layers == 3
    with pytest.raises(UserError, match=r"^bad value 0 for layers: model=lstm needs 1 or more$"):
        params_for("image_classify", model="lstm", layers=0)
