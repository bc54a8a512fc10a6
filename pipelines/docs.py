"""Render the documentation's tables from the declarations they copy, so they never drift.

    python -m pipelines.docs            (or `make docs`): rewrite every generated block
    python -m pipelines.docs --check    exit 1, naming the pages, when a block is stale

A generated block in README.md or docs/*.md lies between two markers,

    <!-- generated: NAME -->
    <!-- end generated -->

and holds what BLOCKS[NAME] renders for that page from: the entry points
(`pipelines.entry_points.ENTRY_POINTS`), the parameters (`pipelines.params.Params`, grouped
as `pipelines.mlproject.GROUPS`), the data sets and URI schemes (`steps.data.catalog`) and
the model families (`steps.model.families.FAMILIES`). tests/test_docs.py fails when a block
differs.

Nothing here imports TensorFlow, MLflow or Optuna.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from pipelines.declare import rule
from pipelines.entry_points import ENTRY_POINTS, EntryPoint
from pipelines.mlproject import GROUPS
from pipelines.params import Params
from steps.data import catalog
from steps.model import families
from steps.model.space import describe
from steps.track.param_text import param_text

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"(?P<start><!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(?P<end><!-- end generated -->)",
    re.S,
)


def pages() -> list[Path]:
    """Every page that may hold a generated block."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


# ---------------------------------------------------------------- Markdown


def cell(text: object) -> str:
    """A table cell: one line, its pipes escaped (also inside code spans, as GFM wants)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    header = list(header)
    lines = [
        f"| {' | '.join(header)} |",
        f"|{'|'.join('---' for _ in header)}|",
        *(f"| {' | '.join(cell(value) for value in row)} |" for row in rows),
    ]
    return "\n".join(lines)


def code(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def link(page: Path, target: Path, text: str) -> str:
    """A link from `page` to the repository file `target`, relative as GitHub reads it."""
    return f"[{text}]({Path(os.path.relpath(target, page.parent)).as_posix()})"


def module_file(module: str) -> Path:
    return REPO / Path(*module.split(".")).with_suffix(".py")


def first_paragraph(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


# ---------------------------------------------------------------- lessons


def first_lesson(entry: EntryPoint) -> int:
    return int(re.match(r"\d+", entry.lessons).group())


def lesson_numbers(lessons: str) -> str:
    """'25-27,62' as the tables write it: '25\N{EN DASH}27, 62'."""
    return ", ".join(part.strip().replace("-", "\N{EN DASH}") for part in lessons.split(","))


def lessons(page: Path) -> str:
    entries = sorted(ENTRY_POINTS.values(), key=first_lesson)  # stable: ties keep their order
    rows = [
        (
            lesson_numbers(entry.lessons),
            link(page, module_file(f"pipelines.{entry.pipeline}"), f"`{entry.name}`"),
            entry.shows,
        )
        for entry in entries
    ]
    return table(("lessons", "entry point", "what its run shows"), rows)


def entry_point_names(page: Path) -> str:
    """Every entry point's name, in lesson order: what `mlflow run . -e` takes."""
    return code(entry.name for entry in sorted(ENTRY_POINTS.values(), key=first_lesson))


# ---------------------------------------------------------------- data sets


def reader(name: str, named: catalog.Named) -> Callable:
    """The function that really reads a named data set (under partials and FOLDERS)."""
    if name in catalog.FOLDERS:
        return catalog.FOLDERS[name]
    function = named.source
    while isinstance(function, partial):
        function = function.func
    return function


def module_of(function: Callable) -> str:
    """The module that defines a reader, without importing a lazily named one."""
    if isinstance(function, catalog.Lazy):
        return f"steps.data.sources.{function.module}"
    return function.__module__


def source_link(page: Path, function: Callable) -> str:
    module = module_of(function)
    return link(page, module_file(module), f"`{module.rpartition('.')[2]}`")


def datasets(page: Path) -> str:
    rows = [
        (
            f"`{name}`",
            named.kind,
            named.task,
            "after one download" if named.download else "yes",
            source_link(page, reader(name, named)),
        )
        for name, named in catalog.NAMED.items()
    ]
    return table(("`-P dataset=`", "samples", "task", "offline", "read by"), rows)


def schemes(page: Path) -> str:
    rows = [
        (
            f"`{scheme}:PATH`",
            source_link(page, read),
            first_paragraph(module_file(module_of(read))),
        )
        for scheme, read in catalog.SCHEMES.items()
    ]
    return table(("`-P dataset=`", "read by", "what it reads"), rows)


def downloads_by_default() -> dict[str, str]:
    """What each entry point downloads with its defaults, as the declarations say: its default
    data set when that set is marked `download` in the catalog, and ImageNet weights for an
    entry point whose default weights are `imagenet`. Every other one runs offline
    (tests/pipelines/test_offline.py checks this against the network's absence)."""
    found = {}
    for name, entry in ENTRY_POINTS.items():
        params = entry.params()
        named = catalog.NAMED.get(getattr(params, "dataset", ""))
        if "dataset" in entry.takes and named is not None and named.download:
            found[name] = params.dataset
        if "weights" in entry.takes and params.weights == "imagenet":
            found[name] = "imagenet weights"
    return found


def downloads(page: Path) -> str:
    needed: dict[str, list[str]] = {}
    for name, what in downloads_by_default().items():
        needed.setdefault(what, []).append(name)
    rows = [
        (
            "ImageNet weights (`-P weights=imagenet`)"
            if what == "imagenet weights"
            else f"`{what}`",
            code(names),
        )
        for what, names in needed.items()
    ]
    return table(("downloads", "entry points, with no `-P`"), rows)


# ---------------------------------------------------------------- model families

TABLE_ROW, IMAGE = (4,), (28, 28, 1)


def shape(dims: tuple[int, ...]) -> str:
    return f"({', '.join(map(str, dims))}{',' if len(dims) == 1 else ''})"


def families_table(page: Path) -> str:
    rows = [
        (
            f"`{name}`",
            shape(family.input_shape(TABLE_ROW)),
            shape(family.input_shape(IMAGE)),
            family.min_layers,
            family.cell or "",
            f"`{describe(family.space)}`",
        )
        for name, family in families.FAMILIES.items()
    ]
    header = (
        "`-P model=`",
        f"a table row {shape(TABLE_ROW)} becomes",
        f"an image {shape(IMAGE)} becomes",
        "fewest `layers`",
        "recurrent cell",
        "what `tune` searches",
    )
    return table(header, rows)


# ---------------------------------------------------------------- parameters


def kind(name: str) -> str:
    annotation = Params.model_fields[name].annotation
    if getattr(annotation, "__origin__", None) is tuple:
        return "list"
    return {int: "integer", float: "number", bool: "true/false"}.get(annotation, "text")


def taken_by(name: str) -> str:
    taking = [entry for entry, point in ENTRY_POINTS.items() if name in point.takes]
    others = [entry for entry in ENTRY_POINTS if entry not in taking]
    if not others:
        return "every entry point"
    if len(taking) > len(others):
        return f"all but {code(others)}"
    return code(taking)


def groups(page: Path) -> str:
    """The groups every training entry point takes, as MLproject writes them."""
    return table(("group", "parameters"), ((group, code(names)) for group, names in GROUPS.items()))


EMPTY = "''"  # an empty value, as `mlflow run` and the run's parameters spell it


def parameters(page: Path) -> str:
    defaults = Params()
    rows = [
        (
            f"`{name}`",
            kind(name),
            f"`{param_text(getattr(defaults, name)) or EMPTY}`",
            rule(Params, name).removeprefix("use "),
            info.description,
            taken_by(name),
        )
        for name, info in Params.model_fields.items()
    ]
    header = ("parameter", "type", "default", "takes", "meaning", "entry points")
    return table(header, rows)


BLOCKS: dict[str, Callable[[Path], str]] = {
    "lessons": lessons,
    "entry-points": entry_point_names,
    "datasets": datasets,
    "schemes": schemes,
    "downloads": downloads,
    "families": families_table,
    "groups": groups,
    "parameters": parameters,
}

# ---------------------------------------------------------------- rewriting pages


def rendered(page: Path, text: str | None = None) -> str:
    """`page` with every generated block as the declarations render it now."""

    def block(match: re.Match) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise SystemExit(
                f"{page.name}: unknown generated block {name!r}; use {', '.join(BLOCKS)}"
            )
        return f"{match['start']}\n{BLOCKS[name](page)}\n\n{match['end']}"

    return BLOCK.sub(block, page.read_text() if text is None else text)


def stale() -> list[Path]:
    return [page for page in pages() if rendered(page) != page.read_text()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.docs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only say which pages are stale")
    args = parser.parse_args(argv)
    out_of_date = stale()
    if args.check:
        for page in out_of_date:
            print(f"{page.relative_to(REPO)}: generated blocks are stale; run `make docs`")
        return 1 if out_of_date else 0
    for page in out_of_date:
        page.write_text(rendered(page))
        print(f"rewrote {page.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
