"""Typed parameters shared by the pipelines; MLproject is generated from these."""

from dataclasses import dataclass, fields
from typing import ClassVar

from steps.build import ModelOptions
from steps.errors import UserError
from steps.fit import OPTIMIZERS, FitConfig
from steps.prepare import FAMILIES, SCALERS, PrepareOptions
from steps.workflow import Recipe


@dataclass(frozen=True)
class Common:
    """Every dataset-taking entry point accepts these (DESIGN.md's common parameters)."""

    dataset: str = "digits"
    target: str = ""  # the column to predict for csv:PATH
    model: str = "dnn"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 0.001
    optimizer: str = "adam"
    seed: int = 42
    patience: int = 5
    reduce_lr_patience: int = 0
    verbose: int = 2
    scaler: str = "auto"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    labels: str = "onehot"
    units: int = 64
    layers: int = 2
    filters: str = "32,64"
    pool_last: bool = True
    dropout: float = 0.0
    batch_norm: bool = False
    activation: str = "relu"
    initializer: str = "glorot_uniform"
    l1: float = 0.0
    l2: float = 0.0
    resume: bool = False  # continue an interrupted run from its last finished epoch
    # Keras backend: tensorflow, jax or torch ('': the KERAS_BACKEND variable, else tensorflow)
    backend: str = ""
    mixed_precision: str = ""  # a Keras dtype policy such as mixed_float16 or mixed_bfloat16
    jit_compile: str = "auto"  # XLA compilation in model.compile: auto, true or false

    # Whether `-P resume=true` means "continue the interrupted training" (the CLI's per-epoch
    # backups); entry points whose `resume` means something else (a study) set it False.
    epoch_backups: ClassVar[bool] = True

    def validate(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "learning_rate": self.learning_rate > 0,
            "patience": self.patience >= 0,
            "reduce_lr_patience": self.reduce_lr_patience >= 0,
            "units": self.units >= 1,
            "layers": self.layers >= 0,
            "l1": self.l1 >= 0,
            "l2": self.l2 >= 0,
            "dropout": 0 <= self.dropout < 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise UserError(f"bad value {getattr(self, name)} for {name}: {RULES[name]}")
        choices = {
            "optimizer": OPTIMIZERS,
            "model": FAMILIES,
            "scaler": SCALERS,
            "labels": ("onehot", "sparse"),
            "verbose": (0, 1, 2),
            "backend": ("", *BACKENDS),
            "mixed_precision": ("", *PRECISIONS),
            "jit_compile": JIT_COMPILE,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"bad value {getattr(self, name)!r} for {name}: "
                    f"choose one of {', '.join(str(a) for a in allowed if a != '')}"
                )
        self.filter_sizes()

    def filter_sizes(self) -> tuple[int, ...]:
        try:
            sizes = tuple(int(part) for part in self.filters.split(","))
        except ValueError:
            sizes = ()
        if not sizes or min(sizes) < 1:
            raise UserError(f"bad value {self.filters!r} for filters: give counts like 32,64")
        return sizes

    def fit_config(self) -> FitConfig:
        names = {f.name for f in fields(FitConfig)}
        return FitConfig(**{k: v for k, v in vars(self).items() if k in names})

    def recipe(self) -> Recipe:
        return Recipe(self.model, self.prepare_options(), self.model_options(), self.fit_config())

    def prepare_options(self) -> PrepareOptions:
        return PrepareOptions(
            scaler=self.scaler,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            one_hot=self.labels == "onehot",
            seed=self.seed,
        )

    def model_options(self) -> ModelOptions:
        names = {f.name for f in fields(ModelOptions)} - {"filters"}
        options = {k: v for k, v in vars(self).items() if k in names}
        return ModelOptions(filters=self.filter_sizes(), **options)


BACKENDS = ("tensorflow", "jax", "torch")
# Keras dtype policies: the mixed ones compute in 16 bits and keep float32 variables.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")
JIT_COMPILE = ("auto", "true", "false")

RULES = {
    "epochs": "use 1 or more",
    "batch_size": "use 1 or more",
    "learning_rate": "use a number above 0, e.g. 0.001",
    "patience": "use 0 (off) or more",
    "reduce_lr_patience": "use 0 (off) or more",
    "units": "use 1 or more",
    "layers": "use 0 or more",
    "l1": "use 0 (off) or a small positive number",
    "l2": "use 0 (off) or a small positive number",
    "dropout": "use a fraction from 0 up to (not including) 1",
}


@dataclass(frozen=True)
class Basic(Common):
    """dnn_basic adds the new inputs whose predictions lesson 02 checks."""

    predict_inputs: str = "101,102,103"

    def new_inputs(self) -> list[float]:
        try:
            return [float(part) for part in self.predict_inputs.split(",")]
        except ValueError:
            raise UserError(
                f"bad value {self.predict_inputs!r} for predict_inputs: give numbers like 101,102"
            ) from None


# ---- issue 3, model APIs: validation, io_patterns, functional_dnn, ensemble


@dataclass(frozen=True)
class Validation(Common):
    """Lessons 10-11: validation rows cut before fit (split) or by fit itself (fraction)."""

    val_mode: str = "split"

    def validate(self) -> None:
        super().validate()
        if self.val_mode not in VAL_MODES:
            raise UserError(
                f"bad value {self.val_mode!r} for val_mode: choose one of {', '.join(VAL_MODES)}"
            )
        if not 0 < self.val_fraction < 1:
            raise UserError(
                f"bad value {self.val_fraction} for val_fraction: this lesson needs validation "
                "rows; use a fraction above 0 and below 1, e.g. 0.2"
            )


VAL_MODES = ("split", "fraction")


@dataclass(frozen=True)
class DenseOnly(Common):
    """Entry points that write their Dense model out themselves: no other model family."""

    def validate(self) -> None:
        super().validate()
        if self.model != "dnn":
            raise UserError(
                f"bad value {self.model!r} for model: this entry point builds its own Dense "
                "layers; use dnn (or image_classify for other families)"
            )


@dataclass(frozen=True)
class IoPatterns(DenseOnly):
    """Lesson 12: how many columns go in and come out."""

    pattern: str = "n_to_1"

    def validate(self) -> None:
        super().validate()
        if self.pattern not in IO_PATTERNS:
            raise UserError(
                f"bad value {self.pattern!r} for pattern: choose one of {', '.join(IO_PATTERNS)}"
            )


IO_PATTERNS = ("n_to_1", "1_to_n", "n_to_n")

# ---- issue 3, sequences: rnn, rnn_ensemble, timeseries


@dataclass(frozen=True)
class Windowed(Common):
    """timeseries (25-27, 62): a series cut into `window` steps -> the next value, from its
    first `features` columns (the target first)."""

    dataset: str = "series"
    model: str = "lstm"
    window: int = 12
    features: int = 1

    # the families that read a window: lstm/conv1d as (steps, features), dnn flattened
    families = ("lstm", "dnn", "conv1d")

    def validate(self) -> None:
        super().validate()
        for name in ("window", "features"):
            if getattr(self, name) < 1:
                raise UserError(f"bad value {getattr(self, name)} for {name}: use 1 or more")
        if self.model not in self.families:
            raise UserError(
                f"bad value {self.model!r} for model: choose one of {', '.join(self.families)}"
            )
        if self.model == "lstm" and self.layers < 1:
            raise UserError(f"bad value {self.layers} for layers: an LSTM needs 1 or more")


@dataclass(frozen=True)
class Recurrent(Windowed):
    """rnn (17-22): the recurrent cell, the Keras API that builds it, stacking via layers."""

    cell: str = "lstm"
    api: str = "functional"

    families = ("lstm",)  # -P cell= picks LSTM, SimpleRNN or GRU

    def validate(self) -> None:
        from steps.build import RECURRENT_CELLS

        super().validate()
        for name, allowed in (("cell", tuple(RECURRENT_CELLS)), ("api", APIS)):
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"bad value {getattr(self, name)!r} for {name}: choose one of "
                    f"{', '.join(allowed)}"
                )


APIS = ("functional", "sequential")


@dataclass(frozen=True)
class SeriesEnsemble(Windowed):
    """rnn_ensemble (23-24): the target's past and the other columns as two inputs."""

    features: int = 3

    families = ("lstm",)

    def validate(self) -> None:
        super().validate()
        if self.features < 2:
            raise UserError(
                f"bad value {self.features} for features: an ensemble needs 2 or more "
                "(the target's input and at least one other column's)"
            )


# ---- issue 3, saving and utilities: save_load, checkpoint, prepare_data, gpu_check


@dataclass(frozen=True)
class SaveLoad(Common):
    """save_load: `-P predict_npz=PATH` (array `x`) feeds your own samples to the reloaded model."""

    predict_npz: str = ""


@dataclass(frozen=True)
class PrepareData(Common):
    """prepare_data trains nothing: only `dataset` (and `target` for csv:) matter."""

    dataset: str = "all"  # all (the eight example sets) or a comma list of names / URIs

    def validate(self) -> None:
        super().validate()
        if not self.dataset.strip(","):
            raise UserError("bad value '' for dataset: use all or a comma list like mnist,iris")


@dataclass(frozen=True)
class GpuCheck(Common):
    """gpu_check trains nothing: it times a size x size float32 matmul on each device.

    It subclasses Common only because every entry point shares the common parameters
    (MLproject's `<<: *common`, the CLI's `resume`); they are ignored here.
    """

    size: int = 1024
    repeats: int = 5

    def validate(self) -> None:
        super().validate()
        for name in ("size", "repeats"):
            if getattr(self, name) < 1:
                raise UserError(f"bad value {getattr(self, name)} for {name}: use 1 or more")


# ---- issue 3, tables and comparisons: tabular, overfitting, csv, compare_models


@dataclass(frozen=True)
class Overfitting(Common):
    """overfitting: a plain model and one with `dropout` and `l2`, on `train_rows` rows."""

    train_rows: int = 0  # keep only this many training rows: less data, more overfit (0: all)

    def validate(self) -> None:
        super().validate()
        if self.train_rows < 0:
            raise UserError(f"bad value {self.train_rows} for train_rows: use 0 (all) or more")
        if self.dropout == 0 and self.l1 == 0 and self.l2 == 0:
            raise UserError(
                "overfitting compares a model with and without regularization: "
                "set dropout, l2 or l1 above 0"
            )


@dataclass(frozen=True)
class CompareModels(Common):
    """compare_models: one child run per model family in `models`."""

    models: str = "dnn,cnn,lstm,conv1d"

    def families(self) -> tuple[str, ...]:
        from steps.compare import parse_list

        return parse_list("models", self.models, FAMILIES)

    def validate(self) -> None:
        super().validate()
        self.families()


@dataclass(frozen=True)
class Csv(Common):
    """csv: `-P path=FILE` (wins over dataset, as csv:FILE); else `dataset` is written out."""

    path: str = ""

    def source(self) -> str:
        return f"csv:{self.path}" if self.path else self.dataset


# ---- issue 4, images: image aliases, image_folder, transfer


@dataclass(frozen=True)
class ImageFolder(Common):
    """image_folder: `dir:PATH` images read at `image_size`, optional augmentation layers."""

    image_size: str = "64"  # height,width (or one number) the folder's images are resized to
    augment: bool = False

    def validate(self) -> None:
        super().validate()
        self.size()
        if self.model != "cnn":
            raise UserError(
                f"image_folder trains a CNN (model=cnn), not {self.model!r}; for other "
                "families use image_classify -P dataset=dir:PATH"
            )

    def size(self) -> tuple[int, int]:
        from steps.vision import parse_size

        return parse_size(self.image_size)


@dataclass(frozen=True)
class Transfer(ImageFolder):
    """transfer: a Keras Applications base, frozen, a new head, optional fine-tuning."""

    base: str = "mobilenet_v2"
    weights: str = "imagenet"  # imagenet, none, or the path of a weights file
    fine_tune_layers: int = 0  # after training the head, also train the base's top N layers
    input_size: int = 0  # side the base sees; 0: the data's own (at least 32)
    alpha: float = 1.0  # mobilenet_v2's width multiplier

    def validate(self) -> None:
        from steps.transfer import MIN_SIZE, check_choice

        Common.validate(self)
        self.size()
        check_choice(self.base, self.weights, self.alpha)
        if self.fine_tune_layers < 0:
            raise UserError(
                f"bad value {self.fine_tune_layers} for fine_tune_layers: use 0 (off) or more"
            )
        if 0 < self.input_size < MIN_SIZE or self.input_size < 0:
            raise UserError(
                f"bad value {self.input_size} for input_size: use 0 (automatic) or {MIN_SIZE}+"
            )


# ---- issue 4, text: nlp_tokenize, nlp_reuters, nlp_imdb, autokeras


@dataclass(frozen=True)
class Text(Common):
    """nlp_*: words -> integer sequences -> Embedding -> dense, lstm, conv1d or gru -> head."""

    dataset: str = "sentences"
    model: str = "dense"
    num_words: int = 0  # keep the most frequent words: indices below this (0: every word)
    maxlen: int = 8  # every text padded or cut to this many words
    embedding_dim: int = 8
    bidirectional: bool = False  # wrap each recurrent layer in Bidirectional (lesson 83)

    def validate(self) -> None:
        from dataclasses import replace

        from steps.text import RECURRENT, TEXT_MODELS

        if self.model not in TEXT_MODELS:
            raise UserError(
                f"bad value {self.model!r} for model: choose one of {', '.join(TEXT_MODELS)}"
            )
        Common.validate(replace(self, model=FAMILIES[0]))  # Common knows the image families
        for name in ("maxlen", "embedding_dim"):
            if getattr(self, name) < 1:
                raise UserError(f"bad value {getattr(self, name)} for {name}: use 1 or more")
        if 0 < self.num_words < 4 or self.num_words < 0:
            raise UserError(
                f"bad value {self.num_words} for num_words: use 0 (every word) or 4 or more "
                "(indices 0-2 are padding, start and out-of-vocabulary)"
            )
        if self.model != "dense" and self.layers < 1:
            raise UserError(f"bad value {self.layers} for layers: model={self.model} needs 1+")
        if self.bidirectional and self.model not in RECURRENT:
            raise UserError(
                f"bidirectional=true wraps a recurrent layer: use model=lstm or model=gru, "
                f"not {self.model}"
            )

    def text_model(self, vocabulary: int):
        from steps.text import TextModel

        return TextModel(
            self.model, vocabulary, self.maxlen, self.embedding_dim, self.bidirectional
        )


@dataclass(frozen=True)
class AutoKeras(Common):
    """autokeras: AutoKeras searches `max_trials` models on an image, text or table set."""

    dataset: str = "digits"
    max_trials: int = 3

    def validate(self) -> None:
        super().validate()
        if self.max_trials < 1:
            raise UserError(f"bad value {self.max_trials} for max_trials: use 1 or more")


# ---- issue 5, search and training dynamics: tune, optimizers, activations


@dataclass(frozen=True)
class Tune(Common):
    """tune: an Optuna study over `family`'s search space (steps/search.py's SPACES)."""

    epoch_backups: ClassVar[bool] = False  # `-P resume=true` continues the study instead

    family: str = "dnn"  # dnn, cnn or rnn (the lstm builder); wins over `model`
    n_trials: int = 20  # trials in the study in all, counting those of earlier runs and workers
    timeout: int = 0  # seconds this run searches at most (0: no limit)
    metric: str = ""  # per-epoch metric to optimize ('': val_accuracy or val_loss)
    direction: str = ""  # maximize or minimize ('': maximize for *accuracy, else minimize)
    pruner: str = "hyperband"  # hyperband, median or none (bench/tune_pruning.py compares them)
    storage: str = "sqlite:///optuna.db"  # Optuna storage URL; relative sqlite paths from cwd
    study_name: str = ""  # '': tune-<family>-<dataset>
    resume: bool = False  # continue an existing study (or create it) up to n_trials in all
    space: str = ""  # overrides, e.g. units=16:128,dropout=0:0.5,optimizer=adam|sgd
    worker: int = 0  # sampler seed = seed + worker: give parallel workers their own number
    retrain: bool = True  # retrain the best configuration and log its model

    def validate(self) -> None:
        from steps import search

        super().validate()
        choices = {
            "family": tuple(search.FAMILIES),
            "direction": ("", *search.DIRECTIONS),
            "pruner": search.PRUNERS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"bad value {getattr(self, name)!r} for {name}: "
                    f"choose one of {', '.join(a for a in allowed if a)}"
                )
        if self.n_trials < 1:
            raise UserError(f"bad value {self.n_trials} for n_trials: use 1 or more")
        if self.timeout < 0:
            raise UserError(f"bad value {self.timeout} for timeout: use 0 (no limit) or seconds")
        search.parse_space(self.family, self.space)


@dataclass(frozen=True)
class Optimizers(Common):
    """optimizers: one child run per optimizer x learning rate."""

    optimizers: str = ",".join(OPTIMIZERS)
    learning_rates: str = "0.001,0.01"

    def grid(self) -> list[tuple[str, float]]:
        from steps.compare import parse_list

        names = parse_list("optimizers", self.optimizers, OPTIMIZERS)
        try:
            rates = [float(part) for part in self.learning_rates.split(",") if part.strip()]
        except ValueError:
            rates = []
        if not rates or min(rates) <= 0:
            raise UserError(
                f"bad value {self.learning_rates!r} for learning_rates: "
                "give numbers above 0 like 0.001,0.01"
            )
        return [(name, rate) for name in names for rate in rates]

    def validate(self) -> None:
        super().validate()
        self.grid()


@dataclass(frozen=True)
class Activations(Common):
    """activations: plots every Keras activation; trains one child per name in `activations`."""

    activations: str = "sigmoid,tanh,relu,elu,selu,gelu"

    def names(self) -> tuple[str, ...]:
        from steps.compare import parse_list
        from steps.dynamics import ACTIVATIONS

        return parse_list("activations", self.activations, ACTIVATIONS)

    def validate(self) -> None:
        super().validate()
        self.names()
