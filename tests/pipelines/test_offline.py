"""Every entry point with no `-P` on a machine without network: it finishes, or it says in
one line what it must download and how to run offline (exit code 3, run FAILED and tagged
`error_kind=download`). `make run` then falls back to the digits CNN; digits_folder is the
offline image folder of lessons 63-64 and 75-78.

No network here means no download mirror and a proxy that refuses every connection: Keras's
real download function fails at once, as it does on a machine without network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from pipelines.docs import downloads_by_default
from pipelines.entry_points import ENTRY_POINTS
from steps.data import cache, catalog
from steps.errors import DownloadError

from helpers.runs import (
    REPO,
    assert_clean_failure,
    error_lines,
    finished_run,
    in_process,
    only_run,
    runs_of,
)

NO_NETWORK = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


# What each entry point downloads with its defaults, as the declarations say (the same
# function renders docs/datasets.md's list); the tests below check it against no network.
DOWNLOADS_BY_DEFAULT = downloads_by_default()


def offline(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "KERAS_LESSONS_DATA_ORIGIN"} | NO_NETWORK


@pytest.fixture
def no_network(monkeypatch):
    """This process without network (the `isolated` fixture already removed any mirror)."""
    for name, value in NO_NETWORK.items():
        monkeypatch.setenv(name, value)
    urllib.request.install_opener(None)  # urllib builds its proxies once, from the environment
    yield
    urllib.request.install_opener(None)


def what_defaults_download(name: str) -> str:
    """What `name` downloads with no -P: its data set (tried for real, through the npy
    cache) or ImageNet weights; '' for nothing."""
    entry = ENTRY_POINTS[name]
    params = entry.params()
    if "dataset" in entry.takes and params.dataset != "all":  # prepare_data: its own test
        try:
            cache.load_cached(catalog.resolve(params.dataset, target=params.target))
        except DownloadError:
            return params.dataset
    if "weights" in entry.takes and params.weights == "imagenet":
        return "imagenet weights"
    return ""


def test_only_the_listed_entry_points_need_a_download_by_default(no_network):
    """Each default data set loaded for real with no network: the catalog's `download` marks
    say exactly which defaults need the network (and the data-set docs are generated from them)."""
    needs = {name: what_defaults_download(name) for name in ENTRY_POINTS}
    assert {name: what for name, what in needs.items() if what} == DOWNLOADS_BY_DEFAULT


@pytest.mark.parametrize("entry_point", list(DOWNLOADS_BY_DEFAULT))
def test_a_default_that_needs_a_download_says_so_in_one_line(
    entry_point, lesson_env, tracking, tmp_path
):
    """No -P, no network: one line naming what to download, where Keras looks for it and how
    to run offline; exit code 3; the run FAILED, tagged error_kind=download."""
    env = offline(lesson_env)
    result = in_process(entry_point, {}, env, tmp_path)
    what = DOWNLOADS_BY_DEFAULT[entry_point]
    if what == "imagenet weights":
        message, offline_hint = (
            "cannot download the imagenet weights for mobilenet_v2",
            ("-P weights=none"),
        )
        folder = f"{env['KERAS_HOME']}/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
    else:
        message, offline_hint = f"cannot download {what} from https://", "-P dataset=digits"
        folder = f"{env['KERAS_HOME']}/datasets/"
    assert_clean_failure(result, tracking, entry_point, message, exit_code=3)
    line = error_lines(result.stderr)[0]
    assert f"Keras looks for {folder}" in line
    assert offline_hint in line
    assert only_run(tracking, entry_point).data.tags["error_kind"] == "download"


def test_prepare_data_with_no_parameters_finishes_offline_skipping_downloads(
    lesson_env, tracking, tmp_path
):
    result = in_process("prepare_data", {}, offline(lesson_env), tmp_path)
    run = finished_run(result, tracking, "prepare_data")
    assert run.data.metrics["datasets_skipped"] == 5  # mnist, fashion, both cifars, boston
    assert run.data.metrics["datasets_miss"] == 3  # diabetes, iris, breast_cancer


@pytest.mark.slow
def test_image_folder_reads_digits_folder_as_it_reads_any_folder(lesson_env, tracking, tmp_path):
    """With no dataset the lesson reads the bundled digits as a folder of PNG files; given
    that folder as dir:PATH it reads the same files into the same npy cache entry."""
    tiny = {"epochs": 1, "batch_size": 64, "units": 8, "filters": "4", "image_size": 16}
    tiny |= {"verbose": 0}
    env = offline(lesson_env)
    result = in_process("image_folder", tiny, env, tmp_path)
    run = finished_run(result, tracking, "image_folder")
    folder = run.data.tags["folder"]
    assert run.info.run_name == "image_folder · digits_folder"
    assert (run.data.tags["dataset"], run.data.tags["cache"]) == ("digits_folder", "miss")
    assert folder.startswith(f"{env['KERAS_LESSONS_CACHE']}/folders/digits_folder-")
    assert f"digits_folder: {folder}" in result.stdout
    params = run.data.params
    assert (params["n_classes"], params["n_samples"]) == ("10", "1797")
    assert run.data.metrics["skipped_files"] == 0
    assert sorted(os.listdir(folder)) == [str(digit) for digit in range(10)]
    assert len(os.listdir(f"{folder}/3")) == 183  # scikit-learn's count of threes

    mine = in_process("image_folder", tiny | {"dataset": f"dir:{folder}"}, env, tmp_path)
    assert mine.returncode == 0, mine.stderr[-3000:]
    again = next(r for r in runs_of(tracking, "image_folder") if r.info.run_id != run.info.run_id)
    assert again.data.tags["cache"] == "hit"
    assert (
        again.inputs.dataset_inputs[0].dataset.digest == run.inputs.dataset_inputs[0].dataset.digest
    )


def test_digits_folder_is_written_once_and_rewritten_when_files_went_missing(tmp_path):
    from steps.data.sources.folders import digits_folder

    folder = digits_folder(tmp_path)
    written = (folder / "0" / "0000.png").stat().st_mtime_ns
    assert digits_folder(tmp_path) == folder
    assert (folder / "0" / "0000.png").stat().st_mtime_ns == written  # not written again
    (folder / "7" / "0007.png").unlink()
    with pytest.warns(UserWarning, match="lost some of its files"):
        assert digits_folder(tmp_path) == folder
    assert (folder / "7" / "0007.png").is_file()
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no staging left


# ---------------------------------------------------------------- make run


def first_run(env: dict[str, str], cwd, *args: str) -> subprocess.CompletedProcess:
    """What `make run` calls, in a process of its own, as `make run` starts it."""
    env = env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "pipelines.first_run", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_make_run_falls_back_to_the_digits_cnn_when_cifar10_cannot_be_downloaded(
    lesson_env, tracking, tmp_path
):
    result = first_run(offline(lesson_env), tmp_path, "-P", "epochs=1", "-P", "verbose=0")
    assert result.returncode == 0, result.stderr[-3000:]
    cifar = only_run(tracking, "cnn_cifar10")
    assert cifar.info.status == "FAILED"
    assert cifar.data.tags["error_kind"] == "download"
    fallback = [line for line in result.stderr.splitlines() if line.startswith("make run:")]
    assert fallback == [
        "make run: CIFAR-10 cannot be downloaded (see above), so the same CNN lesson runs on "
        "scikit-learn's bundled digits instead: mlflow run . -e image_classify --env-manager local"
    ]
    digits = finished_run(result, tracking, "image_classify")
    assert (digits.data.tags["dataset"], digits.data.params["model"]) == ("digits", "cnn")
    assert digits.data.tags["mlflow.project.entryPoint"] == "image_classify"


@pytest.mark.slow
def test_make_run_does_not_hide_other_failures(lesson_env, tracking, tmp_path):
    result = first_run(offline(lesson_env), tmp_path, "-P", "epochs=0")
    assert result.returncode != 0
    assert "error: bad value 0 for epochs: use 1 or more" in result.stderr
    assert "make run:" not in result.stderr
    assert only_run(tracking, "cnn_cifar10").info.status == "FAILED"
    assert runs_of(tracking, "image_classify") == []


# ---------------------------------------------------------------- every entry point, for real


@pytest.mark.slow
@pytest.mark.parametrize(
    "entry_point", [name for name in ENTRY_POINTS if name not in DOWNLOADS_BY_DEFAULT]
)
def test_entry_point_with_no_parameters_finishes_offline(
    entry_point, lesson_env, tracking, tmp_path
):
    """The full defaults, no network: minutes each (tune, compare_models, the comparisons).
    autokeras stands or falls with its optional extra, which says why in one line."""
    result = in_process(entry_point, {}, offline(lesson_env), tmp_path)
    lines = error_lines(result.stderr)
    if entry_point == "autokeras" and len(lines) == 1 and "AutoKeras" in lines[0]:
        pytest.skip(lines[0])
    assert result.returncode == 0, result.stderr[-3000:]
    parents = [r for r in runs_of(tracking, entry_point) if "mlflow.parentRunId" not in r.data.tags]
    assert [r.info.status for r in parents] == ["FINISHED"]
