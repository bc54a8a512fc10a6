"""What the data steps take from the parameters: the split and scaling options and their
choices. Imports nothing heavy, so the parameter table (`pipelines.params`) reads it in
milliseconds; `steps.data.prepare` does the work."""

from __future__ import annotations

from dataclasses import dataclass

SCALERS: tuple[str, ...] = ("auto", "minmax", "standard", "none")
LABELS: tuple[str, ...] = ("onehot", "sparse")


@dataclass(frozen=True)
class PrepareOptions:
    scaler: str  # one of SCALERS
    val_fraction: float
    test_fraction: float
    labels: str  # classes as one-hot rows or as integers (sparse): one of LABELS
    seed: int

    @property
    def one_hot(self) -> bool:
        return self.labels == "onehot"


MISSING: tuple[str, ...] = ("impute", "drop", "refuse")
# A separator by name (a comma list on a command line would be a sweep): name -> character.
SEPARATOR_WORDS: dict[str, str] = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}


@dataclass(frozen=True)
class TableOptions:
    """How a CSV is read and its columns made into features (steps/data/table_read.py)."""

    missing: str  # one of MISSING
    sep: str  # a SEPARATOR_WORDS name (or its character); '' finds it
    encoding: str  # a Python codec name; '' finds it
    drop_columns: tuple[str, ...]
    keep_columns: tuple[str, ...]
    # The split the features' imputation and categories are fitted on the training rows of:
    # the run's own (prepare's), so no value of a test row shapes them.
    seed: int
    val_fraction: float
    test_fraction: float
