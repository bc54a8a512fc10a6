"""The front of a table's model: raw rows -> numbers, fitted on the training rows only.

Keras's structured-data tools were weighed first: `keras.utils.FeatureSpace` (with
`StringLookup` and `Normalization`) one-hot encodes categories with an out-of-vocabulary
slot and standardizes numbers, but passes NaN through (no imputation, no was-missing flag),
knows no dates, and its string lookups need TensorFlow whatever the Keras backend.
scikit-learn's ColumnTransformer does all of it in one fitted object, on any backend:
`SimpleImputer(strategy="median", add_indicator=True)` for numbers and date features, a
constant "missing" category then `OneHotEncoder(handle_unknown="infrequent_if_exist")` for
text, where categories seen fewer than MIN_FREQUENCY times in training and categories never
seen share one slot. The network's first layer (a Keras `Normalization`, fitted by the
prepare step on the training rows) standardizes what comes out. The logged model keeps the
fitted transformer beside the Keras model; its pyfunc applies `steps/data/raw_rows.py`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from steps.data import raw_rows
from steps.data.table_read import Columns

# A category seen in fewer training rows than this shares the slot of unseen categories.
MIN_FREQUENCY = 2
MISSING_CATEGORY = "missing"
# Stands for "any category not seen in training": always rarer than MIN_FREQUENCY, so the
# shared slot always exists and an unseen category is never an error nor a row of zeros.
UNSEEN = "(unseen)"


@dataclass(frozen=True)
class Front:
    """The fitted transformer, what each raw column is (`spec`, see raw_rows), every row of
    the data set as read (all the file's columns, in the data set's order), and what the
    reading found: encoding, separator, columns left out, missing values and what replaced
    them."""

    transformer: object
    spec: dict
    rows: pd.DataFrame
    report: dict = field(default_factory=dict)

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        return raw_rows.matrix(self.spec, self.transformer, rows)

    @property
    def inputs(self) -> list[str]:
        """The raw columns the model takes, in the file's order."""
        spec = self.spec
        used = {*spec["numbers"], *spec["booleans"], *spec["dates"], *spec["categories"]}
        return [name for name in self.rows.columns if name in used]

    def feature_names(self) -> tuple[str, ...]:
        return tuple(map(str, self.transformer.get_feature_names_out()))

    def to_array(self) -> np.ndarray:
        """The front as bytes in a uint8 array: the npy cache keeps it beside the features."""
        import joblib

        buffer = io.BytesIO()
        joblib.dump(self, buffer)
        return np.frombuffer(buffer.getvalue(), dtype=np.uint8)

    @staticmethod
    def from_array(array: np.ndarray) -> Front:
        import joblib

        return joblib.load(io.BytesIO(np.asarray(array).tobytes()))


def spec_of(
    columns: Columns, missing: str, written_as_text: tuple[str, ...] = (), decimal: str = "."
) -> dict:
    return {
        "numbers": list(columns.numbers),
        "booleans": list(columns.booleans),
        "dates": dict(columns.dates),
        "categories": list(columns.categories),
        "missing": missing,
        "written_as_text": [name for name in written_as_text if name in columns.numbers],
        "decimal": decimal,
    }


def fit_transformer(spec: dict, training: pd.DataFrame):
    """The ColumnTransformer of the module's text, fitted on the training rows' features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    table = raw_rows.features(spec, training)
    numeric = [name for name in table.columns if name not in spec["categories"]]
    vocabularies = [
        [*sorted(table[name].dropna().unique()), MISSING_CATEGORY, UNSEEN]
        for name in spec["categories"]
    ]
    categories = make_pipeline(
        SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY),
        OneHotEncoder(
            categories=[list(dict.fromkeys(v)) for v in vocabularies],
            handle_unknown="infrequent_if_exist",
            min_frequency=MIN_FREQUENCY,
            sparse_output=False,
        ),
    )
    transformer = ColumnTransformer(
        [
            (
                "numbers",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                numeric,
            ),
            ("categories", categories, list(spec["categories"])),
        ],
        sparse_threshold=0,
        verbose_feature_names_out=False,
    )
    return transformer.fit(table)


def missing_report(front_spec: dict, transformer, rows: pd.DataFrame) -> pd.DataFrame:
    """Per input column: its kind, how many of `rows` miss a value, and what replaces it."""
    imputer = transformer.named_transformers_["numbers"]
    medians = dict(zip(imputer.feature_names_in_, imputer.statistics_, strict=True))
    lines = []
    kinds = {name: "number" for name in front_spec["numbers"]}
    kinds |= {name: "true/false" for name in front_spec["booleans"]}
    kinds |= {name: "date" for name in front_spec["dates"]}
    kinds |= {name: "category" for name in front_spec["categories"]}
    for name in rows.columns:
        if name not in kinds:
            continue
        count = int(rows[name].isna().sum())
        if front_spec["missing"] != "impute" or not count:
            instead = ""
        elif kinds[name] == "category":
            instead = f"the category '{MISSING_CATEGORY}'"
        elif kinds[name] == "date":
            instead = "the median of each calendar feature, plus a was-missing indicator"
        else:
            instead = f"the training median {medians[name]:.6g}, plus a was-missing indicator"
        lines.append(
            {"column": name, "kind": kinds[name], "missing": count, "replaced_by": instead}
        )
    return pd.DataFrame(lines, columns=["column", "kind", "missing", "replaced_by"])


def signature(front: Front):
    """The logged model's input schema: the raw columns by name, typed as pandas reads the
    file (`pandas.read_csv(FILE)` scores as it is): numbers as doubles (a missing value makes
    an integer column float), true/false values as booleans, dates and numbers written with
    thousands separators as text (read by the model's front as training read them)."""
    from mlflow.types import ColSpec, DataType, Schema

    spec, specs = front.spec, []
    text_numbers = spec.get("written_as_text", [])
    for name in front.inputs:
        if name in spec["numbers"] and name not in text_numbers:
            kind = DataType.double
        elif name in spec["booleans"]:
            kind = DataType.boolean
        else:
            kind = DataType.string
        specs.append(ColSpec(kind, name))
    return Schema(specs)


def example_rows(front: Front, rows: pd.DataFrame) -> pd.DataFrame:
    """`rows`' input columns typed as the schema says (numbers as floats, text as objects)."""
    out = rows[front.inputs].copy()
    spec = front.spec
    text_numbers = spec.get("written_as_text", [])
    for name in spec["numbers"]:
        out[name] = out[name].astype("float64")
    for name in [*spec["categories"], *spec["dates"], *text_numbers]:
        present = out[name].notna()
        out[name] = out[name].astype(object).where(present, None)
        if name in text_numbers:
            out.loc[present, name] = out.loc[present, name].map(
                lambda v: written(v, spec.get("decimal", "."))
            )
    return out


def written(number: float, decimal: str) -> str:
    """A number as the file writes it: "1,234.5", or with a decimal comma "1.234,5"."""
    text = f"{number:,.15g}"
    return text.translate(str.maketrans(",.", ".,")) if decimal == "," else text
