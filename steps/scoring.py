"""Scoring step: a logged model's predictions for a file of raw rows (a CSV, or an .npz of
arrays), read in chunks and checked against the model's signature first.

The model carries its own preprocessing (scaler, reshape), so the rows are given as the
data set had them: a CSV row holds one sample's values (an image's pixels flattened), an
.npz holds the array `x` (or its only array, or one array per named input).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np
import pandas as pd

from steps.errors import UserError


@dataclass(frozen=True)
class Input:
    name: str | None
    dtype: np.dtype
    sample_shape: tuple[int, ...]

    def text(self) -> str:
        named = f"{self.name}: " if self.name else ""
        return f"{named}{self.dtype} samples of shape {self.sample_shape}"


def takes_columns(schema) -> bool:
    """Whether a model takes table rows by column name (a table read from a CSV)."""
    return schema is not None and not schema.is_tensor_spec()


def table_chunks(path: Path, schema, size: int) -> Iterator[pd.DataFrame]:
    """A CSV's rows `size` at a time as a table of the model's columns, read as training
    read its file (encoding and separator found); other columns are left out."""
    import io

    from steps.data.table_read import decode, separator

    if path.suffix != ".csv":
        raise UserError(f"{path.name}: this model takes table rows; give a .csv file")
    text, _ = decode(path.read_bytes(), path, "")
    wanted = schema.input_names()
    texts = [s.name for s in schema.inputs if str(s.type) in ("string", "DataType.string")]
    for chunk in pd.read_csv(io.StringIO(text), sep=separator(text, ""), chunksize=size):
        chunk.columns = [str(c).strip() for c in chunk.columns]
        absent = [name for name in wanted if name not in chunk.columns]
        if absent:
            raise UserError(
                f"{path.name} lacks the column(s) {', '.join(absent)}; the model takes the "
                f"columns {', '.join(wanted)}"
            )
        rows = chunk[wanted].copy()
        for name in texts:  # a chunk where a text column is empty reads as NaN numbers
            rows[name] = rows[name].astype(object).where(rows[name].notna(), None)
        yield rows


def model_inputs(schema) -> list[Input]:
    """The inputs a model's signature declares (tensor signatures, as every lesson logs)."""
    if schema is None or not schema.is_tensor_spec():
        raise UserError("the model has no tensor signature to check the input file against")
    return [Input(s.name, np.dtype(s.type), tuple(s.shape[1:])) for s in schema.inputs]


def signature_text(inputs: list[Input]) -> str:
    return "; ".join(i.text() for i in inputs)


def total_rows(path: Path) -> int:
    """Rows of a CSV (lines after the header) or of an .npz's first array."""
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            return len(arrays[arrays.files[0]])
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def csv_chunks(path: Path, inputs: list[Input], size: int) -> Iterator[np.ndarray]:
    """The CSV's rows `size` at a time, each row reshaped to the model's sample shape."""
    if len(inputs) != 1:
        names = ", ".join(str(i.name) for i in inputs)
        raise UserError(
            f"{path.name}: the model takes {len(inputs)} inputs ({names}); give an .npz with "
            "one array per input"
        )
    wanted = inputs[0]
    width = prod(wanted.sample_shape)
    for chunk in pd.read_csv(path, chunksize=size):
        if chunk.shape[1] != width:
            raise UserError(
                f"{path.name} has {chunk.shape[1]} columns ({', '.join(map(str, chunk.columns))})"
                f"; the model takes {width} values per row ({wanted.text()})"
            )
        values = chunk.to_numpy()
        if wanted.dtype.kind in "fiu":
            values = values.astype(wanted.dtype)
        yield values.reshape(len(values), *wanted.sample_shape)


def npz_arrays(path: Path, inputs: list[Input]) -> dict[str | None, np.ndarray]:
    """Each input's array from the .npz, shape checked (same values per sample reshape)."""
    with np.load(path) as archive:
        files = list(archive.files)
        if len(inputs) == 1:
            key = "x" if "x" in files else files[0] if len(files) == 1 else None
            if key is None:
                raise UserError(f"{path.name} holds {', '.join(files)}: name the samples x")
            found = {inputs[0].name: archive[key]}
        else:
            missing = [i.name for i in inputs if i.name not in files]
            if missing:
                raise UserError(
                    f"{path.name} holds {', '.join(files)}; the model takes "
                    f"{signature_text(inputs)}: missing {', '.join(map(str, missing))}"
                )
            found = {i.name: archive[i.name] for i in inputs}
    for wanted in inputs:
        array = found[wanted.name]
        if array.ndim < 1 or prod(array.shape[1:]) != prod(wanted.sample_shape):
            raise UserError(
                f"{path.name} holds samples of shape {tuple(array.shape[1:])}; the model takes "
                f"{wanted.text()}"
            )
        array = array.reshape(len(array), *wanted.sample_shape)
        found[wanted.name] = array.astype(wanted.dtype) if wanted.dtype.kind in "fiu" else array
    return found


def npz_chunks(path: Path, inputs: list[Input], size: int) -> Iterator[object]:
    arrays = npz_arrays(path, inputs)
    rows = len(next(iter(arrays.values())))
    for start in range(0, rows, size):
        part = {name: array[start : start + size] for name, array in arrays.items()}
        yield part[inputs[0].name] if len(inputs) == 1 else part


def chunks(path: Path, inputs: list[Input], size: int) -> Iterator[object]:
    """The file's samples in chunks of `size`, as the model takes them."""
    if path.suffix == ".npz":
        return npz_chunks(path, inputs, size)
    if path.suffix == ".csv":
        return csv_chunks(path, inputs, size)
    raise UserError(f"{path.name}: give a .csv or an .npz file")


def prediction_frame(predictions) -> pd.DataFrame:
    """One row per sample: `prediction` for one value, `class` and `p_<i>` for class
    probabilities, `<output>_<i>` per named output."""
    if isinstance(predictions, dict):
        parts = [
            prediction_frame(values).add_prefix(f"{name}_") for name, values in predictions.items()
        ]
        return pd.concat(parts, axis=1)
    values = np.asarray(predictions)
    values = values.reshape(len(values), -1)
    if values.shape[1] == 1:
        return pd.DataFrame({"prediction": values[:, 0]})
    frame = pd.DataFrame(values, columns=[f"p_{i}" for i in range(values.shape[1])])
    frame.insert(0, "class", values.argmax(axis=1))
    return frame
