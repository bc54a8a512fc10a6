"""Text steps (lessons 79-83): words -> integer sequences -> Embedding -> a model body.

Lesson 79 used `keras.preprocessing.text.Tokenizer` and `pad_sequences`; Keras 3 dropped the
Tokenizer. `keras.layers.TextVectorization` does its job (lower-cases, splits, numbers the
words by frequency, most frequent first; 0 pads, 1 is `[UNK]`) and pads to
`output_sequence_length`. Being a layer, it goes inside the model, so the logged model takes
raw sentences. Keras's own archives (reuters, imdb) arrive already numbered; `steps.data.sources`
cuts and pads them with `keras.utils.pad_sequences`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from steps import workflow
from steps.data.dataset import Dataset
from steps.data.options import PrepareOptions
from steps.data.prepare import (
    IDENTITY,
    Prepared,
    Preprocessing,
    Split,
    encode_labels,
    split,
)
from steps.data.sources.text_sets import OOV_CHAR, TEXT_ARCHIVES, text_archive
from steps.errors import UserError
from steps.model import build, families
from steps.model.layers import recurrent_layers
from steps.model.options import ModelOptions
from steps.options import TextOptions
from steps.track.tracker import Tracker

if TYPE_CHECKING:  # pandas is imported where tables are made: `--help` stays fast
    import pandas as pd


def is_text(dataset: Dataset) -> bool:
    return dataset.x_train.ndim == 1 and dataset.x_train.dtype.kind in "UO"


def as_strings(x: np.ndarray) -> np.ndarray:
    """Keras takes text as an object array of str (a numpy `<U` array fails in fit)."""
    return np.array([str(t) for t in x], dtype=object)


def prepare_text(dataset: Dataset, options: PrepareOptions) -> Prepared:
    """Split like every lesson; texts stay strings (or word indices); two classes become one
    0/1 column for a sigmoid head, more classes one-hot or sparse as `options.one_hot` says."""
    if dataset.task != "classification":
        raise UserError(f"{dataset.name} is not labelled by class; the text lessons classify")
    parts = split(
        dataset,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        seed=options.seed,
    )
    words = as_strings if is_text(dataset) else (lambda x: np.asarray(x, dtype=np.int32))
    binary = dataset.n_classes == 2

    def labels(y: np.ndarray) -> np.ndarray:
        if binary:
            return np.asarray(y, dtype=np.float32).reshape(-1, 1)
        return encode_labels(y, dataset.n_classes, options.one_hot)

    shape = tuple(parts.x_train.shape[1:])
    return Prepared(
        task="classification",
        class_names=dataset.class_names,
        one_hot=options.one_hot and not binary,
        data=Split(
            words(parts.x_train),
            labels(parts.y_train),
            words(parts.x_val),
            labels(parts.y_val),
            words(parts.x_test),
            labels(parts.y_test),
        ),
        preprocessing=Preprocessing(shape, IDENTITY, IDENTITY),
    )


# ---------------------------------------------------------------- lesson 79: words to numbers


def vectorizer(texts: np.ndarray, num_words: int, length: int):
    """TextVectorization adapted on the training texts; num_words 0 keeps every word."""
    import keras

    from steps.backends import require_tensorflow

    # Its string ops and ragged tensors exist in TensorFlow only, and the model takes strings.
    require_tensorflow("a model that takes raw text (TextVectorization)")

    layer = keras.layers.TextVectorization(
        max_tokens=num_words or None, output_sequence_length=length, name="vectorize"
    )
    layer.adapt(as_strings(texts))
    return layer


def vocabulary_table(layer, texts: np.ndarray) -> pd.DataFrame:
    """index, word and how often it occurs in `texts`: frequent words first (lesson 79)."""
    import pandas as pd

    vocabulary = [str(word) for word in layer.get_vocabulary()]
    ragged = layer.get_config() | {"output_sequence_length": None, "ragged": True}
    counter = type(layer).from_config(ragged)
    counter.set_vocabulary(vocabulary[2:])  # without the reserved '' and [UNK]
    counts = Counter(int(i) for row in counter(as_strings(texts)) for i in np.asarray(row))
    return pd.DataFrame(
        {
            "index": range(len(vocabulary)),
            "word": vocabulary,
            "count": [counts.get(i, 0) for i in range(len(vocabulary))],
        }
    )


def sequences_table(layer, texts: np.ndarray) -> pd.DataFrame:
    """Each text beside its padded integer sequence (lesson 79's texts_to_sequences + pad)."""
    import pandas as pd

    rows = np.asarray(layer(as_strings(texts)))
    return pd.DataFrame({"text": list(texts), "sequence": [" ".join(map(str, r)) for r in rows]})


def encoding_sizes(vocabulary: int, length: int, embedding_dim: int) -> dict[str, int]:
    """Lesson 79: a one-hot text needs length x vocabulary numbers; an index per word and a
    shared Embedding table need far fewer."""
    return {
        "onehot_values_per_text": length * vocabulary,
        "index_values_per_text": length,
        "embedded_values_per_text": length * embedding_dim,
        "embedding_parameters": vocabulary * embedding_dim,
    }


# ---------------------------------------------------------------- lessons 81-83: Keras's archives


def load_sequences(tracker: Tracker, uri: str, *, num_words: int, maxlen: int) -> Dataset:
    """reuters / imdb cut to num_words and padded to maxlen while loading (one npy cache entry
    per cut); any other data set must hold integer sequences and is cut here."""
    if uri not in TEXT_ARCHIVES:
        dataset = workflow.load_dataset(tracker, uri)
        if dataset.x_train.ndim != 2 or dataset.x_train.dtype.kind not in "iu":
            raise UserError(
                f"{uri} does not hold word-index sequences (rows of integers); use reuters, "
                "imdb or an npz: file of padded integer sequences"
            )
        return replace(
            dataset,
            x_train=cut(dataset.x_train, num_words, maxlen),
            x_test=None if dataset.x_test is None else cut(dataset.x_test, num_words, maxlen),
        )
    source = text_archive(uri, num_words, maxlen)
    return workflow.load_dataset(tracker, uri, source=source)


def cut(x: np.ndarray, num_words: int, maxlen: int) -> np.ndarray:
    """Already-numbered sequences: words past num_words become OOV, then pad/cut to maxlen."""
    import keras

    x = np.asarray(x, dtype=np.int32)
    if num_words:
        x = np.where(x < num_words, x, OOV_CHAR)
    return keras.utils.pad_sequences(x, maxlen=maxlen, dtype="int32")


def vocabulary_size(dataset: Dataset, num_words: int) -> int:
    """The Embedding's input_dim: num_words, or every index the data uses."""
    largest = max(
        int(np.max(x, initial=0)) for x in (dataset.x_train, dataset.x_test) if x is not None
    )
    return num_words or largest + 1


def index_table(words: dict[int, str], size: int) -> pd.DataFrame:
    """The first `size` indices of a Keras word index (frequent words first)."""
    import pandas as pd

    return pd.DataFrame({"index": range(size), "word": [words.get(i, "") for i in range(size)]})


def decode(sequence: np.ndarray, words: dict[int, str]) -> str:
    return " ".join(words.get(int(i), f"#{int(i)}") for i in sequence if i != 0)


def samples_table(
    x: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    class_names: tuple[str, ...],
    words: dict[int, str],
) -> pd.DataFrame:
    """A few test texts, decoded back to words, with the true and the predicted class."""
    import pandas as pd

    from steps.train.evaluate import class_indices

    names = np.asarray(class_names)
    return pd.DataFrame(
        {
            "text": [decode(row, words) for row in x],
            "label": names[class_indices(truth)],
            "predicted": names[class_indices(predicted)],
        }
    )


# ---------------------------------------------------------------- the models


def estimate(
    family: families.Family,
    vocabulary: int,
    text: TextOptions,
    head: build.Head,
    opts: ModelOptions,
) -> list[families.Block]:
    """Parameter counts before allocating (lesson 03): the Embedding table, then the body."""
    shape = family.input_shape((text.maxlen, word_width(vocabulary, text)))
    blocks = build.estimate(family, shape, head, opts)
    if text.bidirectional:  # two recurrent stacks, and a head on twice the units
        blocks = [(f"Bidirectional {name}", 2 * count) for name, count in blocks]
    if text.word_input != "embedding":
        return blocks
    embedding = (f"Embedding {vocabulary}x{text.embedding_dim}", vocabulary * text.embedding_dim)
    return [embedding, *blocks]


def word_width(vocabulary: int, text: TextOptions) -> int:
    """How many numbers stand for one word where the body reads it."""
    return {"embedding": text.embedding_dim, "onehot": vocabulary, "index": 1}[text.word_input]


def words_in(x, vocabulary: int, text: TextOptions):
    """Lessons 79-80: the padded word indices as the body reads them. An Embedding learns a
    vector per word; without one, each word is a one-hot vector as wide as the vocabulary
    (Keras's CategoryEncoding), or its bare index scaled to 0-1, one number per step."""
    import keras

    if text.word_input == "onehot":
        return keras.layers.CategoryEncoding(vocabulary, output_mode="one_hot", name="onehot")(x)
    if text.word_input == "index":
        x = keras.layers.Rescaling(1.0 / vocabulary, name="index")(x)
        return keras.layers.Reshape((text.maxlen, 1), name="index_per_step")(x)
    return keras.layers.Embedding(vocabulary, text.embedding_dim, name="embedding")(x)


def body(x, family: families.Family, text: TextOptions, opts: ModelOptions):
    """The family's body on the embedded words (lessons 79-80), each recurrent layer wrapped
    in Bidirectional when asked (lesson 83)."""
    import keras

    if not text.bidirectional:
        return build.family_body(x, family, opts)
    for layer in recurrent_layers(family.cell, opts):
        if isinstance(layer, keras.layers.RNN):
            layer = keras.layers.Bidirectional(layer)
        x = layer(x)
    return x


def build_model(
    family: str,
    vocabulary: int,
    prepared: Prepared,
    text: TextOptions,
    opts: ModelOptions,
    vectorize=None,
    name: str = "",
):
    """(raw text -> `vectorize` ->) word indices -> Embedding (or one-hot vectors, or the
    bare indices: `text.word_input`) -> body -> head."""
    import keras

    chosen = families.get(family)
    families.check_layers(family, opts.layers)
    families.check_bidirectional(family, text.bidirectional)
    head = build.head_for(prepared)
    build.check_fits_in_memory(estimate(chosen, vocabulary, text, head, opts))
    if vectorize is None:
        inputs = keras.Input((text.maxlen,), dtype="int32", name="words")
        x = inputs
    else:
        inputs = keras.Input((), dtype="string", name="text")
        x = vectorize(inputs)
    x = words_in(x, vocabulary, text)
    x = body(x, chosen, text, opts)  # before the head: layers draw their seeds in order
    outputs = build.head_layer(head)(x)
    prefix = "bidirectional_" if text.bidirectional else ""
    return keras.Model(inputs, outputs, name=name or f"{prefix}{family}")
