"""Lessons 65 and 79-83 end to end on tiny upstream-format files: each entry point through
the real `mlflow run` CLI once, other cases in process."""

from __future__ import annotations

import importlib.util

import mlflow
import numpy as np
import pandas as pd
import pytest

from helpers import upstream_files
from helpers.runs import (
    TINY,
    artifact_paths,
    assert_clean_failure,
    in_process,
    mlflow_run,
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
    sequences = table(tracking, run, "vocabulary/sequences.csv", tmp_path)
    assert len(sequences) == 12 and all(len(s.split()) == 5 for s in sequences["sequence"])
    assert "plots/confusion_matrix.png" in artifact_paths(tracking, run.info.run_id)
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    predictions = model.predict(pd.DataFrame({"text": ["so much fun", "not that good"]}))
    assert np.asarray(predictions).shape == (2, 1)


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
    assert set(samples["label"]) <= {"negative", "positive"}


def test_nlp_reuters_46_topics_with_a_gru(lesson_env, tracking, tmp_path):
    params = TEXT | {"model": "gru", "epochs": 3}
    result = mlflow_run("nlp_reuters", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "nlp_reuters", "classification", tmp_path)
    assert run.data.tags["lesson"] == "81" and run.data.params["n_samples"] == "80"
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    probabilities = np.asarray(model.predict(np.ones((2, 12), dtype=np.int32)))
    assert probabilities.shape == (2, 46)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    samples = table(tracking, run, "predictions/samples.csv", tmp_path)
    words = {"cocoa", "beans", "harvest", "grain", "wheat", "corn", "oil", "barrel", "crude"}
    assert samples["text"].str.split().explode().isin(words).any()  # decoded, not indices


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
