"""Typed parameters shared by the pipelines; MLproject is generated from these."""

from dataclasses import dataclass, fields

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
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"bad value {getattr(self, name)!r} for {name}: "
                    f"choose one of {', '.join(map(str, allowed))}"
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

# ---- issue 3, sequences: rnn, rnn_ensemble, timeseries

# ---- issue 3, saving and utilities: save_load, checkpoint, prepare_data, gpu_check

# ---- issue 3, tables and comparisons: tabular, overfitting, csv, compare_models
