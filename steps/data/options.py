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
