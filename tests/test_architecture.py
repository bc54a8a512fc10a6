"""The layout's promises: one home for each concept, imports that only go down, and the
README's recipes for a new data set, model family and lesson, followed step by step."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from pipelines import entry_points, mlproject, params
from pipelines.cli import main, parse, parser_for
from pipelines.declare import ModelName, NoPassword, OneOf, Parsed, rule, shown, validate
from pipelines.params import Params
from steps import vision
from steps.data import catalog
from steps.data.dataset import Dataset, Source
from steps.errors import UserError
from steps.model import families
from steps.model.space import FloatRange

from helpers.runs import ONE_FIT, REPO, TINY, in_process, only_run

# ---------------------------------------------------------------- imports


def project_modules() -> dict[str, Path]:
    found = {}
    for path in (
        p for room in ("steps", "pipelines", "tools") for p in REPO.glob(f"{room}/**/*.py")
    ):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports anywhere, inside functions too."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in modules
                else node.module
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
    return targets


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_and_steps_never_import_pipelines_or_tools():
    modules = project_modules()
    graph = {name: imported(path, modules) - {name} for name, path in modules.items()}
    assert cycles(graph) == []
    upward = [
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if a.startswith("steps") and b.startswith(("pipelines", "tools"))
    ]
    assert upward == []


def test_each_module_says_what_it_holds_in_its_first_line_and_stays_short():
    """A newcomer reads a module's first line to know its one concept; a step module past
    400 lines holds more than one."""
    for name, path in project_modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if name.endswith("__main__"):
            continue
        assert doc.strip(), f"{name} has no docstring"
        assert len(doc.splitlines()[0]) > 20, f"{name}'s first line says too little: {doc!r}"
        if name.startswith(("steps", "tools")):
            assert len(path.read_text().splitlines()) <= 400, name


def test_the_import_check_sees_a_cycle_and_a_lazy_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    source = Path(vision.__file__)  # `from steps.data import catalog`: a module in the list
    assert "steps.data.catalog" in imported(source, project_modules())
    lazy = Path(entry_points.__file__)  # `from steps.transfer import check_choice` in a function
    assert "steps.transfer" in imported(lazy, project_modules())


# What reading a command line loads: the parameter table, the entry points, the command line
# and the light modules they take names and option types from (the rooms' `options`). Keras,
# MLflow and the data libraries load when a run starts, never for `--help` or a bad value.
LIGHT = frozenset(
    {
        "pipelines",
        "pipelines.cli",
        "pipelines.declare",
        "pipelines.entry_points",
        "pipelines.params",
        "pipelines.sweep",
        "steps",
        "steps.backends",
        "steps.data",
        "steps.data.catalog",  # the names; each source module is imported when resolved
        "steps.data.options",
        "steps.errors",
        "steps.files",
        "steps.model",
        "steps.model.families",  # the records; a body imports Keras when it builds
        "steps.model.layers",
        "steps.model.options",
        "steps.model.space",
        "steps.options",
        "steps.secrets",
        "steps.track",
        "steps.track.failures",
        "steps.track.param_text",
        "steps.train",
        "steps.train.options",
    }
)
HEAVY = (
    "keras",
    "tensorflow",
    "jax",
    "torch",
    "mlflow",
    "optuna",
    "sklearn",
    "scipy",
    "pandas",
    "matplotlib",
    "numpy",
)
COMMAND_LINE = ("pipelines.params", "pipelines.entry_points", "pipelines.cli")


def loaded_by(*modules: str) -> set[str]:
    """Every module that importing `modules` loads, in a fresh interpreter."""
    code = f"import json, sys, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def heavy_imports(loaded: set[str]) -> list[str]:
    """What `loaded` holds that reading parameters must not load: heavy packages, and project
    modules off the LIGHT list."""
    heavy = sorted(name for name in loaded if name in HEAVY)
    project = {name for name in loaded if name.partition(".")[0] in ("steps", "pipelines")}
    return heavy + sorted(project - LIGHT)


def test_reading_parameters_loads_only_light_modules():
    """The table, the entry points and the command line import in milliseconds: a heavy import
    added to one of them, or to a module they read, is named here. Move the declaration it
    wanted to its room's `options` module, or import the heavy module inside the function."""
    loaded = loaded_by(*COMMAND_LINE)
    assert set(COMMAND_LINE) <= loaded
    assert heavy_imports(loaded) == [], (
        "importing the parameter table loads these; see this test's docstring"
    )


def test_the_import_walk_sees_a_heavy_import():
    found = heavy_imports(loaded_by("pipelines.params", "steps.data.prepare"))
    assert {"numpy", "steps.data.prepare", "steps.data.dataset"} <= set(found)


def test_bench_imports_nothing_from_tests():
    for path in REPO.glob("bench/**/*"):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        text = path.read_text()
        reach = r'/ "tests"|PYTHONPATH=\S*tests/|import upstream_files|from (conftest|helpers)\b'
        assert not re.search(reach, text), path


# ---------------------------------------------------------------- parameters


def option_types() -> list[type]:
    """Every `*Options` dataclass in steps/: what a step takes from the parameters."""
    found = []
    for name in project_modules():
        if name.startswith("steps"):
            module = importlib.import_module(name)
            found += [
                value
                for key, value in vars(module).items()
                if key.endswith("Options")
                and dataclasses.is_dataclass(value)
                and value.__module__ == name
            ]
    return found


def test_every_step_option_is_a_declared_parameter_without_a_default_of_its_own():
    kinds = option_types()
    assert set(kinds) == set(params.STEP_OPTIONS)
    for kind in kinds:
        for field in dataclasses.fields(kind):
            assert field.name in Params.model_fields, f"{kind.__name__}.{field.name}"
            assert field.default is dataclasses.MISSING, f"{kind.__name__}.{field.name}"
        built = Params().options(kind)
        assert all(
            getattr(built, f.name) == getattr(Params(), f.name) for f in dataclasses.fields(kind)
        )


def test_a_renamed_option_field_fails_loudly():
    @dataclasses.dataclass(frozen=True)
    class RenamedOptions:
        epoch_count: int

    with pytest.raises(AttributeError, match="epoch_count"):
        Params().options(RenamedOptions)


def bad_value(name: str) -> object | None:
    """A value the declaration of `name` refuses, or None for free text."""
    info = Params.model_fields[name]
    marks = list(info.metadata)
    if info.annotation is bool:
        return "maybe"
    if any(isinstance(m, OneOf) for m in marks):
        return "no-such-choice"
    if any(isinstance(m, Parsed) for m in marks):
        return "a,,b,a"
    if any(isinstance(m, NoPassword) for m in marks):
        return "postgresql://user:secret@db/optuna"
    if any(isinstance(m, ModelName) for m in marks):
        return "team/diabetes"
    for mark in marks:
        if hasattr(mark, "ge"):
            return mark.ge - 1
        if hasattr(mark, "gt"):
            return mark.gt
    return "" if any(type(m).__name__ == "MinLen" for m in marks) else None


@pytest.mark.parametrize("name", list(Params.model_fields))
def test_every_parameter_refuses_a_bad_value_in_one_line_naming_it(name):
    value = bad_value(name)
    if value is None:
        free_text = {"dataset", "target", "predict_npz", "path", "metric", "study_name", "space"}
        assert name in {*free_text, "encoding"}
        return
    with pytest.raises(UserError) as caught:
        validate(Params, {name: value})
    message = str(caught.value)
    assert message.startswith("bad value ") and f" for {name}: " in message
    assert message.endswith(rule(Params, name)) and "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "takes"),
    [
        ("val_fraction", 1.0, "use a number from 0 up to (not including) 1"),
        ("val_fraction", -0.1, "use a number from 0 up to (not including) 1"),
        ("test_fraction", 0, "use a number above 0 and below 1"),
        ("test_fraction", 1.0, "use a number above 0 and below 1"),
        ("scaler", "robust", "choose one of auto, minmax, standard, none"),
        ("input_size", 16, "use 0 (the data's own size) or 32 or more"),
        ("weights", "", "use a non-empty value"),
    ],
)
def test_a_range_the_steps_trust_is_checked_where_parameters_are_read(name, value, takes):
    """The steps take these as given (prepare, fit_scaling, transfer.input_size): one rule
    each, the declaration's, refused before a run in its words."""
    with pytest.raises(UserError) as caught:
        validate(Params, {name: value})
    assert str(caught.value) == f"bad value {shown(value)} for {name}: {takes}"


def test_non_finite_numbers_are_refused():
    for name, value in (("learning_rate", "inf"), ("dropout", "nan"), ("l2", "inf")):
        with pytest.raises(UserError, match=f"bad value {value} for {name}: use "):
            validate(Params, {name: value})


def test_entry_points_take_declared_parameters_and_override_only_those():
    for entry in entry_points.ENTRY_POINTS.values():
        assert set(entry.takes) <= Params.model_fields.keys(), entry.name
        assert len(set(entry.takes)) == len(entry.takes), entry.name
        assert set(entry.defaults) <= set(entry.takes), entry.name
        assert set(entry.narrow) <= set(entry.takes), entry.name
        entry.params()  # its defaults pass its own checks
        module = importlib.import_module(f"pipelines.{entry.pipeline}")
        assert callable(module.run), entry.name
        assert module.__doc__.startswith("Lesson") and "mlflow run . -e " in module.__doc__


def test_each_entry_point_name_is_written_once_in_the_table():
    text = Path(entry_points.__file__).read_text()
    aliases = {f"{family}_{dataset}" for family, dataset, *_ in entry_points.IMAGE_ALIASES}
    written = text.count("EntryPoint(\n            name=")
    assert written + len(aliases) == len(entry_points.ENTRY_POINTS)
    for name in entry_points.ENTRY_POINTS.keys() - aliases:
        assert text.count(f'name="{name}"') == 1, name
    assert len(aliases) == len(entry_points.IMAGE_ALIASES)  # one row each


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("layers=1:100", "space: bad value 100 for layers: use 0 to 64"),
        ("dropout=0:1", "space: bad value 1.0 for dropout: use a number from 0 up to"),
        ("optimizer=adam|bogus", "space: bad value 'bogus' for optimizer: choose one of adam"),
        ("batch_size=0", "space: bad value 0 for batch_size: use 1 or more"),
    ],
)
def test_every_value_a_search_space_can_draw_is_a_valid_parameter(space, message):
    with pytest.raises(UserError) as caught:
        entry_points.params_for("tune", space=space)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("entry", "values"),
    [
        ("image_classify", {"model": "lstm", "layers": 0}),
        ("image_classify", {"model": "cnn,lstm", "layers": 0}),  # a sweep's variant
        ("compare_models", {"models": "dnn,lstm", "layers": 0}),  # before dnn trains
        ("tune", {"model": "lstm", "space": "layers=0:2"}),  # before a trial draws 0
    ],
)
def test_a_depth_given_below_a_familys_fewest_is_refused_naming_it(entry, values):
    argv = [entry, *(f"--{name}={value}" for name, value in values.items())]
    with pytest.raises(UserError, match=r"bad value 0 for layers: model=lstm needs 1 or more$"):
        parse(argv)


def test_a_default_depth_below_a_familys_fewest_becomes_it():
    """image_classify's CNN has no Dense layer; an LSTM or a Conv1D needs one."""
    _, params, found = parse(["image_classify", "--model", "conv1d"])
    assert params.layers == 1
    _, _, found = parse(["image_classify", "--model", "cnn,lstm"])
    assert [variant.params.layers for variant in found] == [0, 1]
    text = " ".join(parser_for(entry_points.ENTRY_POINTS["image_classify"]).format_help().split())
    assert (
        "at least 1 for lstm, gru, simple_rnn and conv1d (a default depth below it becomes it; "
        "one given below it is refused): 0 to 64 (default: 0)"
    ) in text


def test_an_entry_point_refuses_a_parameter_it_does_not_take():
    with pytest.raises(UserError, match="gpu_check takes no parameter 'epochs'"):
        entry_points.params_for("gpu_check", epochs=3)


def test_narrowed_choices_show_in_help_and_messages():
    rnn = entry_points.ENTRY_POINTS["rnn"]
    recurrent = ", ".join(families.recurrent_names())
    with pytest.raises(UserError, match=f"^bad value 'dnn' for model: choose one of {recurrent}$"):
        rnn.params(model="dnn")
    assert f"choose one of {recurrent}" in " ".join(parser_for(rnn).format_help().split())


# ---------------------------------------------------------------- recipe: a new model family


def linear_body(x, opts):
    """The throwaway family's body: nothing between the scaled input and the head."""
    return x


@pytest.fixture
def throwaway_family(monkeypatch):
    family = families.Family(
        "linear_model",
        input_shape=families.flat,
        body=linear_body,
        estimate=lambda shape, opts: ([], int(np.prod(shape))),
        space={"learning_rate": FloatRange(1e-3, 1e-1, log=True)},
    )
    monkeypatch.setitem(families.FAMILIES, family.name, family)
    return family


def test_recipe_a_new_model_family_is_one_record(throwaway_family, lesson_env, tracking, tmp_path):
    # Every list of families is read from the registry: choices, help, comparisons, search.
    assert "linear_model" in entry_points.ENTRY_POINTS["tabular"].params(model="linear_model").model
    help_text = " ".join(parser_for(entry_points.ENTRY_POINTS["tabular"]).format_help().split())
    assert "linear_model" in help_text
    assert entry_points.params_for("compare_models", models="dnn,linear_model").models[-1] == (
        "linear_model"
    )
    entry_points.params_for("tune", model="linear_model", space="learning_rate=0.01:0.05")
    # ...and it trains like any other family.
    result = in_process(
        "tabular",
        {"dataset": "iris", "model": "linear_model", **TINY, **ONE_FIT},
        lesson_env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run = only_run(tracking, "tabular")
    assert run.data.params["model"] == "linear_model"
    assert run.data.metrics["parameters"] == 4 * 3 + 3  # only the head, on iris's 4 features


def test_an_unknown_family_raises():
    with pytest.raises(UserError, match="unknown model family 'mlp'; choose one of dnn, cnn"):
        families.get("mlp")
    with pytest.raises(UserError, match=r"^bad value 'mlp' for model: choose one of dnn, cnn"):
        entry_points.params_for("tabular", model="mlp")


# ---------------------------------------------------------------- recipe: a new data set


def squares() -> Source:
    """The throwaway data set: x and its square."""

    def load() -> Dataset:
        x = np.arange(40, dtype=np.float32).reshape(-1, 1)
        return Dataset(name="squares", task="regression", x_train=x, y_train=x[:, 0] ** 2)

    return Source(name="squares", key="squares-40-v1", load=load)


def test_recipe_a_new_data_set_is_one_row(monkeypatch, lesson_env, tracking, tmp_path):
    monkeypatch.setitem(catalog.NAMED, "squares", catalog.Named(squares, "table", "regression"))
    assert "squares" in catalog.names(kind="table", task="regression")
    assert "squares" in Params.model_fields["dataset"].description or "squares" in (
        params.data_sets()
    )
    result = in_process("dnn_regression", {"dataset": "squares", **TINY}, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr
    run = only_run(tracking, "dnn_regression")
    assert run.data.tags["dataset"] == "squares"
    assert run.data.params["n_samples"] == "40"


def test_unknown_names_and_schemes_list_what_is_registered():
    with pytest.raises(UserError) as caught:
        catalog.resolve("mnsit")
    assert str(caught.value) == (
        f"unknown data set 'mnsit'; choose one of {', '.join(sorted(catalog.NAMED))}, "
        "or give npz:PATH, csv:PATH or dir:PATH"
    )
    with pytest.raises(UserError, match=r"use npz:PATH, csv:PATH or dir:PATH$"):
        catalog.resolve("parquet:x.pq")


# ---------------------------------------------------------------- recipe: a new lesson


@pytest.fixture
def throwaway_lesson(monkeypatch):
    module = types.ModuleType("pipelines.squares_lesson")
    module.__doc__ = "Lesson 99: the mean of the data.\n\n    mlflow run . -e squares_mean\n"

    def run(params: Params, tracker) -> None:
        from steps import workflow

        dataset = workflow.load_dataset(tracker, params.dataset)
        tracker.log_metrics({"mean_target": float(np.mean(dataset.y_train))})

    module.run = run
    monkeypatch.setitem(sys.modules, module.__name__, module)
    entry = entry_points.EntryPoint(
        name="squares_mean",
        pipeline="squares_lesson",
        lessons="99",
        summary="the mean of a data set's target",
        takes=("dataset", "seed"),
        defaults={"dataset": "diabetes"},
    )
    monkeypatch.setitem(entry_points.ENTRY_POINTS, entry.name, entry)
    return entry


def test_recipe_a_new_lesson_is_a_module_and_an_entry(
    throwaway_lesson, lesson_env, tracking, tmp_path
):
    rendered = mlproject.render()
    assert "  squares_mean:  # lessons 99: the mean of a data set's target" in rendered
    assert 'command: "python -m pipelines squares_mean --dataset {dataset} --seed {seed}"' in (
        rendered
    )
    result = in_process("squares_mean", {}, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr
    run = only_run(tracking, "squares_mean")
    assert run.data.params == {
        "dataset": "diabetes",
        "seed": "42",
        "backend": "tensorflow",
        "n_samples": "442",
    }
    assert run.data.metrics["mean_target"] == pytest.approx(152.133, abs=1e-3)
    assert main(["squares_mean", "--epochs", "3"]) == 2


# ---------------------------------------------------------------- leftovers


def test_the_repository_speaks_of_itself_only():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"\biss" + r"ue [0-9]|DESIGN" + r"\.md")  # split: not a match itself
    offenders = [
        name
        for name in tracked
        if Path(REPO, name).is_file()
        and outside.search(Path(REPO, name).read_text(errors="ignore"))
    ]
    assert offenders == []
