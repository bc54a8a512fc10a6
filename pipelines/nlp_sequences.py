"""Lessons 81-83: Keras's text data sets, already numbered word by word.

81 Reuters newswires, 46 topics (softmax); 82 IMDB reviews, positive or negative (one
sigmoid unit, binary_crossentropy); 83 `-P bidirectional=true` reads each text both ways.
`-P num_words=N` keeps the N most frequent words (the rest become the out-of-vocabulary
index 2), `-P maxlen=N` pads or cuts every text to N words with `keras.utils.pad_sequences`
(unlike the loader's own `maxlen`, which drops longer texts). `-P model=dnn|lstm|gru|conv1d`
picks what follows the Embedding; `-P word_input=onehot` (lesson 80) feeds it one-hot words
instead of an Embedding, `num_words` values per word (keep num_words small: 1000 words at
maxlen 200 make 200,000 values per text). The run logs the vocabulary and a few test texts
decoded back to words with their predicted class.

The archives hold pickled lists; they are read with a restricted unpickler that builds
numpy arrays and lists only (never `np.load(allow_pickle=True)`), official copy or mirror.

    mlflow run . -e nlp_reuters --env-manager local [-P model=gru -P num_words=5000]
    mlflow run . -e nlp_imdb --env-manager local -P bidirectional=true
"""

from pipelines.params import Params
from steps import text, workflow
from steps.data.sources.text_sets import WORD_INDEXES, word_index
from steps.track.tracker import Tracker
from steps.train import fit

SAMPLES = 20


def run(params: Params, tracker: Tracker) -> None:
    dataset = text.load_sequences(
        tracker, params.dataset, num_words=params.num_words, maxlen=params.maxlen
    )
    fit.seed_everything(params.seed, params.deterministic)
    prepared = text.prepare_text(dataset, params.prepare_options())
    size = text.vocabulary_size(dataset, params.num_words)
    words: dict[int, str] = {}
    if params.dataset in WORD_INDEXES:
        words = word_index(params.dataset)
        tracker.log_table(text.index_table(words, size), "vocabulary/vocabulary.csv")
    tracker.log_params({"vocabulary_size": size})
    tracker.log_metrics(text.encoding_sizes(size, params.maxlen, params.embedding_dim))
    model = text.build_model(
        params.model, size, prepared, params.text_options(), params.model_options()
    )
    trained = workflow.train_and_log(tracker, model, prepared, params.fit_options())
    data = prepared.data
    samples = text.samples_table(
        data.x_test[:SAMPLES],
        data.y_test[:SAMPLES],
        trained.predictions[:SAMPLES],
        prepared.class_names,
        words,
    )
    tracker.log_table(samples, "predictions/samples.csv")
