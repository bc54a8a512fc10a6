"""Entry-point name -> pipeline module, lessons and default parameters.

To add a lesson: write `pipelines/<module>.py` with `run(params, tracker)`, add an entry
here, then `make mlproject` and a row in the README table.
"""

from dataclasses import dataclass, replace

from pipelines.params import (
    Activations,
    AutoKeras,
    Basic,
    Common,
    CompareModels,
    Csv,
    DenseOnly,
    GpuCheck,
    ImageFolder,
    IoPatterns,
    Optimizers,
    Overfitting,
    PrepareData,
    Recurrent,
    SaveLoad,
    SeriesEnsemble,
    Text,
    Transfer,
    Tune,
    Validation,
    Windowed,
)


@dataclass(frozen=True)
class EntryPoint:
    name: str
    module: str  # pipelines.<module>.run(params, tracker)
    lessons: str
    summary: str
    defaults: Common


MNIST_CNN = Common(  # the keras-io mnist_convnet model
    dataset="mnist",
    model="cnn",
    filters="32,64",
    pool_last=True,
    layers=0,
    dropout=0.5,
    epochs=15,
    batch_size=128,
    patience=3,
    val_fraction=0.1,
)
CIFAR_CNN = Common(  # the TensorFlow CNN tutorial's model
    dataset="cifar10",
    model="cnn",
    filters="32,64,64",
    pool_last=False,
    layers=1,
    units=64,
    epochs=15,
    batch_size=64,
    patience=3,
    val_fraction=0.1,
)

TABULAR = Common(  # bench/tabular_scores.py: every bar of issue 3 holds on seed 42
    dataset="iris",
    model="dnn",
    units=32,
    layers=2,
    dropout=0.2,
    l2=0.0001,
    epochs=300,
    batch_size=16,
    patience=30,
)

# ---- issue 4, images: image aliases, image_folder, transfer
IMAGE_CLASSIFY = Common(  # any family on any image set; on digits the CNN scores >= 0.97
    dataset="digits",
    model="cnn",
    filters="32,64",
    pool_last=True,
    layers=1,
    units=128,
    dropout=0.2,
    epochs=60,
    batch_size=32,
    patience=10,
    val_fraction=0.1,
)
IMAGE_FAMILIES = {  # lessons 37-41: the same data sets with each model family
    "cnn": {"mnist": MNIST_CNN, "cifar10": CIFAR_CNN},
    "dnn": Common(
        model="dnn", units=256, layers=2, dropout=0.2, epochs=20, batch_size=128, patience=3,
        val_fraction=0.1,
    ),
    "lstm": Common(
        model="lstm", units=128, layers=1, epochs=15, batch_size=128, patience=3, val_fraction=0.1
    ),
}  # fmt: skip
IMAGE_SETS = {  # data set -> (lessons, what it is)
    "mnist": ("35-38", "MNIST digits"),  # 35-36 CNN, 37 DNN, 38 LSTM
    "fashion_mnist": ("40", "Fashion-MNIST clothes"),
    "cifar10": ("39", "CIFAR-10 photos"),
    "cifar100": ("41", "CIFAR-100 photos (100 classes)"),
}


def image_alias(family: str, dataset: str) -> Common:
    """The family's defaults on one data set; the CNN keeps keras-io's (MNIST-like) or the
    TensorFlow tutorial's (CIFAR) model."""
    defaults = IMAGE_FAMILIES[family]
    if isinstance(defaults, dict):
        defaults = defaults["cifar10" if dataset.startswith("cifar") else "mnist"]
    return replace(defaults, dataset=dataset)


def image_lessons(family: str, dataset: str) -> str:
    if dataset == "mnist":
        return {"cnn": "35-36", "dnn": "37", "lstm": "38"}[family]
    return IMAGE_SETS[dataset][0]


ENTRY_POINTS: dict[str, EntryPoint] = {
    e.name: e
    for e in (
        EntryPoint(
            "dnn_basic",
            "dnn_basic",
            "01-04",
            "a first Dense model on y = 2x + 1; predictions for new inputs",
            Basic(
                dataset="linear",
                units=16,
                epochs=200,
                batch_size=8,
                patience=20,
                learning_rate=0.01,
            ),
        ),
        EntryPoint(
            "dnn_regression",
            "dnn_regression",
            "05-09",
            "train/test split, regression scored by RMSE, MAE and R2; depth via -P layers",
            Common(
                dataset="diabetes",
                units=32,
                layers=2,
                epochs=300,
                batch_size=16,
                patience=30,
                dropout=0.1,
            ),
        ),
        EntryPoint(
            "image_classify",
            "image_classify",
            "35-41",
            "any image data set with any model family (-P dataset= -P model=)",
            IMAGE_CLASSIFY,
        ),
        EntryPoint(
            "cnn_mnist",
            "image_classify",
            "35-36",
            "MNIST with a CNN: sample grid, one-hot labels, softmax",
            MNIST_CNN,
        ),
        EntryPoint(
            "cnn_cifar10",
            "image_classify",
            "39",
            "CIFAR-10 with the TensorFlow tutorial's CNN",
            CIFAR_CNN,
        ),
        # ---- issue 3, model APIs: validation, io_patterns, functional_dnn, ensemble
        EntryPoint(
            "validation",
            "validation",
            "10-11",
            "train/validation/test: validation rows cut before fit or by validation_split",
            Validation(
                dataset="diabetes",
                units=32,
                epochs=200,
                batch_size=16,
                patience=20,
            ),
        ),
        EntryPoint(
            "io_patterns",
            "io_patterns",
            "12",
            "input:output column patterns N:1, 1:N, N:N on the same toy series",
            IoPatterns(
                dataset="sequences",
                units=16,
                epochs=300,
                batch_size=8,
                learning_rate=0.01,
                patience=30,
            ),
        ),
        EntryPoint(
            "functional_dnn",
            "functional_dnn",
            "15",
            "the functional API beside the Sequential model with the same layers",
            DenseOnly(
                dataset="diabetes",
                units=32,
                epochs=200,
                batch_size=16,
                patience=20,
            ),
        ),
        EntryPoint(
            "ensemble",
            "ensemble",
            "16",
            "two inputs merged by Concatenate, two outputs with a loss each",
            DenseOnly(
                dataset="sequences",
                units=16,
                layers=1,
                epochs=300,
                batch_size=8,
                learning_rate=0.01,
                patience=30,
            ),
        ),
        # ---- issue 3, sequences: rnn, rnn_ensemble, timeseries
        EntryPoint(
            "rnn",
            "rnn",
            "17-22",
            "LSTM, SimpleRNN or GRU (-P cell=), functional or Sequential API, stacked layers",
            Recurrent(units=32, layers=1, epochs=100, batch_size=16, patience=10),
        ),
        EntryPoint(
            "rnn_ensemble",
            "rnn_ensemble",
            "23-24",
            "two series as two inputs, an LSTM each, merged with Concatenate; EarlyStopping",
            SeriesEnsemble(units=16, layers=1, epochs=100, batch_size=16, patience=10),
        ),
        EntryPoint(
            "timeseries",
            "timeseries",
            "25-27,62",
            "split_x windows of a series (-P window= -P features=) into an LSTM, DNN or Conv1D",
            Windowed(units=32, layers=1, epochs=100, batch_size=16, patience=10),
        ),
        # ---- issue 3, saving and utilities: save_load, checkpoint, prepare_data, gpu_check
        EntryPoint(
            "save_load",
            "save_load",
            "28-31",
            "save as .keras, reload, same predictions; a wrong input shape gets a clear message",
            SaveLoad(
                dataset="diabetes",
                units=32,
                epochs=100,
                batch_size=16,
                patience=10,
            ),
        ),
        EntryPoint(
            "checkpoint",
            "checkpoint",
            "48-53",
            "ModelCheckpoint keeps the best epoch; weights-only reload; best vs last epoch",
            Common(
                dataset="diabetes",
                units=32,
                epochs=100,
                batch_size=16,
                patience=10,
            ),
        ),
        EntryPoint(
            "prepare_data",
            "prepare_data",
            "54-57",
            "put the example data sets in the npy cache (-P dataset=all or a comma list)",
            PrepareData(),
        ),
        EntryPoint(
            "gpu_check",
            "gpu_check",
            "47",
            "the Keras backend's devices and a timed matmul on each",
            GpuCheck(),
        ),
        # ---- issue 3, tables and comparisons: tabular, overfitting, csv, compare_models
        EntryPoint(
            "tabular",
            "tabular",
            "43-46, 61",
            "tables (boston_housing, diabetes, iris, breast_cancer, wine) with dnn|cnn|lstm|conv1d",
            TABULAR,
        ),
        EntryPoint(
            "overfitting",
            "overfitting",
            "42",
            "the same wide model with and without Dropout and L2; the train/val gap of each",
            Overfitting(
                dataset="breast_cancer",
                train_rows=0,
                units=512,
                layers=2,
                dropout=0.5,
                l2=0.0001,
                epochs=100,
                batch_size=16,
                patience=0,
            ),
        ),
        EntryPoint(
            "csv",
            "csv_table",
            "58-59",
            "a CSV read with pandas, profiled, learnt; test predictions written back as CSV",
            Csv(**vars(replace(TABULAR, dataset="wine"))),
        ),
        EntryPoint(
            "compare_models",
            "compare_models",
            "38, 43-46, 60-61",
            "several model families on one data set: score, size and time side by side",
            CompareModels(dataset="digits", epochs=30, patience=5),
        ),
        # ---- issue 4, images: image aliases, image_folder, transfer
        *(
            EntryPoint(
                f"{family}_{dataset}",
                "image_classify",
                image_lessons(family, dataset),
                f"{IMAGE_SETS[dataset][1]} with {'an' if family == 'lstm' else 'a'} "
                f"{family.upper()}",
                image_alias(family, dataset),
            )
            for family in IMAGE_FAMILIES
            for dataset in IMAGE_SETS
            if (family, dataset) not in (("cnn", "mnist"), ("cnn", "cifar10"))
        ),
        EntryPoint(
            "image_folder",
            "image_folder",
            "63-64",
            "a folder of class sub-folders (-P dataset=dir:PATH), resized, cached, CNN",
            ImageFolder(
                dataset="",
                model="cnn",
                filters="32,64,64",
                layers=1,
                units=64,
                dropout=0.2,
                epochs=30,
                batch_size=32,
                patience=5,
                val_fraction=0.2,
            ),
        ),
        EntryPoint(
            "transfer",
            "transfer",
            "75-78",
            "a pretrained base (-P base=, -P weights=), frozen, new head, optional fine-tuning",
            Transfer(
                dataset="cifar10",
                base="mobilenet_v2",
                weights="imagenet",
                dropout=0.2,
                epochs=10,
                batch_size=64,
                patience=3,
                val_fraction=0.1,
            ),
        ),
        # ---- issue 4, text: nlp_tokenize, nlp_reuters, nlp_imdb, autokeras
        EntryPoint(
            "nlp_tokenize",
            "nlp_tokenize",
            "79-80",
            "toy reviews -> TextVectorization -> padded indices -> Embedding -> dense/lstm/conv1d",
            Text(
                dataset="sentences",
                model="dense",
                maxlen=5,
                embedding_dim=8,
                units=8,
                layers=1,
                epochs=40,
                batch_size=4,
                patience=0,
                learning_rate=0.01,
            ),
        ),
        EntryPoint(
            "nlp_reuters",
            "nlp_sequences",
            "81",
            "Reuters newswires, 46 topics: num_words, maxlen, -P model=dense|lstm|conv1d|gru",
            Text(
                dataset="reuters",
                model="lstm",
                num_words=10000,
                maxlen=100,
                embedding_dim=64,
                units=64,
                layers=1,
                epochs=20,
                batch_size=64,
                patience=3,
                val_fraction=0.1,
            ),
        ),
        EntryPoint(
            "nlp_imdb",
            "nlp_sequences",
            "82-83",
            "IMDB reviews, positive or negative (a sigmoid unit); -P bidirectional=true",
            Text(
                dataset="imdb",
                model="lstm",
                num_words=10000,
                maxlen=200,
                embedding_dim=32,
                units=32,
                layers=1,
                epochs=10,
                batch_size=128,
                patience=2,
                val_fraction=0.2,
            ),
        ),
        EntryPoint(
            "autokeras",
            "autokeras",
            "65",
            "an AutoKeras model search (optional extra: pip install '.[automl]')",
            AutoKeras(dataset="digits", max_trials=3, epochs=10, patience=3),
        ),
        # ---- issue 5, search and training dynamics: tune, optimizers, activations
        EntryPoint(
            "tune",
            "tune",
            "66-67",
            "Optuna search (dnn, cnn or rnn): a child run per trial, pruning, best model retrained",
            Tune(dataset="breast_cancer", epochs=30, patience=5),
        ),
        EntryPoint(
            "optimizers",
            "optimizers",
            "68-70",
            "Adam, Adadelta, Adamax, Adagrad, RMSprop, SGD, Nadam x learning rates: loss curves",
            Optimizers(dataset="digits", epochs=20, patience=0),
        ),
        EntryPoint(
            "activations",
            "activations",
            "67, 71-72",
            "every Keras activation and its autodiff gradient; a training run per activation",
            Activations(dataset="digits", epochs=20, patience=0),
        ),
    )
}


def defaults_for(name: str, **overrides: object) -> Common:
    return replace(ENTRY_POINTS[name].defaults, **overrides)
