"""Lessons 79-80: sentences to numbers, then an Embedding (or none).

79 the Tokenizer numbers words, most frequent first; one-hot vectors would waste space (the
run logs how many numbers a text takes one-hot, as indices and embedded), so each text
becomes a padded row of word indices and the model's input layer is an Embedding; 80 an
LSTM or a Conv1D (`-P model=dnn|lstm|conv1d`, any family) reading the padded sequences
instead of an Embedding: `-P word_input=onehot` gives each word as a one-hot vector as wide
as the vocabulary (Keras's CategoryEncoding), `-P word_input=index` its bare index, one
number per step; `-P word_input=embedding,onehot` trains both, a child run each, and the
parent compares their parameter counts and scores (`comparison/sweep.csv`).

Keras 3 dropped `keras.preprocessing.text.Tokenizer`: `keras.layers.TextVectorization`
numbers and pads instead. It is the logged model's first layer, so the model takes raw text:
`mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": ["so much fun"]}))` (or an
object array; a numpy `<U` string array is refused by Keras). The vocabulary (index, word,
count) and each sentence's sequence are logged under `vocabulary/`.

    mlflow run . -e nlp_tokenize --env-manager local [-P model=lstm -P maxlen=5]
    mlflow run . -e nlp_tokenize --env-manager local -P model=lstm,conv1d \
        -P word_input=embedding,onehot
"""

from pipelines.params import Params
from steps import text, workflow
from steps.errors import UserError
from steps.track.tracker import Tracker
from steps.train import fit


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target, text=True)
    if not text.is_text(dataset):
        raise UserError(
            f"{params.dataset} is not a set of sentences; nlp_tokenize reads text (the default "
            "sentences); for word-index data use nlp_reuters or nlp_imdb"
        )
    fit.seed_everything(params.seed, params.deterministic)
    prepared = text.prepare_text(dataset, params.prepare_options())
    vectorize = text.vectorizer(prepared.data.x_train, params.num_words, params.maxlen)
    vocabulary = text.vocabulary_table(vectorize, prepared.data.x_train)
    tracker.log_table(vocabulary, "vocabulary/vocabulary.csv")
    tracker.log_table(text.sequences_table(vectorize, dataset.x_train), "vocabulary/sequences.csv")
    tracker.log_params({"vocabulary_size": len(vocabulary)})
    tracker.log_metrics(text.encoding_sizes(len(vocabulary), params.maxlen, params.embedding_dim))
    print(vocabulary.head(10).to_string(index=False))
    model = text.build_model(
        params.model,
        len(vocabulary),
        prepared,
        params.text_options(),
        params.model_options(),
        vectorize,
    )
    workflow.train_and_log(tracker, model, prepared, params.fit_options())
