"""Every parameter of every entry point, declared once: `Params`, and batch scoring's own
few (`PredictParams`, `python -m pipelines predict`) with the same marks.

Each field is one parameter: its name, type, default, range or choices, and one help
sentence. The entry-point table (`pipelines.entry_points`) says which parameters each entry
point takes and overrides their defaults or narrows their choices. From these two come the
command line and its `--help` (`pipelines.cli`), MLproject (`pipelines.mlproject`), the one
validation loop and its messages (`pipelines.declare.validate`), the run's logged
parameters (spelt by `steps.track.param_text`), and the step options (`Params.options`),
whose fields must each be a parameter here.

pydantic checks types and ranges; the messages come from the declared range or choices.
What the table needs from the steps (the option types, their choices) comes from their light
`options` modules, so importing it loads no Keras, MLflow, NumPy or pandas and `--help` and
parameter errors stay fast (tests/test_architecture.py walks the imports).
"""

from __future__ import annotations

import warnings
from dataclasses import fields
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from pipelines.declare import (
    Counts,
    Distinct,
    FileName,
    ModelName,
    NoPassword,
    Numbers,
    OneOf,
    Parsed,
    Size,
    Values,
    Zero,
    ZeroOr,
    commas,
    names_of,
    validate,
)
from steps.backends import BACKENDS, JIT_COMPILE, PRECISIONS
from steps.data import catalog
from steps.data.options import (
    LABELS,
    MISSING,
    SCALERS,
    SEPARATOR_WORDS,
    PrepareOptions,
    TableOptions,
)
from steps.model import families
from steps.model.options import ACTIVATIONS, INITIALIZERS, ModelOptions
from steps.options import BASES, MIN_SIZE, WORD_INPUTS, Recipe, TextOptions
from steps.train.options import (
    AUTO,
    DIRECTIONS,
    FOLD_MODES,
    OPTIMIZERS,
    PRUNERS,
    FitOptions,
    device_count_text,
)

FAMILY = OneOf(families.names)
Family = Annotated[str, FAMILY]
Off = Zero("off")
IO_PATTERNS = ("n_to_1", "1_to_n", "n_to_n")
VAL_MODES = ("split", "fraction")
APIS = ("functional", "sequential")
# Keras metric names, checked against Keras when the model is compiled (Keras is not
# imported while the parameters are read: the backend is chosen after that).
MetricNames = Annotated[
    tuple[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*$")], ...],
    Parsed(
        commas,
        f"give Keras metric names like mae,mse or accuracy, each once ({AUTO}: the task's "
        "own; empty: the loss alone)",
    ),
    Distinct(),
]


ColumnNames = Annotated[
    tuple[str, ...], Parsed(commas, "give column names like id,name, each once"), Distinct()
]


def data_sets() -> str:
    return f"a data set: {', '.join(sorted(catalog.NAMED))}, or {catalog.uri_forms()}"


# `-P register=` shadows ABCMeta's `register` on the class, which nothing here calls.
warnings.filterwarnings("ignore", 'Field name "register" in "Params" shadows', UserWarning)


class Params(BaseModel):
    """The table of parameters. Groups below say which entry points usually take which."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True
    )

    # -- data: what is learnt, and how it is split and scaled
    dataset: str = Field("digits", description=data_sets())
    target: str = Field("", description="the column to predict in a csv: file")
    scaler: Annotated[str, OneOf(SCALERS)] = Field(
        "auto",
        description="feature scaling fitted on the training rows (auto: pixels / their "
        "maximum for images, standard otherwise)",
    )
    val_fraction: float = Field(
        0.2, ge=0, lt=1, description="share of the training rows kept for validation"
    )
    test_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="share of the rows held out for the test metrics, when the data set "
        "has no test split of its own",
    )
    labels: Annotated[str, OneOf(LABELS)] = Field(
        "onehot", description="classes as one-hot rows or as integers (sparse)"
    )
    # -- the model
    model: Family = Field("dnn", description="the model family (steps/model/families.py)")
    units: int = Field(
        64, ge=1, description="units of each hidden Dense, recurrent or Conv1D layer"
    )
    layers: int = Field(
        2,
        ge=0,
        le=64,
        description="hidden layers: Dense (dnn, and after the conv blocks of cnn), recurrent "
        f"or Conv1D (the others), {families.depth_rule()}",
    )
    filters: Counts = Field((32, 64), description="Conv2D filters of each conv block (cnn)")
    pool_last: bool = Field(True, description="MaxPooling2D after the last conv block too (cnn)")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout rate after each hidden layer")
    batch_norm: bool = Field(False, description="BatchNormalization after each hidden layer")
    activation: Annotated[str, OneOf(ACTIVATIONS)] = Field(
        "relu", description="activation of the hidden layers"
    )
    initializer: Annotated[str, OneOf(INITIALIZERS)] = Field(
        "glorot_uniform", description="how each layer's kernel starts"
    )
    l1: Annotated[float, Off] = Field(0.0, ge=0, le=1, description="L1 penalty on each kernel")
    l2: Annotated[float, Off] = Field(0.0, ge=0, le=1, description="L2 penalty on each kernel")
    # -- the fit
    epochs: int = Field(10, ge=1, description="passes over the training rows")
    batch_size: int = Field(32, ge=1, description="rows per gradient step")
    learning_rate: float = Field(0.001, gt=0, le=10, description="the optimizer's step size")
    optimizer: Annotated[str, OneOf(OPTIMIZERS)] = Field("adam", description="the optimizer")
    metrics: MetricNames = Field(
        (AUTO,),
        description="what Keras measures each epoch besides the loss",
    )
    patience: Annotated[int, Off] = Field(
        5,
        ge=0,
        description="EarlyStopping: epochs without a better validation loss before training "
        "stops (the best epoch's weights are kept)",
    )
    reduce_lr_patience: Annotated[int, Off] = Field(
        2,
        ge=0,
        description="ReduceLROnPlateau: epochs without a better validation loss before the "
        "learning rate is halved",
    )
    checkpoint: bool = Field(
        True,
        description="ModelCheckpoint: keep the best epoch's model as the run's "
        "checkpoints/best.keras",
    )
    folds: Annotated[int, ZeroOr(2, "one fit")] = Field(
        0,
        ge=0,
        le=20,
        description="a k-fold fit of training sets up to 10,000 rows: every training row "
        "trains, each fold's model is early-stopped on its own fold (larger sets: one fit)",
    )
    fold_mode: Annotated[str, OneOf(FOLD_MODES)] = Field(
        "ensemble",
        description="what the fold models make: their average, one Keras model (ensemble), "
        "or a new model trained on every row for their mean kept epoch (refit)",
    )
    jit_compile: Annotated[str, OneOf(JIT_COMPILE)] = Field(
        "auto", description="XLA compilation in model.compile (auto: Keras decides per backend)"
    )
    resume: bool = Field(
        False,
        description="continue where an interrupted run with the same parameters stopped "
        "(tune: its study, up to n_trials)",
    )
    # -- the run
    seed: int = Field(42, ge=0, le=2**32 - 1, description="seed of every random choice")
    deterministic: bool = Field(
        True,
        description="TensorFlow's deterministic kernels, so that the same seed gives the same "
        "metrics (false: runs may differ, and Keras may compile with XLA on a GPU machine)",
    )
    verbose: Annotated[int, OneOf((0, 1, 2))] = Field(
        2, description="Keras's output: 0 silent, 1 a progress bar, 2 one line per epoch"
    )
    backend: Annotated[str, OneOf(("", *BACKENDS))] = Field(
        "", description="the Keras backend (default: KERAS_BACKEND, else tensorflow)"
    )
    devices: Annotated[
        str, Parsed(device_count_text, "use all or a whole number of devices, 1 or more")
    ] = Field(
        "1",
        description="devices one training runs on: more than one trains data-parallel "
        "(JAX: DataParallel, TensorFlow: MirroredStrategy), batch_size staying the global "
        "batch; all: every GPU (without one, the CPU split in as many devices as JAX is "
        "given)",
    )
    mixed_precision: Annotated[str, OneOf(("", *PRECISIONS))] = Field(
        "", description="a Keras dtype policy such as mixed_float16 (default: float32)"
    )
    register: Annotated[str, ModelName()] = Field(
        "",
        description="register the run's model as a new version of this registered model; "
        "the alias champion moves to it when it scores better on its test rows "
        "('': register nothing)",
    )
    # -- lessons 01-16
    predict_inputs: Values = Field(
        (101.0, 102.0, 103.0), description="new inputs the trained model predicts"
    )
    val_mode: Annotated[str, OneOf(VAL_MODES)] = Field(
        "split",
        description="validation rows cut before fit (split) or by fit's validation_split "
        "(fraction)",
    )
    pattern: Annotated[str, OneOf(IO_PATTERNS)] = Field(
        "n_to_1", description="input:output columns, N:1, 1:N or N:N"
    )
    # -- time series (17-27, 62)
    window: int = Field(12, ge=1, description="time steps in each window")
    features: int = Field(1, ge=1, description="columns of the series fed in, the target first")
    api: Annotated[str, OneOf(APIS)] = Field(
        "functional", description="the Keras API the model is written in"
    )
    # -- saving and utilities (28-57)
    predict_npz: str = Field(
        "", description="an .npz file (array x) of your own samples for the reloaded model"
    )
    size: int = Field(1024, ge=1, le=16384, description="side of the timed square matmul")
    repeats: int = Field(5, ge=1, description="timed matmuls per device (the median is kept)")
    # -- tables and comparisons (42-46, 58-61)
    train_rows: Annotated[int, Zero("all")] = Field(
        0, ge=0, description="training rows kept: fewer rows, more overfitting"
    )
    models: names_of(FAMILY) = Field(
        ("dnn", "cnn", "lstm", "conv1d"), description="the model families compared"
    )
    path: str = Field("", description="a CSV file to learn from (wins over dataset)")
    missing: Annotated[str, OneOf(MISSING)] = Field(
        "impute",
        description="a csv's missing values: impute (a number's training median plus a "
        "was-missing column, text's own 'missing' category), drop the rows, or refuse",
    )
    sep: Annotated[str, OneOf(("", *SEPARATOR_WORDS))] = Field(
        "", description="a csv's separator ('': found in the file)"
    )
    encoding: str = Field(
        "", description="a csv's encoding, e.g. utf-8, cp949 or latin-1 ('': found)"
    )
    drop_columns: ColumnNames = Field((), description="a csv's columns not to learn from")
    keep_columns: ColumnNames = Field(
        (), description="a csv's text columns to learn from even with a value per row"
    )
    # -- images (63-64, 75-78)
    image_size: Size = Field((64, 64), description="height,width images are resized to")
    augment: bool = Field(False, description="random flips, rotations and zooms in training")
    base: Annotated[str, OneOf(tuple(BASES))] = Field(
        "mobilenet_v2", description="the pretrained Keras Applications base"
    )
    weights: str = Field(
        "imagenet",
        min_length=1,
        description="the base's starting weights: imagenet, none, or a weights file's path",
    )
    fine_tune_layers: Annotated[int, Off] = Field(
        0, ge=0, description="top layers of the base trained after the head, at lr / 10"
    )
    input_size: Annotated[int, ZeroOr(MIN_SIZE, "the data's own size")] = Field(
        0, ge=0, le=1024, description="side of the images the base sees"
    )
    alpha: float = Field(1.0, gt=0, description="mobilenet_v2's width multiplier")
    # -- text (79-83)
    num_words: Annotated[int, ZeroOr(4, "every word")] = Field(
        0, ge=0, description="keep the most frequent words, indices below this"
    )
    maxlen: int = Field(8, ge=1, description="words every text is padded or cut to")
    embedding_dim: int = Field(8, ge=1, description="length of each word's vector")
    bidirectional: bool = Field(False, description="each recurrent layer reads the text both ways")
    word_input: Annotated[str, OneOf(WORD_INPUTS)] = Field(
        "embedding",
        description="how words enter the model: an Embedding, one-hot vectors or bare indices",
    )
    max_trials: int = Field(3, ge=1, description="models AutoKeras tries")
    # -- search and training dynamics (66-72)
    n_trials: int = Field(
        20, ge=1, description="trials of the study in all, counting earlier runs and workers"
    )
    timeout: Annotated[int, Zero("no limit")] = Field(
        0, ge=0, description="seconds this run searches at most"
    )
    metric: str = Field(
        "", description="the per-epoch metric optimized (default: val_accuracy or val_loss)"
    )
    direction: Annotated[str, OneOf(("", *DIRECTIONS))] = Field(
        "", description="maximize or minimize the metric (default: from its name)"
    )
    pruner: Annotated[str, OneOf(PRUNERS)] = Field(
        "hyperband", description="what stops weak trials early"
    )
    storage: Annotated[str, NoPassword()] = Field(
        "",
        description="the Optuna storage URL of the study (default: the OPTUNA_STORAGE "
        "variable, else sqlite:///optuna.db)",
    )
    study_name: str = Field("", description="the study's name (default: tune-MODEL-DATASET)")
    space: str = Field(
        "",
        description="search space overrides, e.g. units=16:128,dropout=0:0.5,optimizer=adam|sgd",
    )
    worker: int = Field(
        0, ge=0, description="this worker's number: the sampler's seed is seed + worker"
    )
    retrain: bool = Field(True, description="retrain the best configuration and log its model")
    optimizers: names_of(OneOf(OPTIMIZERS)) = Field(
        OPTIMIZERS, description="the optimizers compared"
    )
    learning_rates: Numbers = Field(
        (0.001, 0.01), description="the learning rates each optimizer is tried with"
    )
    activations: names_of(OneOf(ACTIVATIONS)) = Field(
        ("sigmoid", "tanh", "relu", "elu", "selu", "gelu"),
        description="the activations compared",
    )

    @model_validator(mode="after")
    def fits_the_family(self) -> Params:
        families.check_layers(self.model, self.layers)
        families.check_bidirectional(self.model, self.bidirectional)
        return self

    # ---- what the steps take

    def options(self, kind: type[Options]) -> Options:
        """A step's options (FitOptions, ModelOptions...), each field from its parameter."""
        return kind(**{f.name: getattr(self, f.name) for f in fields(kind)})

    def recipe(self) -> Recipe:
        return Recipe(
            self.model,
            self.options(PrepareOptions),
            self.options(ModelOptions),
            self.options(FitOptions),
        )

    def fit_options(self) -> FitOptions:
        return self.options(FitOptions)

    def model_options(self) -> ModelOptions:
        return self.options(ModelOptions)

    def prepare_options(self) -> PrepareOptions:
        return self.options(PrepareOptions)

    def text_options(self) -> TextOptions:
        return self.options(TextOptions)

    def table_options(self) -> TableOptions:
        return self.options(TableOptions)

    def but(self, **changes: object) -> Params:
        """A copy with some values changed, checked like the originals."""
        return validate(type(self), {**self.__dict__, **changes})


class PredictParams(BaseModel):
    """`python -m pipelines predict` (pipelines/predict.py): a logged model scores a file. Not
    a lesson, so not in `Params` (whose `model` is a family); the command line, its `--help`,
    its messages and MLproject's `predict` entry come from here as the lessons' do from Params."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True
    )

    model: str = Field(
        min_length=1,
        description="the model to score (models:/NAME@ALIAS, runs:/ID/NAME or another model URI)",
    )
    # A Path is MLflow's `path` type: `mlflow run` makes it absolute from where it was typed.
    input: Annotated[Path, FileName((".csv", ".npz"), "a .csv or an .npz file", existing=True)] = (
        Field(description="the raw rows to score")
    )
    # Text: the predictions are written where the command runs.
    output: Annotated[str, FileName((".csv",), "a .csv file")] = Field(
        "predictions.csv", description="where the predictions are written"
    )
    chunk_size: int = Field(1024, ge=1, description="rows per predict call")


Options = TypeVar("Options")
# Every option type a step takes; a test checks each field is a parameter above.
STEP_OPTIONS: tuple[type, ...] = (
    PrepareOptions,
    ModelOptions,
    FitOptions,
    TextOptions,
    TableOptions,
)

# Which entry points take which parameters (the registry composes these).
DATA = ("dataset", "target", "scaler", "val_fraction", "test_fraction", "labels")
ARCHITECTURE = tuple(f.name for f in fields(ModelOptions))
FIT = (
    "epochs",
    "batch_size",
    "learning_rate",
    "optimizer",
    "metrics",
    "patience",
    "reduce_lr_patience",
    "checkpoint",
)
# The k-fold fit of small tables (steps.train.folds): the entry points that fit a table.
FOLDS = ("folds", "fold_mode")
RUN = (
    "seed",
    "deterministic",
    "verbose",
    "backend",
    "devices",
    "mixed_precision",
    "jit_compile",
    "register",
)
TRAINING = (*DATA, "model", *ARCHITECTURE, *FIT, "resume", *RUN)
# How a csv: table is read and its features made (csv, tabular, timeseries).
TABLE = ("missing", "sep", "encoding", "drop_columns", "keep_columns")
