"""What a person sees in MLflow's UI and TensorBoard, read in headless Chromium (`make test-ui`).

Five lessons run on tiny data into a fresh store: `tabular` (one run), `overfitting` (a parent
with its `plain` and `regularized` child runs), `tune` (a parent with a child run per trial),
a `dnn_regression` sweep (a parent with a child run per depth) and `csv` (a table's model,
taking its columns by name). `mlflow ui` and
`make tensorboard`'s server serve that store; the tests open the pages a person opens and
compare what they show with what MLflow's API says. Every page is kept as a screenshot in
ui-screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.runs import MLFLOW, REPO, in_process, tiny
from helpers.servers import Server, start, stop

pytestmark = pytest.mark.ui

SCREENSHOTS = REPO / "ui-screenshots"
CHROMIUM_HINT = (
    "make test-ui needs Chromium: install it (Debian, Ubuntu: `apt-get install chromium`) "
    "or name it with CHROMIUM=/path/to/chromium"
)
PLAYWRIGHT_HINT = "the ui tests need Playwright: pip install -e '.[ui]' (make test-ui does)"

SEARCH = {"space": "units=4:16,layers=1:2,batch_size=16", "pruner": "none"}
LESSONS = {
    "tabular": tiny("tabular") | {"dataset": "iris"},
    "overfitting": tiny("overfitting") | {"train_rows": 100, "dropout": 0.5, "l2": 0.01},
    "tune": tiny("tune") | SEARCH | {"dataset": "iris", "n_trials": 2},
    "dnn_regression": tiny("dnn_regression") | {"layers": "1,2"},  # a sweep: a child per depth
    "csv": tiny("csv"),  # wine written out as a CSV, learnt back: a model of named columns
}

MACHINE_LEARNING = "workflowType=machine_learning"  # the UI's view for training runs, not GenAI
# MLflow's made-up run names: adjective-animal-number
GENERATED_NAME = re.compile(r"[a-z]+-[a-z]+-\d+")

# Columns of the runs table (an ag-grid: one row is split between its pinned and scrolled
# parts, both carrying the run id as `row-id`).
RUN_NAME = "[col-id='attributes.`Run Name`']"
DATASET = "[col-id='attributes.`Dataset`']"
MODELS = "[col-id='attributes.`Models`']"
SHOWN_BY_ROW = """(cells, link) => cells.map(cell => [
    cell.closest('[row-id]').getAttribute('row-id'),
    link ? cell.getAttribute('href') : cell.innerText,
])"""


@dataclass
class Lessons:
    """The runs of each experiment as MLflow's API gives them, and the servers showing them."""

    uri: str  # the tracking store's
    runs: dict[str, list]  # experiment name -> its runs, children included
    experiment_ids: dict[str, str]
    mlflow: Server
    tensorboard: Server
    env: dict[str, str] = field(default_factory=dict)  # what the lessons ran with
    folder: Path = Path()  # where they ran, and the servers started

    def children(self, run_id: str) -> list:
        return [
            run
            for runs in self.runs.values()
            for run in runs
            if run.data.tags.get("mlflow.parentRunId") == run_id
        ]


@dataclass
class Table:
    """One experiment's runs table as shown: run ids in row order, first as it opens, then
    with every parent row expanded, and the cells of each run's row."""

    collapsed: list[str]
    expanded: list[str]
    names: dict[str, str]
    datasets: dict[str, str]
    models: dict[str, str]  # run id -> the address its Models cell links to


@pytest.fixture(scope="module")
def lessons(tmp_path_factory) -> Iterator[Lessons]:
    """The lessons' runs in a fresh store, served by `mlflow ui` and TensorBoard; both are
    stopped however the tests end. `mlflow ui` starts first and makes the store (MLflow's
    migrations, seconds of CPU) while this process imports TensorFlow; TensorBoard starts
    after the runs, which it reads when it starts."""
    import mlflow

    folder = tmp_path_factory.mktemp("ui")
    (folder / "keras_home").mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KERAS_LESSONS_"))}
    env.update(
        MLFLOW_TRACKING_URI=uri,
        KERAS_HOME=str(folder / "keras_home"),
        KERAS_LESSONS_CACHE=str(folder / "cache"),
        TF_CPP_MIN_LOG_LEVEL="2",
        MLFLOW_DISABLE_TELEMETRY="true",
        TMPDIR=str(folder),  # where `make tensorboard` builds its tree of traces
    )
    started: list[Server] = []
    try:
        # Its job runner (eight more processes) only serves GenAI evaluations.
        ui_env = env | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        command = [str(MLFLOW), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1"]
        started.append(start([*command, "--workers", "1"], ui_env, folder, folder / "mlflow.log"))
        import keras  # noqa: F401  (TensorFlow loads here while the server makes the store)

        started[0].ready("/health")
        for entry_point, params in LESSONS.items():
            if entry_point == "tune":
                params = params | {"storage": f"sqlite:///{folder / 'optuna.db'}"}
            result = in_process(entry_point, params, env, folder)
            assert result.returncode == 0, result.stderr[-3000:]

        command = [sys.executable, "-m", "tools.servers", "tensorboard", "--host", "127.0.0.1"]
        started.append(start(command, env, REPO, folder / "tensorboard.log"))

        client = mlflow.MlflowClient(uri)
        ids = {name: client.get_experiment_by_name(name).experiment_id for name in LESSONS}
        runs = {name: client.search_runs([ids[name]]) for name in LESSONS}
        yield Lessons(uri, runs, ids, *started, env=env, folder=folder)
    finally:
        stop(*started)


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """The browser's path, or one line saying how to get what is missing, before the runs."""
    try:
        import playwright.sync_api  # noqa: F401
    except ModuleNotFoundError:
        pytest.fail(PLAYWRIGHT_HINT, pytrace=False)
    found = shutil.which(os.environ.get("CHROMIUM", "chromium"))
    if found is None:
        pytest.fail(CHROMIUM_HINT, pytrace=False)
    return found


@pytest.fixture(scope="module")
def page(request, chromium):
    """A headless Chromium tab; the folder of its screenshots is named at the end."""
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # none left from an earlier run
    SCREENSHOTS.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 720})
            tab.set_default_timeout(60_000)  # the first page waits for the server's start
            yield tab
        finally:
            browser.close()
    plugins = request.config.pluginmanager
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        plugins.get_plugin("terminalreporter").write_line(f"\nscreenshots: {SCREENSHOTS}")


@pytest.fixture(scope="module")
def tables(page, lessons) -> dict[str, Table]:
    """Each experiment's runs table, opened by the address a run prints, read as it opens and
    with its parent rows expanded."""
    found = {}
    for experiment, runs in lessons.runs.items():
        experiment_id = lessons.experiment_ids[experiment]
        page.goto(f"{lessons.mlflow.url}/#/experiments/{experiment_id}/runs?{MACHINE_LEARNING}")
        parents = [r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags]
        for run_id in parents:
            row(page, run_id).wait_for()
        if page.get_by_role("button", name="Close", exact=True).count():
            page.get_by_role("button", name="Close", exact=True).click()  # MLflow's assistant
        collapsed = row_order(page)
        for run_id in parents:
            if lessons.children(run_id):
                page.locator(f"[row-id='{run_id}'] {RUN_NAME} button").click()
        for run in runs:
            row(page, run.info.run_id).wait_for()
        found[experiment] = Table(
            collapsed,
            row_order(page),
            cells(page, f"{RUN_NAME} a"),
            cells(page, DATASET),
            cells(page, f"{MODELS} a", link=True),
        )
        page.screenshot(path=SCREENSHOTS / f"runs-{experiment}.png")
    return found


def row(page, run_id: str):
    return page.locator(f"[role=row][row-id='{run_id}']").first


def row_order(page) -> list[str]:
    rows = page.eval_on_selector_all(
        "[role=row][row-id]",
        "rows => rows.map(r => [+r.getAttribute('row-index'), r.getAttribute('row-id')])",
    )
    return [run_id for _, run_id in sorted(set(map(tuple, rows)))]


def cells(page, column: str, link: bool = False) -> dict[str, str]:
    """Run id -> the text shown in `column` of its row (or the address it links to)."""
    return dict(page.eval_on_selector_all(f"[role=row][row-id] {column}", SHOWN_BY_ROW, link))


# ------------------------------------------------------------------ the runs table


@pytest.mark.parametrize("experiment", list(LESSONS))
def test_runs_table_shows_every_run_by_its_name(experiment, lessons, tables):
    shown = tables[experiment].names
    assert shown == {run.info.run_id: run.info.run_name for run in lessons.runs[experiment]}


def test_no_run_is_shown_under_a_name_mlflow_made_up(tables):
    shown = [name for table in tables.values() for name in table.names.values()]
    made_up = [name for name in shown if GENERATED_NAME.fullmatch(name)]
    assert shown
    assert not made_up, f"{len(made_up)} of {len(shown)} runs shown as {made_up}"


def test_dataset_column_names_the_data_set_each_run_trained_on(lessons, tables):
    """Runs that trained (those without child runs) show their `-P dataset=` in the column."""
    for experiment, runs in lessons.runs.items():
        for run in runs:
            if not lessons.children(run.info.run_id):
                shown = tables[experiment].datasets[run.info.run_id]
                dataset = run.data.params["dataset"]
                assert shown.split()[0] == dataset, (
                    f"{experiment} run {run.info.run_name!r}: Dataset shows {shown!r}, "
                    f"not {dataset!r}"
                )


def test_tune_parent_row_expands_into_its_trials(lessons, tables):
    table = tables["tune"]
    (parent,) = (r for r in lessons.runs["tune"] if "mlflow.parentRunId" not in r.data.tags)
    trials = [r for r in lessons.children(parent.info.run_id) if "trial" in r.data.tags]
    assert len(trials) == LESSONS["tune"]["n_trials"]
    assert table.collapsed == [parent.info.run_id]
    # expanded, the parent's child runs are the rows right under it, trials among them
    assert table.expanded[0] == parent.info.run_id
    assert set(table.expanded[1:]) == {r.info.run_id for r in lessons.children(parent.info.run_id)}
    for trial in trials:
        assert table.names[trial.info.run_id] == trial.info.run_name


def test_sweep_parent_row_expands_into_a_child_per_value(lessons, tables):
    table = tables["dnn_regression"]
    runs = lessons.runs["dnn_regression"]
    (parent,) = (r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert table.collapsed == [parent.info.run_id]
    assert table.names[parent.info.run_id] == "dnn_regression · diabetes · layers=1,2"
    assert table.expanded[0] == parent.info.run_id
    children = {r.info.run_id: r.info.run_name for r in lessons.children(parent.info.run_id)}
    assert set(table.expanded[1:]) == children.keys()
    assert sorted(table.names[run_id] for run_id in children) == ["layers=1", "layers=2"]


# ------------------------------------------------------------------ the logged model's page


def model_pages(lessons: Lessons, tables: dict, page) -> Iterator[tuple[int, str, object]]:
    """Each run's logged model page, opened from its Models cell: (count, experiment, run)."""
    opened = 0
    for experiment, runs in lessons.runs.items():
        for run in runs:
            link = tables[experiment].models.get(run.info.run_id)
            if link:
                page.goto(f"{lessons.mlflow.url}/{link}")
                opened += 1
                yield opened, experiment, run
    assert opened >= len(LESSONS)


def test_model_page_shows_the_runs_test_metrics(lessons, tables, page):
    """Each logged model, opened from its run's Models cell, lists the run's test metrics
    (found by typing `test_` in the page's metric search): accuracy or RMSE, and the loss."""
    for opened, experiment, run in model_pages(lessons, tables, page):
        shown = model_metrics(page, "test_", "test_loss")
        scores = [n for n in ("test_accuracy", "test_rmse") if n in run.data.metrics]
        assert scores, f"{experiment} run {run.info.run_name!r} logged no test score"
        for name in (*scores, "test_loss"):
            expected = [run.data.metrics[name]]
            assert shown.get(name) == expected, f"{experiment}: the model page shows {shown}"
        page.screenshot(path=SCREENSHOTS / f"model-{opened}-{experiment}.png")


def test_a_tables_model_page_shows_its_columns_as_the_signature(lessons, tables, page):
    """A CSV's logged model, opened from its run: its Artifacts tab's MLmodel lists the
    file's columns by name and type as the model's inputs (what `predict` takes)."""
    from sklearn.datasets import load_wine

    for _, experiment, _run in model_pages(lessons, tables, page):
        if experiment != "csv":
            continue
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text("MLmodel", exact=True).first.click()
        page.get_by_text("signature:").first.wait_for()
        page.screenshot(path=SCREENSHOTS / "model-csv-signature.png", full_page=True)
        text = " ".join(page.inner_text("body").split())
        for column in load_wine().feature_names:
            assert f'"type": "double", "name": "{column}"' in text, column
        assert '"type": "tensor"' not in text.partition("inputs:")[2].partition("outputs:")[0]
        return
    raise AssertionError("no csv run's model page was opened")


def model_metrics(page, search: str, awaited: str) -> dict[str, list[float]]:
    """The model page's Metrics table, filtered by `search`, once it shows `awaited` (or after
    15 s): metric -> the values shown (one per data set)."""
    from playwright.sync_api import TimeoutError as NotShown

    heading = page.get_by_role("heading", name=re.compile(r"^Metrics \(\d+\)$"))
    section = page.locator("div").filter(has=heading).last
    section.get_by_placeholder("Search metrics").fill(search)
    rows = section.get_by_role("row")
    with contextlib.suppress(NotShown):  # then the test says what is shown instead
        cell = page.get_by_role("cell", name=awaited, exact=True)
        rows.filter(has=cell).first.wait_for(timeout=15_000)
    found: dict[str, list[float]] = {}
    for texts in (row.get_by_role("cell").all_inner_texts() for row in rows.all()):
        if texts:  # not the header
            found.setdefault(texts[0], []).append(float(texts[-1]))
    return found


# ------------------------------------------------------------------ TensorBoard


def test_tensorboard_scalars_list_runs_by_experiment_and_run_name(lessons, page):
    """`make tensorboard` lists each run's traces as `<experiment>/<run name>/train` (a child
    run under its parent's name)."""
    import mlflow

    client = mlflow.MlflowClient(lessons.uri)
    expected = set()
    for experiment, runs in lessons.runs.items():
        names = {run.info.run_id: run.info.run_name for run in runs}
        for run in runs:
            parent = run.data.tags.get("mlflow.parentRunId")
            path = [experiment, *([names[parent]] if parent else []), run.info.run_name]
            for traces in client.list_artifacts(run.info.run_id, "tensorboard"):
                expected.add("/".join([*path, traces.path.rsplit("/", 1)[-1]]))
    assert len(expected) >= 2 * 4  # tabular, overfitting's two, tune's retrained model

    page.goto(f"{lessons.tensorboard.ready('/data/runs')}/#scalars")
    labels = page.locator("tf-multi-checkbox .item-label-container")
    labels.first.wait_for()
    page.screenshot(path=SCREENSHOTS / "tensorboard-scalars.png")
    assert set(labels.all_inner_texts()) == expected


# ------------------------------------------------------------------ what data each run saw


def shown_datasets(text: str) -> set[tuple[str, str]]:
    """The (name, digest) pairs a Dataset cell or a model page shows: `iris (c316dc090e32bfbf)`,
    or on the model page `iris (#c316dc090e32bfbf)`."""
    return set(re.findall(r"(\S+) \(#?([^)\s]+)\)", text))


def logged_datasets(run, context: str | None = None) -> set[tuple[str, str]]:
    """The (name, digest) of each part the run logged, or of its `context` part only."""
    return {
        (i.dataset.name, i.dataset.digest)
        for i in run.inputs.dataset_inputs
        if context is None or i.tags[0].value == context
    }


def test_dataset_column_tells_two_data_sets_apart(lessons, tables):
    """iris (`tabular`) and diabetes (the sweep's children) show different digests, each
    the digest of rows the run logged; the two children, trained on the same rows, show the
    same ones."""
    (iris,) = lessons.runs["tabular"]
    sweep = [r for r in lessons.runs["dnn_regression"] if "mlflow.parentRunId" in r.data.tags]
    on_iris = shown_datasets(tables["tabular"].datasets[iris.info.run_id])
    on_diabetes = [shown_datasets(tables["dnn_regression"].datasets[r.info.run_id]) for r in sweep]
    assert on_iris and on_iris <= logged_datasets(iris)
    for shown, run in zip(on_diabetes, sweep, strict=True):
        assert shown and shown <= logged_datasets(run)
    assert len(on_diabetes) == 2 and on_diabetes[0] == on_diabetes[1]
    digests = {digest for _, digest in on_iris}
    assert not digests & {digest for _, digest in on_diabetes[0]}, (on_iris, on_diabetes[0])


def test_model_page_lists_the_datasets_its_metrics_were_computed_on(lessons, tables, page):
    """Each logged model's page names, under Datasets used, the test rows of its run."""
    for opened, experiment, run in model_pages(lessons, tables, page):
        expected = logged_datasets(run, "test")
        assert len(expected) == 1, f"{experiment} run {run.info.run_name!r}: {expected}"
        shown = datasets_used(page, "{} (#{})".format(*next(iter(expected))))
        assert shown_datasets(shown) == expected, f"{experiment}: Datasets used: {shown!r}"
        page.screenshot(path=SCREENSHOTS / f"model-datasets-{opened}-{experiment}.png")


def datasets_used(page, awaited: str) -> str:
    """The model page's Datasets used section, once it shows `awaited` (or after 15 s)."""
    from playwright.sync_api import TimeoutError as NotShown

    page.get_by_text("Datasets used", exact=True).wait_for()
    with contextlib.suppress(NotShown):  # then the test says what is shown instead
        page.get_by_text(awaited, exact=True).first.wait_for(timeout=15_000)
    text = page.inner_text("body")
    return text.partition("Datasets used")[2].partition("Model versions")[0].strip()


# ------------------------------------------------------------------ the registered model's page


def test_model_version_page_shows_what_the_champion_was_decided_on(lessons, page):
    """Two widths of `tabular` on one split registered under one name (in an experiment of
    their own): the second version's page lists its split and the rows both versions were
    scored on, with both scores and the decision, as its tags."""
    import mlflow

    env = lessons.env | {"MLFLOW_EXPERIMENT_NAME": "registry"}
    for units in (4, 8):
        params = LESSONS["tabular"] | {"seed": 2, "units": units, "register": "irises"}
        result = in_process("tabular", params, env, lessons.folder)
        assert result.returncode == 0, result.stderr[-3000:]
    version = mlflow.MlflowClient(lessons.uri).get_model_version("irises", "2")
    shown = {
        name: version.tags[name]
        for name in ("dataset", "seed", "test_fraction", "compared_on", "decision")
    }
    shown |= {k: v for k, v in version.tags.items() if k.startswith("compared_")}
    assert shown["seed"] == "2" and shown["compared_on"].startswith("the 30 test rows of iris")

    page.goto(f"{lessons.mlflow.url}/#/models/irises/versions/2")
    page.get_by_text(shown["compared_on"], exact=True).first.wait_for()
    page.screenshot(path=SCREENSHOTS / "model-version-compared.png", full_page=True)
    for name, value in shown.items():
        assert page.get_by_text(name, exact=True).count(), f"no tag {name} on the page"
        assert page.get_by_text(value, exact=True).count(), f"no {name} value {value!r} shown"
