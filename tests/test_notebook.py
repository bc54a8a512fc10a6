"""docs/notebook.ipynb, executed headless as Jupyter would run it: every cell without an
error, Keras's progress one line per epoch, the run shown with a link to its page and its
history plot inline, the best model's predictions printed."""

from __future__ import annotations

import json
import re
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.runs import REPO

NOTEBOOK = REPO / "docs" / "notebook.ipynb"
KERNEL = "keras-lessons"


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    """A Jupyter kernel on this interpreter (the project's venv) reading this checkout's code,
    whatever kernels the machine has registered."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "keras-lessons", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return KERNEL


def outputs(cell) -> str:
    """Everything a cell showed: its printed text and each rich output's data."""
    found = []
    for output in cell.get("outputs", []):
        found.append(output.get("text", ""))
        found += [str(value) for value in output.get("data", {}).values()]
    return "\n".join(found)


@pytest.mark.slow
def test_the_notebook_runs_headless_and_shows_its_runs(kernel, tracking, tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "commit it without outputs"
    NotebookClient(
        notebook, kernel_name=kernel, timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError, naming the cell, on any error
    cells = [c for c in notebook.cells if c.cell_type == "code"]

    def shown(start: str) -> str:
        return outputs(next(c for c in cells if c.source.startswith(start)))

    first = shown('cnn = run("image_classify"')
    epochs = [line for line in first.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert not re.search(r"\d+/\d+ ━", first)  # no progress bar redrawn in the cell's output
    experiment = tracking.get_experiment_by_name("image_classify").experiment_id
    run_id = tracking.search_runs([experiment])[0].info.run_id
    page = f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{run_id}"
    assert f'<a href="{page}?workflowType=machine_learning" target="_blank">' in first
    plot = next(c for c in cells if c.source.startswith("cnn.show("))
    assert [o for o in plot.outputs if "image/png" in o.get("data", {})]
    assert "test_accuracy" in shown("runs = [")
    printed = shown("import numpy").splitlines()
    assert printed[1].startswith("predicted: [") and printed[2].startswith("true:      [0 1 2")
    assert "WARNING:tensorflow" not in "\n".join(outputs(c) for c in cells)
