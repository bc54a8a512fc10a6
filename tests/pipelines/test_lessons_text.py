"""Lessons 65 and 79-83 end to end on tiny upstream-format files (65 on scikit-learn's
digits and iris, with the automl extra installed): each entry point through
the real `mlflow run` CLI once, other cases in process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from helpers import upstream_files
from helpers.runs import (
    MLFLOW,
    TINY,
    artifact_paths,
    assert_clean_failure,
    assert_reads_true,
    finished_run,
    in_process,
    mlflow_run,
    parents_and_children,
    tiny,
    trained_run,
)

TEXT = TINY | {"maxlen": 12, "embedding_dim": 8}


@pytest.fixture(scope="module", autouse=True)
def text_archives(upstream):
    """reuters.npz, imdb.npz and their word indexes beside the other upstream files."""
    upstream_files.write_reuters_npz(upstream)
    upstream_files.write_imdb_npz(upstream)


def table(client, run, path: str, folder) -> pd.DataFrame:
    return pd.read_csv(client.download_artifacts(run.info.run_id, path, str(folder)))


@pytest.mark.slow
def test_nlp_tokenize_logs_the_vocabulary_and_a_model_that_reads_text(
    lesson_env, tracking, tmp_path
):
    result = mlflow_run("nlp_tokenize", TINY | {"model": "lstm"}, lesson_env, tmp_path)
    run = trained_run(result, tracking, "nlp_tokenize", "classification", tmp_path)
    assert run.data.tags["lesson"] == "79-80" and run.data.tags["dataset"] == "sentences"
    vocabulary = table(tracking, run, "vocabulary/vocabulary.csv", tmp_path)
    assert list(vocabulary.columns) == ["index", "word", "count"]
    assert list(vocabulary["count"][2:]) == sorted(vocabulary["count"][2:], reverse=True)
    size = len(vocabulary)
    assert run.data.params["vocabulary_size"] == str(size)
    assert run.data.metrics["onehot_values_per_text"] == 5 * size  # maxlen 5 by default
    assert run.data.metrics["index_values_per_text"] == 5
    assert run.data.metrics["embedded_values_per_text"] == 5 * int(run.data.params["embedding_dim"])
    sequences = table(tracking, run, "vocabulary/sequences.csv", tmp_path)
    assert len(sequences) == 12 and all(len(s.split()) == 5 for s in sequences["sequence"])
    assert "plots/confusion_matrix.png" in artifact_paths(tracking, run.info.run_id)
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    predictions = model.predict(pd.DataFrame({"text": ["so much fun", "not that good"]}))
    assert np.asarray(predictions).shape == (2, 1)


@pytest.mark.slow
def test_nlp_tokenize_lstm_and_conv1d_with_and_without_an_embedding(lesson_env, tracking, tmp_path):
    """Lesson 80: the LSTM and the Conv1D read the padded sequences as one-hot vectors
    instead of after an Embedding; a child run per model and word input, parameter counts
    and scores side by side on the parent."""
    params = TINY | {"model": "lstm,conv1d", "word_input": "embedding,onehot", "filters": "4"}
    result = in_process("nlp_tokenize", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parents, children = parents_and_children(tracking, "nlp_tokenize")
    [parent] = parents
    kids = sorted(children[parent.info.run_id], key=lambda r: r.info.start_time)
    names = [k.info.run_name for k in kids]
    assert names == [
        "model=lstm word_input=embedding",
        "model=lstm word_input=onehot",
        "model=conv1d word_input=embedding",
        "model=conv1d word_input=onehot",
    ]
    size = int(kids[0].data.params["vocabulary_size"])
    counts = {name: k.data.metrics["parameters"] for name, k in zip(names, kids, strict=True)}
    # LSTM(8): 4 x (8 x (inputs + 8) + 8); inputs: 8 embedded values, or `size` one-hot ones
    lstm_embedded = counts["model=lstm word_input=embedding"]
    lstm_onehot = counts["model=lstm word_input=onehot"]
    assert lstm_embedded - lstm_onehot == size * 8 + 4 * 8 * 8 - 4 * 8 * size
    for kid in kids:
        summary = Path(
            tracking.download_artifacts(kid.info.run_id, "model_summary.txt", str(tmp_path))
        ).read_text()
        onehot = kid.data.params["word_input"] == "onehot"
        assert ("Embedding" in summary) != onehot and ("CategoryEncoding" in summary) == onehot
        ignored = kid.data.tags.get("ignored_params", "").split(",")
        assert ("embedding_dim" in ignored) == onehot
    table = pd.read_csv(
        tracking.download_artifacts(parent.info.run_id, "comparison/sweep.csv", str(tmp_path))
    )
    assert table[["model", "word_input"]].values.tolist() == [
        ["lstm", "embedding"],
        ["lstm", "onehot"],
        ["conv1d", "embedding"],
        ["conv1d", "onehot"],
    ]
    assert table["parameters"].tolist() == list(counts.values())
    assert table["test_accuracy"].tolist() == [k.data.metrics["test_accuracy"] for k in kids]


@pytest.mark.slow
def test_nlp_imdb_bidirectional_with_a_sigmoid_head(lesson_env, tracking, tmp_path):
    params = TEXT | {"model": "lstm", "bidirectional": "true", "num_words": 12}
    result = mlflow_run("nlp_imdb", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "nlp_imdb", "classification", tmp_path)
    assert run.data.tags["cache"] == "miss" and run.data.params["n_samples"] == "90"
    assert run.data.params["vocabulary_size"] == "12"
    keras_model = mlflow.tensorflow.load_model(run.data.tags["model_uri"])
    names = [type(layer).__name__ for layer in keras_model.layers]
    assert names[1:3] == ["Embedding", "Bidirectional"]
    assert keras_model.layers[-1].activation.__name__ == "sigmoid"
    assert keras_model.loss == "binary_crossentropy"
    reloaded = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert np.asarray(reloaded.predict(np.full((3, 12), 4, dtype=np.int32))).shape == (3, 1)
    vocabulary = table(tracking, run, "vocabulary/vocabulary.csv", tmp_path)
    assert list(vocabulary["word"][:5]) == ["<pad>", "<start>", "<oov>", "<unused>", "the"]
    samples = table(tracking, run, "predictions/samples.csv", tmp_path)
    assert len(samples) == 20 and samples["text"][0].startswith("<start>")
    assert set(samples["label"]) | set(samples["predicted"]) <= {"negative", "positive"}


@pytest.mark.slow
def test_nlp_reuters_46_topics_with_a_gru_on_one_hot_words(lesson_env, tracking, tmp_path):
    """Lesson 81 with lesson 80's twist: the GRU reads each word as a one-hot vector, no
    Embedding (the IMDB test keeps the Embedding)."""
    params = TEXT | {"model": "gru", "epochs": 3, "word_input": "onehot"}
    result = mlflow_run("nlp_reuters", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "nlp_reuters", "classification", tmp_path)
    assert run.data.tags["lesson"] == "81" and run.data.params["n_samples"] == "80"
    keras_model = mlflow.tensorflow.load_model(run.data.tags["model_uri"])
    names = [type(layer).__name__ for layer in keras_model.layers]
    assert names[1:3] == ["CategoryEncoding", "GRU"] and "Embedding" not in names
    size = int(run.data.params["vocabulary_size"])
    assert keras_model.get_layer("onehot").output.shape == (None, 12, size)  # maxlen 12
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    probabilities = np.asarray(model.predict(np.ones((2, 12), dtype=np.int32)))
    assert probabilities.shape == (2, 46)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    samples = table(tracking, run, "predictions/samples.csv", tmp_path)
    words = {"cocoa", "beans", "harvest", "grain", "wheat", "corn", "oil", "barrel", "crude"}
    assert samples["text"].str.split().explode().isin(words).any()  # decoded, not indices
    assert list(samples.columns) == ["text", "label", "predicted"]  # true and predicted topic


def test_bidirectional_needs_a_recurrent_model(lesson_env, tracking, tmp_path):
    params = TINY | {"model": "dnn", "bidirectional": "true"}
    result = in_process("nlp_imdb", params, lesson_env, tmp_path)
    message = "bidirectional=true wraps a recurrent layer: use model=lstm"
    assert_clean_failure(result, tracking, "nlp_imdb", message, parameter_error=True)


@pytest.mark.skipif(
    importlib.util.find_spec("autokeras") is not None, reason="AutoKeras is installed"
)
def test_autokeras_without_the_extra_says_how_to_install_it(lesson_env, tracking, tmp_path):
    result = mlflow_run("autokeras", tiny("autokeras"), lesson_env, tmp_path)
    assert_clean_failure(
        result, tracking, "autokeras", "AutoKeras is not installed: `pip install '.[automl]'`"
    )


needs_autokeras = pytest.mark.skipif(
    importlib.util.find_spec("autokeras") is None,
    reason="AutoKeras is not installed: pip install '.[automl]'",
)
# One trial of one epoch: AutoKeras's first image model trains in seconds on 2 CPUs.
SEARCH = {"max_trials": 1, "epochs": 1, "verbose": 0}


def autokeras_split(dataset: str):
    """The rows the autokeras entry point tests on, cut as it cuts them by default."""
    from pipelines.params import Params
    from steps import automl
    from steps.data import catalog

    defaults = Params()
    return automl.prepared(
        catalog.resolve(dataset).load(),
        val_fraction=defaults.val_fraction,
        test_fraction=defaults.test_fraction,
        seed=defaults.seed,
    ).data


@pytest.mark.slow
@needs_autokeras
def test_autokeras_searches_digits_and_its_model_predicts_in_a_new_process(
    lesson_env, tracking, tmp_path
):
    result = mlflow_run("autokeras", SEARCH, lesson_env, tmp_path)
    run = finished_run(result, tracking, "autokeras")
    assert "best of 1 AutoKeras trials" in result.stdout
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["lesson"] == "65" and tags["dataset"] == "digits"
    assert metrics["trials"] == 1
    assert metrics["test_accuracy"] > metrics["baseline_majority_accuracy"]
    assert_reads_true(tracking, run)
    trials = table(tracking, run, "search/trials.csv", tmp_path)
    assert len(trials) == 1 and trials["status"][0] == "COMPLETED"
    assert "image_block_1/block_type" in trials.columns  # the architecture AutoKeras chose
    artifacts = artifact_paths(tracking, run.info.run_id)
    assert "plots/confusion_matrix.png" in artifacts
    assert any(p.startswith("tensorboard/0/") and "tfevents" in p for p in artifacts)

    # `mlflow models predict` in a new process, where only the saved model brings AutoKeras
    # in: the logged model scores the run's test rows as the run said.
    data = autokeras_split("digits")
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"inputs": data.x_test.tolist()}))
    answer = tmp_path / "predictions.json"
    command = [str(MLFLOW), "models", "predict", "-m", tags["model_uri"], "-i", str(rows)]
    command += ["-t", "json", "-o", str(answer), "--env-manager", "local"]
    done = subprocess.run(command, env=lesson_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    probabilities = np.asarray(json.loads(answer.read_text())["predictions"])
    assert probabilities.shape == (len(data.y_test), 10)
    accuracy = np.mean(probabilities.argmax(axis=1) == data.y_test)
    assert accuracy == pytest.approx(metrics["test_accuracy"])
    requirements = mlflow.pyfunc.get_model_dependencies(tags["model_uri"])
    assert "autokeras==" in Path(requirements).read_text()


@pytest.mark.slow
@needs_autokeras
def test_autokeras_on_a_table_scores_the_rows_its_reloaded_model_predicts(
    lesson_env, tracking, tmp_path
):
    result = in_process("autokeras", SEARCH | {"dataset": "iris"}, lesson_env, tmp_path)
    run = finished_run(result, tracking, "autokeras")
    assert {"test_loss", "test_accuracy", "baseline_linear_accuracy"} <= run.data.metrics.keys()
    trials = table(tracking, run, "search/trials.csv", tmp_path)
    assert "structured_data_block_1/normalize" in trials.columns
    data = autokeras_split("iris")
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    probabilities = np.asarray(model.predict(data.x_test))
    assert probabilities.shape == (len(data.y_test), 3)
    accuracy = np.mean(probabilities.argmax(axis=1) == data.y_test)
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"])


@needs_autokeras
def test_autokeras_refuses_to_search_without_validation_rows(lesson_env, tracking, tmp_path):
    params = SEARCH | {"val_fraction": 0}
    result = in_process("autokeras", params, lesson_env, tmp_path)
    message = "AutoKeras ranks its trials on validation rows: use -P val_fraction > 0"
    assert_clean_failure(result, tracking, "autokeras", message)
