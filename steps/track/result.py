"""A finished run read back from the tracking store, for Python: its id and page, scores,
kept epoch, model, per-epoch history and plots, and its child runs (a sweep's variants, a
comparison's models, a search's trials). Shown as a short line, or as a table with a link
to the run's page where a notebook renders HTML."""

from __future__ import annotations

import functools
import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Per-epoch curves are logged at steps 1, 2, ...; final scores at step 0.
FIRST_EPOCH = 1
SHOWN = 6  # test scores and baselines in the short line and the HTML table


@dataclass(frozen=True)
class Result:
    """One run. `metrics` holds every final metric; `test_metrics` and `baselines` the test
    scores and the scores to beat (`baseline_*`) that the run's description compares."""

    run_id: str
    run_name: str
    status: str
    experiment: str
    experiment_id: str
    url: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]

    @classmethod
    def of(cls, run_id: str) -> Result:
        import mlflow

        from steps.track.run import run_url

        client = mlflow.MlflowClient()
        run = client.get_run(run_id)
        experiment = client.get_experiment(run.info.experiment_id)
        url = run_url(
            mlflow.get_tracking_uri(), experiment.experiment_id, run_id, os.environ.get("PORT", "")
        )
        return cls(
            run_id=run_id,
            run_name=run.info.run_name or "",
            status=run.info.status,
            experiment=experiment.name,
            experiment_id=experiment.experiment_id,
            url=url,
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
            tags=dict(run.data.tags),
        )

    # ------------------------------------------------------------ what it scored

    @property
    def test_metrics(self) -> dict[str, float]:
        return {k: v for k, v in sorted(self.metrics.items()) if k.startswith("test_")}

    @property
    def baselines(self) -> dict[str, float]:
        return {k: v for k, v in sorted(self.metrics.items()) if k.startswith("baseline_")}

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights the model kept (counted from 1), if it trained one."""
        best = self.metrics.get("best_epoch")
        return None if best is None else int(best)

    @property
    def error(self) -> str:
        return self.tags.get("error", "")

    @property
    def description(self) -> str:
        return self.tags.get("mlflow.note.content", "")

    # ------------------------------------------------------------ the model

    @property
    def model_uri(self) -> str | None:
        """`models:/...` of the logged model (a comparison's: the best one's), if one was."""
        return self.tags.get("model_uri")

    def load_model(self):
        """The logged model as `mlflow.pyfunc` loads it: `.predict(raw samples)`."""
        import mlflow

        if not self.model_uri:
            raise ValueError(f"run {self.run_name!r} logged no model")
        return mlflow.pyfunc.load_model(self.model_uri)

    # ------------------------------------------------------------ curves and pictures

    @functools.cached_property
    def history(self):
        """Per-epoch metrics (`loss`, `val_loss`, `learning_rate`, ...) as a DataFrame indexed
        by epoch from 1; empty for a run that trained nothing itself (a sweep's parent)."""
        import mlflow
        import pandas as pd

        client = mlflow.MlflowClient()
        epochs = int(self.metrics.get("epochs_run", 0))
        columns = {}
        for name in sorted(self.metrics):
            steps = client.get_metric_history(self.run_id, name)
            if epochs and sorted(m.step for m in steps) == list(range(FIRST_EPOCH, epochs + 1)):
                columns[name] = pd.Series({m.step: m.value for m in steps})
        frame = pd.DataFrame(columns)
        frame.index.name = "epoch"
        return frame

    @functools.cached_property
    def plots(self) -> dict[str, Path]:
        """The run's pictures (`plots/*.png`) by name (`history`, `confusion`, ...), as local
        files: copied from the artifact store once."""
        import mlflow

        from steps.files import local_folder

        client = mlflow.MlflowClient()
        if not [a for a in client.list_artifacts(self.run_id, "plots") if not a.is_dir]:
            return {}
        local = local_folder(client.get_run(self.run_id).info.artifact_uri)
        if local is not None:  # a local store: its files as they are
            local = local / "plots"
        else:
            where = tempfile.mkdtemp(prefix=f"plots-{self.run_id[:8]}-")
            local = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=self.run_id, artifact_path="plots", dst_path=where
                )
            )
        return {p.stem: p for p in sorted(local.rglob("*.png"))}

    def show(self, plot: str = "history"):
        """The plot inline in a notebook (an `IPython.display.Image`), its path elsewhere."""
        if plot not in self.plots:
            known = ", ".join(self.plots) or "none"
            raise KeyError(f"run {self.run_name!r} has no plot {plot!r}; it has: {known}")
        try:
            from IPython.display import Image, display
        except ImportError:
            return self.plots[plot]
        display(Image(filename=str(self.plots[plot])))
        return None

    # ------------------------------------------------------------ child runs

    @functools.cached_property
    def children(self) -> list[Result]:
        """The child runs (a sweep's variants, a comparison's models, a search's trials),
        oldest first."""
        import mlflow

        found = mlflow.MlflowClient().search_runs(
            [self.experiment_id],
            f"tags.mlflow.parentRunId = '{self.run_id}'",
            order_by=["attributes.start_time ASC"],
            max_results=1000,
        )
        return [Result.of(run.info.run_id) for run in found]

    def row(self) -> dict[str, object]:
        """One line of a comparison table: what ran, its parameters and final metrics."""
        return {
            "run": self.run_name,
            "experiment": self.experiment,
            "status": self.status,
            **self.params,
            **{k: v for k, v in self.metrics.items() if not k.startswith("system/")},
            "run_id": self.run_id,
        }

    # ------------------------------------------------------------ how it is shown

    def __repr__(self) -> str:
        scores = ", ".join(f"{k}={v:.4g}" for k, v in list(self.test_metrics.items())[:SHOWN])
        kept = f", best_epoch={self.best_epoch}" if self.best_epoch else ""
        more = f", {len(self.children)} children" if self.children else ""
        failed = f", error={self.error!r}" if self.error else ""
        return (
            f"Result({self.run_name!r} in {self.experiment!r}, {self.status}"
            f"{', ' if scores else ''}{scores}{kept}{more}{failed})"
        )

    def _repr_html_(self) -> str:
        rows = [("run", link(self.url, self.run_name)), ("experiment", esc(self.experiment))]
        rows.append(("status", esc(self.status) + (f": {esc(self.error)}" if self.error else "")))
        rows += [(esc(k), f"{v:.4g}") for k, v in self.test_metrics.items()]
        rows += [(esc(k), f"{v:.4g}") for k, v in self.baselines.items()]
        if self.best_epoch:
            rows.append(("best epoch", f"{self.best_epoch} of {int(self.metrics['epochs_run'])}"))
        if self.model_uri:
            rows.append(("model", f"<code>{esc(self.model_uri)}</code>"))
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        table = f"<table>{body}</table>"
        if self.children:
            table += f"<p>{len(self.children)} child runs:</p>" + children_html(self.children)
        return table


def table(results: list[Result]):
    """Runs side by side, one row each (`Result.row`): a DataFrame to sort and compare."""
    import pandas as pd

    return pd.DataFrame([r.row() for r in results]).set_index("run")


def children_html(children: list[Result]) -> str:
    names = sorted({k for c in children for k in c.test_metrics})[:SHOWN]
    head = "".join(f"<th>{esc(n)}</th>" for n in ("run", "status", *names))
    body = "".join(
        f"<tr><td>{link(c.url, c.run_name)}</td><td>{esc(c.status)}</td>"
        + "".join(f"<td>{c.metrics[n]:.4g}</td>" if n in c.metrics else "<td></td>" for n in names)
        + "</tr>"
        for c in children
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def link(url: str, text: str) -> str:
    return f'<a href="{esc(url)}" target="_blank">{esc(text)}</a>'


def esc(text: str) -> str:
    return html.escape(str(text))
