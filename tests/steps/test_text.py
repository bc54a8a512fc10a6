"""steps.text and the text readers of steps.data.sources, in-process on a few rows."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from pipelines.entry_points import params_for
from steps import text
from steps.data.dataset import Dataset
from steps.data.sources import remote, text_sets
from steps.errors import UserError
from steps.model import build
from steps.train import evaluate

from helpers import upstream_files
from helpers.options import model_options, prepare_options, text_options


def test_encode_sequences_uses_keras_indexing_then_pads_at_the_front():
    texts = upstream_files._ragged([[1, 2, 3], [5, 6, 7, 8, 9, 10]])
    encoded = text_sets.encode_sequences(texts, num_words=8, maxlen=5)
    # start mark 1, words shifted by 3, indices >= 8 become OOV 2, pre-padding and pre-cutting
    np.testing.assert_array_equal(encoded, [[0, 1, 4, 5, 6], [2, 2, 2, 2, 2]])
    assert encoded.dtype == np.int32
    every_word = text_sets.encode_sequences(texts, num_words=0, maxlen=3)
    np.testing.assert_array_equal(every_word, [[4, 5, 6], [11, 12, 13]])


def test_reuters_is_split_as_keras_splits_it(tmp_path):
    path = upstream_files.write_reuters_npz(tmp_path, n=20)
    raw = np.load(path, allow_pickle=True)  # our own trusted fixture
    dataset = text_sets.parse_reuters(0, 40, [path])
    order = np.arange(20)
    np.random.RandomState(113).shuffle(order)
    assert len(dataset.x_train) == 16 and len(dataset.x_test) == 4
    first = np.asarray(raw["x"][order[0]]) + 3
    np.testing.assert_array_equal(dataset.x_train[0][-len(first) :], first)
    assert dataset.x_train[0][-len(first) - 1] == text_sets.START_CHAR
    np.testing.assert_array_equal(dataset.y_test, raw["y"][order[16:]])
    assert dataset.class_names[:3] == ("cocoa", "grain", "veg-oil") and dataset.n_classes == 46


def test_imdb_keeps_its_own_test_set(tmp_path):
    path = upstream_files.write_imdb_npz(tmp_path, n_train=10, n_test=6)
    dataset = text_sets.parse_imdb(10, 7, [path])
    assert dataset.x_train.shape == (10, 7) and dataset.x_test.shape == (6, 7)
    assert dataset.x_train.max() < 10 and dataset.class_names == ("negative", "positive")


def test_ragged_archive_reader_matches_numpy_on_honest_files(tmp_path):
    path = upstream_files.write_imdb_npz(tmp_path, n_train=8, n_test=4)
    ours = text_sets.read_ragged_npz(path, "imdb")
    with np.load(path, allow_pickle=True) as trusted:
        for key in trusted.files:
            assert ours[key].dtype == trusted[key].dtype
            assert [list(v) if isinstance(v, list) else v for v in ours[key]] == list(trusted[key])


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_runs_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    texts = np.empty(1, dtype=object)
    texts[0] = Payload(marker)
    path = tmp_path / "reuters.npz"
    np.savez(path, x=texts, y=np.zeros(1, dtype=np.int64))
    with pytest.raises(UserError, match=r"cannot read .*reuters.npz.*refusing to unpickle"):
        text_sets.read_ragged_npz(path, "reuters")
    assert not marker.exists()


def test_a_missing_key_names_what_the_archive_should_hold(tmp_path):
    path = tmp_path / "reuters.npz"
    np.savez(path, texts=np.zeros((2, 3)))
    with pytest.raises(UserError, match=r"has keys \['texts'\]; Keras's reuters.npz has"):
        text_sets.parse_reuters(0, 5, [path])


def test_word_index_decodes_the_sequences(tmp_path, monkeypatch):
    monkeypatch.setenv(remote.MIRROR_ENV, str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    upstream_files.write_text_word_index(tmp_path, "imdb")
    words = text_sets.word_index("imdb")
    assert words[0] == "<pad>" and words[1] == "<start>" and words[2] == "<oov>"
    assert words[1 + text_sets.INDEX_FROM] == "the"  # rank 1 is stored as 1 + 3
    assert text.decode(np.array([0, 1, 4, 2]), words) == "<start> the <oov>"


@pytest.fixture(scope="module")
def sentences():
    return text_sets.sentences().load()


def test_vocabulary_lists_frequent_words_first_with_their_counts(sentences):
    layer = text.vectorizer(sentences.x_train, 0, 4)
    table = text.vocabulary_table(layer, sentences.x_train)
    assert list(table["word"][:2]) == ["", "[UNK]"]
    counts = list(table["count"][2:])
    assert counts == sorted(counts, reverse=True)
    words = " ".join(sentences.x_train).split()
    assert set(table["word"][2:4]) == {"fun", "i"}  # four times each, the most of any word
    assert counts[0] == words.count("fun") == words.count("i") and sum(counts) == len(words)
    rows = text.sequences_table(layer, sentences.x_train)
    assert list(rows["text"]) == list(sentences.x_train)
    index = dict(zip(table["word"], table["index"], strict=True))
    expected = [index["so"], index["much"], index["fun"], 0]  # padded at the end to 4
    assert [int(i) for i in rows["sequence"][0].split()] == expected


def test_one_hot_size_against_indices_and_embedding():
    sizes = text.encoding_sizes(vocabulary=1000, length=20, embedding_dim=8)
    assert sizes == {
        "onehot_values_per_text": 20_000,
        "index_values_per_text": 20,
        "embedded_values_per_text": 160,
        "embedding_parameters": 8000,
    }


def test_two_classes_get_one_sigmoid_column(sentences):
    prepared = text.prepare_text(sentences, prepare_options(seed=0))
    assert prepared.data.y_train.shape[1:] == (1,) and prepared.data.x_train.dtype == object
    assert build.head_for(prepared) == build.BINARY
    probabilities = np.array([[0.9], [0.2], [0.51]], dtype=np.float32)
    np.testing.assert_array_equal(evaluate.class_indices(probabilities), [1, 0, 1])


def test_the_string_model_takes_raw_sentences(sentences):
    prepared = text.prepare_text(sentences, prepare_options(seed=0))
    layer = text.vectorizer(prepared.data.x_train, 0, 5)
    options = text_options(maxlen=5, embedding_dim=4)
    model = text.build_model(
        "lstm", layer.vocabulary_size(), prepared, options, model_options(units=4, layers=1), layer
    )
    out = model.predict(text.as_strings(np.array(["so much fun", "no fun"])), verbose=0)
    assert out.shape == (2, 1) and np.all((out > 0) & (out < 1))


def word_indices():
    """30 rows of 6 word indices below 20, three classes, prepared for a text model."""
    rng = np.random.default_rng(0)
    dataset = Dataset(
        name="t",
        task="classification",
        x_train=rng.integers(0, 20, size=(30, 6)).astype(np.int32),
        y_train=np.arange(30) % 3,
        class_names=("a", "b", "c"),
    )
    return text.prepare_text(dataset, prepare_options(seed=0))


@pytest.mark.parametrize("kind", ["dnn", "conv1d", "gru", "cnn"])
def test_each_body_on_word_indices(kind):
    prepared = word_indices()
    options = text_options(maxlen=6, embedding_dim=4, bidirectional=kind == "gru")
    model = text.build_model(
        kind, 20, prepared, options, model_options(units=4, layers=1, filters=(4,))
    )
    assert model.predict(prepared.data.x_test, verbose=0).shape == (len(prepared.data.x_test), 3)
    layers = {type(layer).__name__ for layer in model.layers}
    assert "Embedding" in layers and ("Bidirectional" in layers) == (kind == "gru")


@pytest.mark.parametrize(
    ("word_input", "layer", "width"),
    [("embedding", "Embedding", 4), ("onehot", "CategoryEncoding", 20), ("index", "Reshape", 1)],
)
def test_lstm_reads_the_indices_with_or_without_an_embedding(word_input, layer, width):
    """Lesson 80: the LSTM on the padded sequences instead of after an Embedding: one-hot
    vectors as wide as the vocabulary, or the bare index, one number per step."""
    prepared = word_indices()
    options = text_options(maxlen=6, embedding_dim=4, word_input=word_input)
    model = text.build_model("lstm", 20, prepared, options, model_options(units=4, layers=1))
    lstm = next(x for x in model.layers if type(x).__name__ == "LSTM")
    assert lstm.input.shape == (None, 6, width)
    layers = [type(x).__name__ for x in model.layers]
    assert layer in layers and ("Embedding" in layers) == (word_input == "embedding")
    table = 20 * 4 if word_input == "embedding" else 0
    assert model.count_params() == table + 4 * (4 * (width + 4) + 4) + (4 * 3 + 3)
    assert model.predict(prepared.data.x_test, verbose=0).shape == (len(prepared.data.x_test), 3)


def test_a_huge_vocabulary_is_refused_before_allocating():
    dataset = Dataset(
        name="t",
        task="classification",
        x_train=np.zeros((10, 4), dtype=np.int32),
        y_train=np.arange(10) % 2,
        class_names=("a", "b"),
    )
    prepared = text.prepare_text(dataset, prepare_options(seed=0))
    options = text_options(maxlen=4, embedding_dim=64)
    with pytest.raises(UserError, match=r"model too large: .*Embedding 10000000000x64"):
        text.build_model("dnn", 10**10, prepared, options, model_options(units=4, layers=1))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "dense"}, "bad value 'dense' for model: choose one of dnn, cnn, lstm, gru"),
        ({"model": "dnn", "bidirectional": True}, "bidirectional=true wraps a recurrent layer"),
        ({"num_words": 2}, "bad value 2 for num_words: use 0 (every word) or 4 or more"),
        ({"maxlen": 0}, "bad value 0 for maxlen: use 1 or more"),
        ({"model": "lstm", "layers": 0}, "bad value 0 for layers: model=lstm needs 1 or more"),
        ({"epochs": 0}, "bad value 0 for epochs"),
    ],
)
def test_text_parameters_are_checked(params, message):
    with pytest.raises(UserError, match=re.escape(message)):
        params_for("nlp_imdb", **params)
