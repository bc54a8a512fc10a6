"""The entry points: name -> pipeline module, lessons, the parameters it takes, its defaults.

To add a lesson: write `pipelines/<module>.py` with `run(params, tracker)` and a docstring
naming its lessons, add its `EntryPoint` to ENTRY_POINTS below (its `shows` is its row in
docs/lessons.md), and run `make mlproject docs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import annotated_types as at

from pipelines.declare import OneOf, validate
from pipelines.params import DATA, FIT, FOLDS, RUN, TABLE, TRAINING, Params
from steps.data.catalog import label
from steps.errors import UserError
from steps.model import families


def without(names: tuple[str, ...], *dropped: str) -> tuple[str, ...]:
    return tuple(name for name in names if name not in dropped)


@dataclass(frozen=True)
class EntryPoint:
    name: str
    pipeline: str  # the module pipelines.<pipeline>, whose run(params, tracker) it calls
    lessons: str
    summary: str  # one line: `--help`, MLproject's comments, the experiment's description
    # What its run shows, for the lesson table of docs/lessons.md (Markdown; `make docs`).
    shows: str = ""
    takes: tuple[str, ...] = TRAINING  # its parameters; the others keep Params' defaults
    defaults: Mapping[str, object] = field(default_factory=dict)
    narrow: Mapping[str, tuple] = field(default_factory=dict)  # tighter choices or ranges
    rules: tuple[Callable[[Params], None], ...] = ()  # checks across parameters
    # `-P resume=true` continues the interrupted training from per-epoch backups; tune's
    # resume continues its study instead.
    epoch_backups: bool = True
    # What to say instead of "unrecognized" for a parameter it deliberately does not take.
    instead: Mapping[str, str] = field(default_factory=dict)
    # A number, switch, choice or data set given as a comma list trains a child run per
    # value (pipelines/sweep.py); not where the pipeline compares inside one run already.
    sweeps: bool = True

    def run_name(self, params: Params) -> str:
        """What the run did, as the runs table lists it: `cnn · cifar10` (an image alias),
        `tune dnn · iris`, `dnn_regression · diabetes`, `csv · wine.csv`."""
        data = label(params.dataset) if "dataset" in self.takes else ""
        if "path" in self.takes and params.path:  # csv's own file
            data = Path(params.path).name
        what = self.name
        if "model" in self.takes and not self.name.startswith(f"{params.model}_"):
            what = f"{self.name} {params.model}"
        elif self.name == f"{params.model}_{data}":
            what = params.model
        return f"{what} · {data}" if data else what

    def description(self) -> str:
        """What its experiment holds, for the experiment's page."""
        return f"Lessons {self.lessons}: {self.summary}."

    def params(self, **values: object) -> Params:
        """This entry point's defaults with `values`, checked: what its pipeline runs with."""
        foreign = [name for name in values if name not in self.takes]
        if foreign:
            raise UserError(f"{self.name} takes no parameter {foreign[0]!r}")
        merged = {**self.defaults, **values}
        family = values.get("model")
        if "layers" not in values and family in families.names():
            # A default depth adapts to the family chosen; a given one is checked as given.
            default = int(merged.get("layers", Params().layers))
            merged["layers"] = families.default_layers(family, default)
        params = validate(Params, merged, self.narrow)
        for check in self.rules:
            check(params)
        return params


# ---------------------------------------------------------------- checks across parameters


def regularizes(params: Params) -> None:
    if params.dropout == 0 and params.l1 == 0 and params.l2 == 0:
        raise UserError(
            "overfitting compares a model with and without regularization: "
            "set dropout, l2 or l1 above 0"
        )


def base_and_alpha(params: Params) -> None:
    from steps.transfer import check_choice

    check_choice(params.base, params.alpha)


def fine_tunes_pretrained(params: Params) -> None:
    """Fine-tuning unfreezes part of a pretrained base; a random base trains whole."""
    if params.fine_tune_layers and params.weights == "none":
        raise UserError(
            "fine_tune_layers needs pretrained weights (imagenet or a file): with "
            "weights=none the whole base trains from the start"
        )


def searchable_space(params: Params) -> None:
    """Every value `-P space=` lets a trial draw must be a valid parameter value."""
    from steps.train.search import parse_space

    for name, dimension in parse_space(params.model, params.space).items():
        for end in dimension.ends():
            try:
                validate(Params, {"model": params.model, name: end})
            except UserError as exc:
                raise UserError(f"space: {exc}") from None


def deep_enough_for_each(params: Params) -> None:
    """Every family compared is built at `-P layers=`: refused before the first one trains."""
    for family in params.models:
        families.check_layers(family, params.layers)


RECURRENT = {"model": (OneOf(families.recurrent_names),)}

# ---------------------------------------------------------------- defaults shared by several

MNIST_CNN = {  # the keras-io mnist_convnet model
    "dataset": "mnist",
    "model": "cnn",
    "filters": "32,64",
    "pool_last": True,
    "layers": 0,
    "dropout": 0.5,
    "epochs": 15,
    "batch_size": 128,
    "patience": 3,
    "val_fraction": 0.1,
}
CIFAR_CNN = {  # the TensorFlow CNN tutorial's model
    "dataset": "cifar10",
    "model": "cnn",
    "filters": "32,64,64",
    "pool_last": False,
    "layers": 1,
    "units": 64,
    "epochs": 15,
    "batch_size": 64,
    "patience": 3,
    "val_fraction": 0.1,
}
DNN_IMAGES = {
    "model": "dnn",
    "units": 256,
    "layers": 2,
    "dropout": 0.2,
    "epochs": 20,
    "batch_size": 128,
    "patience": 3,
    "val_fraction": 0.1,
}
LSTM_IMAGES = {
    "model": "lstm",
    "units": 128,
    "layers": 1,
    "epochs": 15,
    "batch_size": 128,
    "patience": 3,
    "val_fraction": 0.1,
}
TABULAR = {  # chosen by bench/choose_defaults.py (CV on training rows); tabular_scores.py reports
    "dataset": "iris",
    "model": "dnn",
    "units": 128,
    "layers": 2,
    "dropout": 0.2,
    "l2": 0.0001,
    "learning_rate": 0.001,
    "epochs": 300,
    "batch_size": 16,
    "patience": 30,
    "reduce_lr_patience": 10,  # CV: 0.844 against 0.847 without it, within the folds' spread
    "folds": 5,
}
# Where no search chose them, ReduceLROnPlateau waits about a third of EarlyStopping's patience
# (its default, 2, suits the patience of 3-5 of the image sets).
SMALL_TABLE = {
    "units": 32,
    "epochs": 100,
    "batch_size": 16,
    "patience": 10,
    "reduce_lr_patience": 3,
}
LONG_PATIENCE = {"patience": 20, "reduce_lr_patience": 6}
SERIES = {"dataset": "series", "model": "lstm", "units": 32, "layers": 1, **SMALL_TABLE}
TOY_COLUMNS = {  # lesson 12's sequences: a few columns, 100 rows
    "dataset": "sequences",
    "units": 16,
    "epochs": 300,
    "batch_size": 8,
    "learning_rate": 0.01,
    "patience": 30,
    "reduce_lr_patience": 10,
}
WINDOWS = (*TRAINING, "window", "features")
TEXT = (*TRAINING, "num_words", "maxlen", "embedding_dim", "bidirectional", "word_input")

# The image aliases: `<family>_<dataset>` runs image_classify on that data set with the
# family's image defaults. One row each: family, data set, lessons, summary, defaults, and
# what its run shows.
IMAGE_ALIASES = (
    (
        "cnn",
        "mnist",
        "35-36",
        "MNIST with a CNN: sample grid, one-hot labels, softmax",
        MNIST_CNN,
        "MNIST with a CNN (the keras-io `mnist_convnet` model)",
    ),
    (
        "dnn",
        "mnist",
        "37",
        "MNIST digits with a DNN",
        DNN_IMAGES,
        "MNIST with a DNN (flattened pixels)",
    ),
    (
        "lstm",
        "mnist",
        "38",
        "MNIST digits with an LSTM",
        LSTM_IMAGES,
        "MNIST with an LSTM (rows as time steps)",
    ),
    (
        "cnn",
        "cifar10",
        "39",
        "CIFAR-10 with the TensorFlow tutorial's CNN",
        CIFAR_CNN,
        "CIFAR-10 with the TensorFlow tutorial's CNN",
    ),
    ("dnn", "cifar10", "39", "CIFAR-10 photos with a DNN", DNN_IMAGES, "CIFAR-10 with a DNN"),
    ("lstm", "cifar10", "39", "CIFAR-10 photos with an LSTM", LSTM_IMAGES, "CIFAR-10 with an LSTM"),
    (
        "cnn",
        "fashion_mnist",
        "40",
        "Fashion-MNIST clothes with a CNN",
        MNIST_CNN,
        "Fashion-MNIST with a CNN",
    ),
    (
        "dnn",
        "fashion_mnist",
        "40",
        "Fashion-MNIST clothes with a DNN",
        DNN_IMAGES,
        "Fashion-MNIST with a DNN",
    ),
    (
        "lstm",
        "fashion_mnist",
        "40",
        "Fashion-MNIST clothes with an LSTM",
        LSTM_IMAGES,
        "Fashion-MNIST with an LSTM",
    ),
    (
        "cnn",
        "cifar100",
        "41",
        "CIFAR-100 photos (100 classes) with a CNN",
        CIFAR_CNN,
        "CIFAR-100 with a CNN (100 classes: per-class table, no per-class metrics)",
    ),
    (
        "dnn",
        "cifar100",
        "41",
        "CIFAR-100 photos (100 classes) with a DNN",
        DNN_IMAGES,
        "CIFAR-100 with a DNN (100 classes: per-class table, no per-class metrics)",
    ),
    (
        "lstm",
        "cifar100",
        "41",
        "CIFAR-100 photos (100 classes) with an LSTM",
        LSTM_IMAGES,
        "CIFAR-100 with an LSTM (100 classes: per-class table, no per-class metrics)",
    ),
)


def image_alias(
    family: str,
    dataset: str,
    lessons: str,
    summary: str,
    defaults: Mapping[str, object],
    shows: str,
) -> EntryPoint:
    return EntryPoint(
        name=f"{family}_{dataset}",
        pipeline="image_classify",
        lessons=lessons,
        summary=summary,
        shows=shows,
        defaults={**defaults, "dataset": dataset},
    )


ENTRY_POINTS: dict[str, EntryPoint] = {
    entry.name: entry
    for entry in (
        EntryPoint(
            name="dnn_basic",
            pipeline="dnn_basic",
            lessons="01-04",
            summary="a first Dense model on y = 2x + 1; predictions for new inputs",
            shows=(
                "a first Dense model on `y = 2x + 1`; loss, batch_size, epochs; predictions for "
                "new inputs (`-P predict_inputs=101,102,103`, logged as "
                "`predictions/new_inputs.csv`); a Dense layer too large for memory is refused "
                "before allocation (`-P units=2000000000`); compiled with no metrics (`-P "
                "metrics=` is empty here), Keras still reports the loss: the run logs `loss`, "
                "`val_loss` and `test_loss` (`-P metrics=mae,mse` adds those)"
            ),
            takes=(*TRAINING, "predict_inputs"),
            defaults={
                "dataset": "linear",
                "metrics": "",  # 04: the loss alone, as the lesson compiles it
                "units": 16,
                "epochs": 200,
                "batch_size": 8,
                **LONG_PATIENCE,
                "learning_rate": 0.01,
            },
        ),
        EntryPoint(
            name="input_shapes",
            pipeline="input_shapes",
            lessons="13",
            summary="input_dim vs input_shape vs keras.Input: what Keras 3 says of each, and "
            "the same parameter count",
            shows=(
                "the same network with its input width given as `Dense(units, input_dim=N)`, "
                "`Dense(units, input_shape=(N,))` and `keras.Input(shape=(N,))`: Keras 3.15 "
                'builds all three, warning on the first two ("Do not pass an '
                '`input_shape`/`input_dim` argument to a layer..."), with the same parameter '
                "count (`parameters/input_shapes.csv`, `parameters_<style>`); every builder takes "
                "the shape from the data with `keras.Input`"
            ),
            takes=("dataset", "target", "units", "seed", "backend"),
            defaults={"dataset": "diabetes", "units": 16},
        ),
        EntryPoint(
            name="dnn_regression",
            pipeline="dnn_regression",
            lessons="05-09",
            summary="train/test split, regression scored by RMSE, MAE and R2; depths compared "
            "with -P layers=1,4,8",
            shows=(
                "train/test split; regression scored by RMSE, MAE and R² (`test_rmse`, "
                "`test_mae`, `test_r2`), not accuracy; lesson 09's depth comparison in one "
                "command, `-P layers=1,4,8`: a "
                "[sweep](parameters.md#sweeps-one-parameter-several-values) whose parent charts "
                "`test_r2` per depth (`test_r2_layers_8`, `test_r2_ratio_layers_8`) and gives "
                "its verdict: the best depth and how far the deepest falls below it "
                "(`best_layers`, `deepest_shortfall`). One seed decides little: with `-P "
                "seed=1,2,3` each depth's R² is a mean ± sd; on diabetes 1 layer 0.432 ± 0.033, "
                "4 layers 0.404 ± 0.014, 8 layers 0.313 ± 0.088 (the deepest was best at one "
                "seed of the three)"
            ),
            takes=(*TRAINING, *FOLDS),
            # Chosen with diabetes among the tables; one fit, as lessons 05-09 show the split
            # into training, validation and test rows (-P folds=5: tabular's k-fold fit).
            defaults={**TABULAR, "dataset": "diabetes", "folds": 0},
        ),
        EntryPoint(
            name="validation",
            pipeline="validation",
            lessons="10-11",
            summary="train/validation/test: validation rows cut before fit or by validation_split",
            shows=(
                "validation rows cut before fit (`-P val_mode=split`) or by Keras's "
                "`validation_split` (`fraction`: the last training rows); `val_loss` per epoch "
                "beside `loss`, the rows each part got (`n_train`, `n_val`, `n_test`) and a "
                "`validation` tag saying how they were cut"
            ),
            takes=(*TRAINING, "val_mode"),
            defaults={"dataset": "diabetes", **SMALL_TABLE, "epochs": 200, **LONG_PATIENCE},
            narrow={"val_fraction": (at.Gt(0), at.Lt(1))},  # the lesson needs validation rows
        ),
        EntryPoint(
            name="io_patterns",
            pipeline="io_patterns",
            lessons="12",
            summary="input:output column patterns N:1, 1:N, N:N on the same toy series",
            shows=(
                "input:output columns N:1, 1:N, N:N (`-P pattern=n_to_1|1_to_n|n_to_n`) on the "
                "`sequences` toy; only the widths of Input and the last Dense change (`n_inputs`, "
                "`n_outputs`, `parameters`); each target column scored on its own "
                "(`test_y1_rmse`, ...)"
            ),
            takes=(*without(TRAINING, "model"), "pattern"),
            defaults=TOY_COLUMNS,
        ),
        EntryPoint(
            name="functional_dnn",
            pipeline="functional_dnn",
            lessons="15",
            summary="the functional API beside the Sequential model with the same layers",
            shows=(
                "the functional API beside the Sequential model with the same layers and "
                "parameter count (`sequential_parameters`, `functional_parameters`, both "
                "summaries under `models/`)"
            ),
            takes=without(TRAINING, "model"),
            defaults={"dataset": "diabetes", **SMALL_TABLE, "epochs": 200, **LONG_PATIENCE},
        ),
        EntryPoint(
            name="ensemble",
            pipeline="ensemble",
            lessons="16",
            summary="two inputs merged by Concatenate, two outputs with a loss each",
            shows=(
                "two named inputs merged with Concatenate, two outputs with their own loss and "
                "metrics per epoch; the model reloads with a dict of inputs"
            ),
            takes=without(TRAINING, "model"),
            defaults={**TOY_COLUMNS, "layers": 1},
        ),
        EntryPoint(
            name="rnn",
            pipeline="rnn",
            lessons="17-22",
            summary="LSTM, GRU or SimpleRNN (-P model=), functional or Sequential API, stacked",
            shows=(
                "LSTM / SimpleRNN / GRU (`-P model=lstm|simple_rnn|gru`), functional or "
                "Sequential API with the same parameters (`-P api=`), stacking with "
                "return_sequences (`-P layers=N`; `model_summary.txt` shows the shapes), on "
                "windows of a toy series"
            ),
            takes=(*WINDOWS, "api"),
            defaults=SERIES,
            narrow=RECURRENT,
        ),
        EntryPoint(
            name="rnn_ensemble",
            pipeline="rnn_ensemble",
            lessons="23-24",
            summary="two series as two inputs, a recurrent stack each, merged with Concatenate",
            shows=(
                "two sequence inputs (the target's past, the other columns), an LSTM each, "
                "Concatenate, one head; EarlyStopping; the model takes a dict keyed by input name"
            ),
            takes=WINDOWS,
            defaults={**SERIES, "units": 16, "features": 3},
            narrow={**RECURRENT, "features": (at.Ge(2),)},  # the target's input and another
        ),
        EntryPoint(
            name="timeseries",
            pipeline="timeseries",
            lessons="25-27,62",
            summary="split_x windows of a series (-P window= -P features=) into any model family",
            shows=(
                "`split_x` windows of a series (`-P window=`, first windows logged as CSV) into "
                "any model family (`-P model=lstm|gru|dnn|conv1d|...`); `-P features=N` feeds "
                "more columns (lesson 62); `csv:PATH -P target=COL` series; forecast plot"
            ),
            takes=(*WINDOWS, *TABLE),
            defaults=SERIES,
        ),
        EntryPoint(
            name="save_load",
            pipeline="save_load",
            lessons="28-31",
            summary="save as .keras, reload, same predictions; a wrong input shape gets a clear "
            "message",
            shows=(
                "save as `.keras` (`saved/model.keras`), reload (safe mode on), identical "
                "predictions (`reload_max_abs_diff` 0); a batch with one feature too many fed "
                "to Keras itself: Keras 3.15 raises `ValueError: Input 0 with name 'sample' of "
                "layer 'dnn' is incompatible with the layer: expected shape=(None, 10), found "
                "shape=(2, 11)` (Keras 2 only warned), captured as tag `keras_shape_check` "
                "beside the project's one-line explanation (`shape_check`), both in "
                "`shape_check.txt` and the terminal; your own samples of a wrong shape "
                "(`-P predict_npz=PATH`) fail the run with that line"
            ),
            takes=(*TRAINING, "predict_npz"),
            defaults={"dataset": "diabetes", **SMALL_TABLE},
        ),
        EntryPoint(
            name="image_classify",
            pipeline="image_classify",
            lessons="35-41",
            summary="any image data set with any model family (-P dataset= -P model=)",
            shows=(
                "any image data set with any model family: `-P "
                "dataset=digits|mnist|fashion_mnist|cifar10|cifar100|npz:PATH|dir:PATH -P "
                "model=cnn|dnn|lstm|gru|simple_rnn|conv1d` (default digits + CNN); sample grid, "
                "confusion matrix, per-class accuracy (`evaluation/per_class_accuracy.csv`, "
                "`plots/per_class_accuracy.png`, `test_accuracy_<class>` for ≤ 10 classes)"
            ),
            defaults={  # chosen by bench/choose_defaults.py (CV on digits' training rows)
                "dataset": "digits",
                "model": "cnn",
                "filters": "32,64",
                "pool_last": True,
                "layers": 0,  # keras-io's mnist_convnet: Flatten, Dropout, the softmax head
                "dropout": 0.5,
                "learning_rate": 0.003,
                "epochs": 100,
                "batch_size": 32,
                "patience": 20,
                "reduce_lr_patience": 7,  # CV: 0.983 against 0.982 without it, 62 epochs not 72
                "val_fraction": 0.1,
            },
        ),
        *(image_alias(*row) for row in IMAGE_ALIASES),
        EntryPoint(
            name="overfitting",
            pipeline="overfitting",
            sweeps=False,
            lessons="42",
            summary="the same wide model with and without Dropout and L2; the train/val gap of "
            "each",
            shows=(
                "a wide DNN with and without Dropout+L2 as two child runs, at a constant rate "
                "(no EarlyStopping, no ReduceLROnPlateau); the parent logs each train/val gap, "
                "both curves in one plot, and a comparison CSV; `-P train_rows=N` for less "
                "data. Its verdict, in the description and above the curves: how far each "
                "val_loss rose from its best epoch while the training loss fell; on "
                "breast_cancer the plain network's rose 0.12 from epoch 3 while its loss fell "
                "to 0.0000, the regularized one's 0.020 from epoch 66 (loss gap 0.21 against "
                "0.12; the same order at seeds 1 and 2)"
            ),
            takes=(*TRAINING, "train_rows"),
            defaults={
                "dataset": "breast_cancer",
                "units": 512,
                "layers": 2,
                "dropout": 0.5,
                # At a constant rate, L2 0.0001 let the regularized val_loss climb more than
                # the plain one at one seed of three (0.17 against 0.08); 0.001 less at all
                # three (seeds 42, 1, 2: 0.020, 0.031, 0.057 against 0.12, 0.14, 0.082).
                "l2": 0.001,
                "epochs": 100,
                "batch_size": 16,
                # Neither EarlyStopping nor ReduceLROnPlateau: both hide the climb the lesson
                # shows. With the rate halved (patience 2), plain val_loss rose 0.019 from its
                # best epoch; at a constant rate 0.12 (breast_cancer, seed 42).
                "patience": 0,
                "reduce_lr_patience": 0,
            },
            rules=(regularizes,),
        ),
        EntryPoint(
            name="tabular",
            pipeline="tabular",
            lessons="43-46, 61",
            summary="tables (boston_housing, diabetes, iris, breast_cancer, wine) with any model "
            "family",
            shows=(
                "tables (boston_housing, diabetes, iris, breast_cancer, wine, `csv:PATH`, "
                "`npz:PATH`) with any model family (`-P model=dnn|cnn|lstm|conv1d|...`): a row "
                "becomes a vector, a one-channel column image, or a sequence; classes scored by "
                "accuracy with a confusion matrix, numbers by RMSE/MAE/R² with "
                "`plots/predicted_vs_true.png`; a training set of up to 10,000 rows is fitted "
                "5-fold (`-P folds=5`): every row trains, each fold's model is early-stopped on "
                "its own fold, and the logged model averages the five (`-P fold_mode=refit`: "
                "one model refitted on every row); each fold's kept epoch and held-out score "
                "(`fold_held_out_*`, `cv_*`, `folds/folds.csv`) and every fold's curves in "
                "`plots/history.png`"
            ),
            takes=(*TRAINING, *FOLDS, *TABLE),
            defaults=TABULAR,
        ),
        EntryPoint(
            name="gpu_check",
            pipeline="gpu_check",
            sweeps=False,
            lessons="47",
            summary="the Keras backend's devices and a timed matmul on each",
            shows=(
                "the Keras backend's devices and a timed matmul on each (median s, GFLOP/s); says "
                "so when there is no GPU"
            ),
            takes=("size", "repeats", "backend"),
        ),
        EntryPoint(
            name="checkpoint",
            pipeline="checkpoint",
            lessons="48-53",
            summary="ModelCheckpoint keeps the best epoch; weights-only reload; best vs last epoch",
            shows=(
                "ModelCheckpoint keeps the best epoch; `.keras` and `.weights.h5` reload with "
                "identical predictions; best vs last epoch scored side by side "
                "(`checkpoint_epoch`, `last_epoch`); lesson 53's eight data sets in one parent "
                "run: `-P dataset=iris,wine,breast_cancer,diabetes,digits,...` (a sweep: "
                "`comparison/sweep.csv` holds each set's `best_epoch_test_*` and "
                "`last_epoch_test_*`)"
            ),
            takes=without(TRAINING, "checkpoint"),
            defaults={"dataset": "diabetes", **SMALL_TABLE},
            instead={"checkpoint": "ModelCheckpoint is this lesson's subject: it is always on"},
        ),
        EntryPoint(
            name="prepare_data",
            pipeline="prepare_data",
            sweeps=False,
            lessons="54-57",
            summary="put the example data sets in the npy cache (-P dataset=all or a comma list)",
            shows=(
                "warms the npy cache for `-P dataset=all` (or a list): hit/miss, rows, bytes, "
                "seconds per set (`cache/datasets.csv`, `<set>_seconds`, ...); skips the sets it "
                "cannot download, saying why"
            ),
            takes=("dataset", "target"),
            defaults={"dataset": "all"},
        ),
        EntryPoint(
            name="csv",
            pipeline="csv_table",
            lessons="58-59",
            summary="a CSV read with pandas, profiled, learnt; test predictions written as CSV",
            shows=(
                "a CSV read with pandas and profiled (shape, dtypes, missing, describe: "
                "`profile/profile.txt`, `profile/columns.csv`); test predictions written back "
                "beside the original rows (`predictions/test_predictions.csv`, `true` and "
                "`predicted` columns); `-P path=FILE -P target=COL`, or a bundled table written "
                "out first; missing values filled or dropped (`-P missing=`, "
                "`profile/missing.csv`), names and ids left out, dates as calendar features; the "
                "logged model takes the file's rows by column name"
            ),
            takes=(*TRAINING, *FOLDS, "path", *TABLE),
            defaults={**TABULAR, "dataset": "wine"},
        ),
        EntryPoint(
            name="compare_models",
            pipeline="compare_models",
            sweeps=False,
            lessons="38, 43-46, 60-61",
            summary="several model families on one data set: score, size and time side by side",
            shows=(
                "several model families on one data set as child runs: test score, parameter "
                "count, fit seconds, seconds per epoch side by side; each family's score and time "
                "as a share of the first's: `-P models=lstm,conv1d` logs lesson 60's claim as "
                "`test_accuracy_ratio_conv1d` (≈ 1) and `fit_seconds_ratio_conv1d` (< 1 when "
                "the conv1d is faster: one timing of each fit, tagged `timings`), and its "
                "verdict: whether the Conv1D's score is within 0.9-1.1 of the LSTM's in less "
                "time (`conv1d_claim_holds`); on digits the Conv1D scored 1.045 of the LSTM's "
                "accuracy in 0.50 of its time"
            ),
            takes=(*without(TRAINING, "model"), "models"),
            defaults={"dataset": "digits", "epochs": 30, "patience": 5},
            rules=(deep_enough_for_each,),
        ),
        EntryPoint(
            name="image_folder",
            pipeline="image_folder",
            lessons="63-64",
            summary="a folder of class sub-folders (-P dataset=dir:PATH), resized, cached, CNN",
            shows=(
                "a folder of class sub-folders (`-P dataset=dir:/abs/path`) read with "
                "`image_dataset_from_directory` (Keras 3 has no ImageDataGenerator), resized (`-P "
                "image_size=64` or `64,48`), cached as `.npy` by content; bad files skipped and "
                "listed (`skipped_files`); `-P augment=true` adds RandomFlip/Rotation/Zoom. "
                "Without `-P dataset=` it reads `digits_folder` (offline: the bundled digits "
                "written as a folder of PNG files, its path printed and tagged `folder`) through "
                "the same folder reader: about 1.5 min on 2 CPUs, test accuracy ≈ 0.97. Lesson "
                "64's two classes of photos: any folder with two class sub-folders (`female/`, "
                "`male/`), or `-P dataset=cats_vs_dogs` (downloaded once, read by the same reader)"
            ),
            takes=(*without(TRAINING, "model"), "image_size", "augment"),
            defaults={
                "dataset": "digits_folder",  # bundled: offline; read as dir:PATH is
                "filters": "32,64,64",
                "layers": 1,
                "units": 64,
                "dropout": 0.2,
                "epochs": 30,
                "batch_size": 32,
                "patience": 5,
                "val_fraction": 0.2,
            },
        ),
        EntryPoint(
            name="autokeras",
            pipeline="autokeras",
            sweeps=False,
            lessons="65",
            summary="an AutoKeras model search (optional extra: pip install '.[automl]')",
            shows=(
                "an AutoKeras model search (`-P max_trials=N`, each trial up to `-P epochs`, "
                "ranked on the validation rows): `ImageClassifier`/`ImageRegressor` for images "
                "(digits by default), the `StructuredData` ones for tables (`-P dataset=iris`); "
                "each trial's score and choices (`search/trials.csv`) and TensorBoard traces "
                "(`tensorboard/<trial>/`), the best model's test metrics beside the baselines, a "
                "confusion matrix, and the model, which reloads wherever AutoKeras is installed. "
                "An optional extra, `pip install '.[automl]'` (`make install` includes it): "
                "AutoKeras 3.0.0 builds its heads with NumPy integers that Keras 3.15 refuses as "
                "`Dense(units)`; `steps/automl.py` turns them into Python ints while the "
                "installed AutoKeras needs it (a test fails once it no longer does)"
            ),
            takes=(
                *without(DATA, "scaler", "labels"),
                "epochs",
                "batch_size",
                "patience",
                "max_trials",
                "seed",
                "verbose",
                "register",
            ),
            defaults={"dataset": "digits", "max_trials": 3, "epochs": 10, "patience": 3},
        ),
        EntryPoint(
            name="tune",
            pipeline="tune",
            sweeps=False,
            lessons="66-67",
            summary="Optuna search over any model family: a child run per trial, pruning, best "
            "model retrained",
            shows=(
                "Optuna search over any model family's space (`-P model=dnn|cnn|lstm|... -P "
                "n_trials= -P timeout= -P metric= -P direction=`): one child run per trial, "
                "logged like any training run (pruned ones tagged `state=PRUNED`, with "
                "`pruned_at_epoch`), best params, history and importance plots, trials CSV, the "
                "best configuration retrained in a child run `best`"
            ),
            takes=(
                *without(TRAINING, *families.SEARCHED_BY_ALL),
                *FOLDS,
                "n_trials",
                "timeout",
                "metric",
                "direction",
                "pruner",
                "storage",
                "study_name",
                "space",
                "worker",
                "retrain",
            ),
            # Trials fit as tabular does: k-fold on a small table, scored by its CV.
            defaults={"dataset": "breast_cancer", "epochs": 30, "patience": 5, "folds": 5},
            rules=(searchable_space,),
            epoch_backups=False,
            instead={
                name: f"tune searches {name}: fix it with -P space={name}=VALUE"
                for name in families.SEARCHED_BY_ALL
            },
        ),
        EntryPoint(
            name="optimizers",
            pipeline="optimizers",
            sweeps=False,
            lessons="68-70",
            summary="Adam, Adadelta, Adamax, Adagrad, RMSprop, SGD, Nadam x learning rates: loss "
            "curves",
            shows=(
                "Adam, Adadelta, Adamax, Adagrad, RMSprop, SGD, Nadam x learning rates as child "
                "runs; comparison table (`comparison/optimizers.csv`) and all loss curves in one "
                "chart (`plots/curves.png`); the verdict names the pair that won, the one that "
                "lost and each optimizer's best rate (`winner_test_accuracy`, "
                "`winner_learning_rate`). On digits (20 epochs): Adam at 0.01 won (0.981), "
                "RMSprop and Nadam at 0.01 within one test image of it; Adadelta at 0.001 lost "
                "(0.089: too small a step to learn in 20 epochs), SGD at 0.001 scored 0.344; "
                "every optimizer did best at 0.01"
            ),
            takes=(
                *without(TRAINING, "optimizer", "learning_rate"),
                "optimizers",
                "learning_rates",
            ),
            defaults={"dataset": "digits", "epochs": 20, "patience": 0},
        ),
        EntryPoint(
            name="activations",
            pipeline="activations",
            sweeps=False,
            lessons="67, 71-72",
            summary="every Keras activation and its autodiff gradient; a training run per "
            "activation",
            shows=(
                "lesson 67's gradient descent on `lambda x: x**2 - 4*x + 6` from x = 0 at "
                "learning rates 0.1 and 0.9, both reaching x = 2 (`plots/gradient_descent.png`, "
                "`descent_x_lr_0.9` per step); sigmoid, tanh, relu, softmax and the other Keras "
                "activations with their gradients (autodiff), plus a short training comparison as "
                "child runs"
            ),
            takes=(*without(TRAINING, "activation"), "activations"),
            defaults={"dataset": "digits", "epochs": 20, "patience": 0},
        ),
        EntryPoint(
            name="transfer",
            pipeline="transfer",
            lessons="75-78",
            summary="a pretrained base (-P base=, -P weights=), frozen, new head, optional "
            "fine-tuning",
            shows=(
                "pretrained base `-P base=vgg16|resnet50|mobilenet_v2|efficientnet_b0`, `-P "
                "weights=imagenet|none|PATH`, frozen + new head, `-P fine_tune_layers=N`; with "
                "`weights=none` the whole network trains (a random base has nothing worth "
                "freezing); parameter counts with/without top and weights "
                "(`parameters/counts.csv`; `base_parameters_with_top`/`_without_top`: VGG16 "
                "138,357,544 / 14,714,688, the top's three Dense layers 123,642,856), the "
                "trained model's as `trainable_parameters`/`non_trainable_parameters`; inputs "
                "resized in the model; data `digits_folder` by default (offline); 77: `-P "
                "dataset=cifar10 -P base=vgg16,mobilenet_v2` trains a child run per base under "
                "a parent comparing them (`comparison/sweep.csv`); 78: `-P "
                "dataset=cats_vs_dogs`, the dogs and cats photos of TensorFlow's "
                "transfer-learning tutorial (65 MB downloaded once, its train/validation halves "
                "kept as train/test; `test_accuracy_cats`, `test_accuracy_dogs`), or `-P "
                "dataset=dir:PATH` for your own photos. The default weights are ImageNet's "
                "(downloaded once, 9 MB for mobilenet_v2); without network the run stops in one "
                "line naming the file and `-P weights=none`, which runs offline"
            ),
            takes=(
                *DATA,
                *FIT,
                "resume",
                *RUN,
                "dropout",
                "image_size",
                "base",
                "weights",
                "fine_tune_layers",
                "input_size",
                "alpha",
            ),
            defaults={
                "dataset": "digits_folder",  # offline; -P dataset=cats_vs_dogs or dir:PATH: photos
                "dropout": 0.2,
                "epochs": 10,
                "batch_size": 64,
                "patience": 3,
                "val_fraction": 0.1,
            },
            rules=(base_and_alpha, fine_tunes_pretrained),
        ),
        EntryPoint(
            name="nlp_tokenize",
            pipeline="nlp_tokenize",
            lessons="79-80",
            summary="toy reviews -> TextVectorization -> padded indices -> Embedding (or "
            "one-hot, -P word_input=) -> any family",
            shows=(
                "toy reviews → TextVectorization (Keras 3's Tokenizer) → padded indices → "
                "Embedding → any model family (`-P model=dnn|lstm|gru|conv1d|...`); vocabulary by "
                "frequency (`vocabulary/vocabulary.csv`), the padded sequences, and one-hot vs "
                "index vs embedding sizes (`onehot_values_per_text`, `index_values_per_text`, "
                "`embedded_values_per_text`); the model takes raw text. Lesson 80: `-P "
                "model=lstm,conv1d -P word_input=embedding,onehot` trains each model on the "
                "sequences after an Embedding and instead of one (one-hot vectors per word; "
                "`index`: the bare index), a child run each, their `parameters` and "
                "`test_accuracy` side by side in `comparison/sweep.csv`"
            ),
            takes=TEXT,
            defaults={
                "dataset": "sentences",
                "model": "dnn",
                "maxlen": 5,
                "embedding_dim": 8,
                "units": 8,
                "layers": 1,
                "epochs": 40,
                "batch_size": 4,
                "patience": 0,
                "learning_rate": 0.01,
            },
        ),
        EntryPoint(
            name="nlp_reuters",
            pipeline="nlp_sequences",
            lessons="81",
            summary="Reuters newswires, 46 topics: num_words, maxlen, -P model=dnn|lstm|gru|conv1d",
            shows=(
                "Reuters newswires, 46 topics (softmax): `-P num_words= -P maxlen= -P "
                "model=dnn|lstm|gru|conv1d`, after an Embedding or, `-P word_input=onehot` "
                "(lesson 80), on one-hot words instead; test texts decoded back to words with "
                "their true and predicted topic (`predictions/samples.csv`)"
            ),
            takes=TEXT,
            defaults={
                "dataset": "reuters",
                "model": "lstm",
                "num_words": 10000,
                "maxlen": 100,
                "embedding_dim": 64,
                "units": 64,
                "layers": 1,
                "epochs": 20,
                "batch_size": 64,
                "patience": 3,
                "val_fraction": 0.1,
            },
        ),
        EntryPoint(
            name="nlp_imdb",
            pipeline="nlp_sequences",
            lessons="82-83",
            summary="IMDB reviews, positive or negative (a sigmoid unit); -P bidirectional=true",
            shows=(
                "IMDB reviews, positive or negative, with one sigmoid unit and "
                "binary_crossentropy; `-P bidirectional=true` wraps the recurrent layer in "
                "Bidirectional (lesson 83); decoded test reviews with their true and predicted "
                "label (`predictions/samples.csv`)"
            ),
            takes=TEXT,
            defaults={
                "dataset": "imdb",
                "model": "lstm",
                "num_words": 10000,
                "maxlen": 200,
                "embedding_dim": 32,
                "units": 32,
                "layers": 1,
                "epochs": 10,
                "batch_size": 128,
                "patience": 2,
                "reduce_lr_patience": 1,
                "val_fraction": 0.2,
            },
        ),
    )
}


def params_for(name: str, **values: object) -> Params:
    """The parameters entry point `name` runs with, given `values`."""
    return ENTRY_POINTS[name].params(**values)
