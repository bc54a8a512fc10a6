"""Text data sets: lesson 79's toy reviews, Reuters and IMDB in Keras's format (79-83)."""

from __future__ import annotations

import hashlib
import json
import pickle
from functools import partial
from pathlib import Path

import numpy as np

from steps.data.dataset import Dataset, Source
from steps.data.sources.keras_sets import ArraysOnlyUnpickler, split_like_keras
from steps.data.sources.remote import KERAS_ORIGIN, Remote, fetch, keras_source
from steps.errors import UserError

# ----------------------------------------------------------------- text (lessons 79-83)

# Lesson 79's toy reviews (the study log's Korean sentences, in English): 1 positive, 0 negative.
SENTENCES: tuple[tuple[str, int], ...] = (
    ("so much fun", 1),
    ("truly the best", 1),
    ("a really well made movie", 1),
    ("a movie i want to recommend", 1),
    ("i want to see it once more", 1),
    ("well i am not sure", 0),
    ("not that good", 0),
    ("more boring than i thought", 0),
    ("the acting is awkward", 0),
    ("no fun", 0),
    ("really no fun at all", 0),
    ("truly fun", 1),
)
SENTIMENTS = ("negative", "positive")


def sentences() -> Source:
    def load() -> Dataset:
        texts, labels = zip(*SENTENCES, strict=True)
        return Dataset(
            name="sentences",
            task="classification",
            x_train=np.array(texts),
            y_train=np.array(labels, dtype=np.int64),
            class_names=SENTIMENTS,
        )

    key = hashlib.sha256(json.dumps(SENTENCES).encode()).hexdigest()[:16]
    return Source(name="sentences", key=key, load=load)


# Keras's text loaders: words are indexed by frequency from INDEX_FROM on; 0 pads, 1 starts
# a text, 2 stands for a word cut by num_words.
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
TEXT_NUM_WORDS, TEXT_MAXLEN = 10000, 200  # what `-P dataset=reuters|imdb` gives any pipeline
TEXT_SEED = 113  # the loaders' shuffling seed
# keras.datasets.reuters.get_label_names(), in label order
REUTERS_TOPICS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip
TEXT_ARCHIVES = {
    "reuters": Remote(
        "reuters.npz",
        KERAS_ORIGIN + "reuters.npz",
        "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
    ),
    "imdb": Remote(
        "imdb.npz",
        KERAS_ORIGIN + "imdb.npz",
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    ),
}
WORD_INDEXES = {  # Keras pins these two by MD5
    "reuters": Remote(
        "reuters_word_index.json",
        KERAS_ORIGIN + "reuters_word_index.json",
        "4d44cc38712099c9e383dc6e5f11a921",
    ),
    "imdb": Remote(
        "imdb_word_index.json",
        KERAS_ORIGIN + "imdb_word_index.json",
        "bfafd718b763782e994055a2d397834f",
    ),
}


def read_npy(handle) -> np.ndarray:
    """One .npy member; an object array (ragged lists of word indices) is unpickled by
    `ArraysOnlyUnpickler`, which builds numpy arrays, lists and numbers and nothing else."""
    version = np.lib.format.read_magic(handle)
    if version[0] == 1:
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    else:  # 2.0 and 3.0 share the header layout (3.0 only allows UTF-8 in it)
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    if not dtype.hasobject:
        handle.seek(0)
        return np.lib.format.read_array(handle, allow_pickle=False)
    array = ArraysOnlyUnpickler(handle).load()
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise ValueError(f"the pickled data is not the {shape} array its header announces")
    return array


def read_ragged_npz(path: Path, dataset: str) -> dict[str, np.ndarray]:
    """Keras's reuters.npz / imdb.npz without `np.load(allow_pickle=True)`: the same restricted
    reader for the pinned official file and for a mirror's unchecked copy."""
    import io
    import zipfile

    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as raw:
                        arrays[member.removesuffix(".npy")] = read_npy(io.BytesIO(raw.read()))
    except (zipfile.BadZipFile, ValueError, pickle.UnpicklingError, EOFError, OSError) as exc:
        raise UserError(f"cannot read {path} as Keras's {dataset}.npz: {exc}") from None
    return arrays


def archive_arrays(path: Path, dataset: str, keys: tuple[str, ...]) -> list[np.ndarray]:
    arrays = read_ragged_npz(path, dataset)
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise UserError(f"{path} has keys {sorted(arrays)}; Keras's {dataset}.npz has {keys}")
    return [arrays[key] for key in keys]


def encode_sequences(texts: np.ndarray, num_words: int, maxlen: int) -> np.ndarray:
    """The loaders' indexing (start mark, words from INDEX_FROM, OOV_CHAR past num_words; 0
    keeps every word), then `keras.utils.pad_sequences` to maxlen, padding and cutting at
    the front as the lessons do."""
    import keras

    try:
        rows = [np.asarray(text, dtype=np.int64).ravel() for text in texts]
    except (TypeError, ValueError) as exc:
        raise UserError(f"a text is not a list of word indices: {exc}") from None
    rows = [np.concatenate([[START_CHAR], row + INDEX_FROM]) for row in rows]
    if num_words:
        rows = [np.where(row < num_words, row, OOV_CHAR) for row in rows]
    return keras.utils.pad_sequences(rows, maxlen=maxlen, dtype="int32")


def parse_reuters(num_words: int, maxlen: int, paths: list[Path]) -> Dataset:
    """Keras's split: shuffle with seed 113, the last 20% are the test set."""
    texts, labels = archive_arrays(paths[0], "reuters", ("x", "y"))
    arrays = split_like_keras(encode_sequences(texts, num_words, maxlen), labels, seed=TEXT_SEED)
    return Dataset(name="reuters", task="classification", class_names=REUTERS_TOPICS, **arrays)


def parse_imdb(num_words: int, maxlen: int, paths: list[Path]) -> Dataset:
    """Keras's own train/test split, each shuffled in turn by one seed-113 generator."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    x_train, y_train, x_test, y_test = archive_arrays(paths[0], "imdb", keys)
    rng = np.random.RandomState(TEXT_SEED)
    train, test = np.arange(len(x_train)), np.arange(len(x_test))
    rng.shuffle(train)
    rng.shuffle(test)
    return Dataset(
        name="imdb",
        task="classification",
        x_train=encode_sequences(x_train[train], num_words, maxlen),
        y_train=np.asarray(y_train)[train],
        x_test=encode_sequences(x_test[test], num_words, maxlen),
        y_test=np.asarray(y_test)[test],
        class_names=SENTIMENTS,
    )


def text_archive(name: str, num_words: int = TEXT_NUM_WORDS, maxlen: int = TEXT_MAXLEN) -> Source:
    """reuters or imdb cut to num_words and padded to maxlen: one cache entry per cut."""
    parse = {"reuters": parse_reuters, "imdb": parse_imdb}[name]
    source = keras_source(name, (TEXT_ARCHIVES[name],), partial(parse, num_words, maxlen))
    return Source(name, f"{source.key}-words{num_words}-len{maxlen}", source.load)


def word_index(name: str) -> dict[int, str]:
    """Index -> word as the sequences of `text_archive(name)` number them."""
    path = fetch(name, WORD_INDEXES[name])
    try:
        words = json.loads(path.read_text())
        index = {int(i) + INDEX_FROM: str(word) for word, i in words.items()}
    except (ValueError, AttributeError) as exc:
        raise UserError(f"cannot read {path} as Keras's word index: {exc}") from None
    reserved = {0: "<pad>", START_CHAR: "<start>", OOV_CHAR: "<oov>", INDEX_FROM: "<unused>"}
    return index | reserved  # ranks start at 1, so INDEX_FROM itself numbers no word
