"""Batch scoring, after lessons 28-31 (a saved model reloads and predicts): a logged or
registered model's predictions for a file of raw rows, in chunks, with a progress bar.

The file is checked against the model's signature before anything is written; the output
CSV appears whole or not at all. The scoring is a run too (experiment `predict`): the model,
the files, the rows scored and the seconds it took.

    python -m pipelines predict --model models:/diabetes@champion --input rows.csv \
        --output predictions.csv
    mlflow run . -e predict --env-manager local -P model=models:/diabetes@champion \
        -P input=/abs/rows.npz -P output=/abs/predictions.csv
"""

from __future__ import annotations

import time
from pathlib import Path

from steps.errors import UserError

LESSONS = "28-31"
# The MLproject parameters: (type, default; None: required). `mlflow run` makes a `path`
# absolute from where it was typed; the output is written where the command runs.
PARAMETERS = {
    "model": ("string", None),
    "input": ("path", None),
    "output": ("string", "predictions.csv"),
    "chunk_size": ("string", "1024"),
}


def parse(argv: list[str]):
    from pipelines.declare import OneLineParser

    parser = OneLineParser(
        prog="python -m pipelines predict",
        description="Score a .csv or .npz file with a logged model (its own preprocessing).",
    )
    parser.add_argument("--model", required=True, help="models:/NAME@ALIAS, runs:/ID/model, ...")
    parser.add_argument("--input", required=True, type=Path, help="a .csv or .npz of raw rows")
    parser.add_argument("--output", default=Path("predictions.csv"), type=Path, help="a .csv")
    parser.add_argument("--chunk_size", default=1024, type=int, help="rows per predict call")
    args = parser.parse_args(argv)
    if args.chunk_size < 1:
        raise UserError(f"bad value {args.chunk_size} for chunk_size: use 1 or more")
    if args.output.suffix != ".csv":
        raise UserError(f"bad value '{args.output}' for output: give a .csv file")
    if not args.output.resolve().parent.is_dir():
        raise UserError(f"bad value '{args.output}' for output: its folder does not exist")
    if args.input.suffix not in (".csv", ".npz"):
        raise UserError(f"bad value '{args.input}' for input: give a .csv or an .npz file")
    if not args.input.is_file():
        raise UserError(f"bad value '{args.input}' for input: no such file")
    return args


def load_model(uri: str):
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load model {uri}: {first}") from None


def score(model, source: Path, target: Path, chunk_size: int) -> int:
    """Write the predictions for every row of `source` to `target`; the rows scored."""
    from tqdm import tqdm

    from steps import files, scoring
    from steps.track.model_log import quiet_keras

    inputs = scoring.model_inputs(model.metadata.get_input_schema())
    rows = 0
    with (
        files.replacing(target) as partial,
        tqdm(total=scoring.total_rows(source), unit="rows") as bar,
        quiet_keras(),
    ):
        for chunk in scoring.chunks(source, inputs, chunk_size):
            frame = scoring.prediction_frame(model.predict(chunk))
            frame.to_csv(partial, mode="a" if rows else "w", header=not rows, index=False)
            rows += len(frame)
            bar.update(len(frame))
    return rows


def run(args) -> None:
    from steps.track.run import tracked_run

    values = {"model": args.model, "input": str(args.input), "output": str(args.output)}
    values["chunk_size"] = args.chunk_size
    with tracked_run("predict", LESSONS, values, name=f"predict · {args.input.name}") as tracker:
        started = time.perf_counter()
        rows = score(load_model(args.model), args.input, args.output, args.chunk_size)
        seconds = time.perf_counter() - started
        tracker.log_metrics({"rows_scored": rows, "seconds": seconds})
        tracker.set_tags(scored_model=args.model)
    print(f"scored {rows} rows of {args.input} with {args.model} into {args.output}")
