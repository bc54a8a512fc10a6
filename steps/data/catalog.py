"""The data-set catalog: `-P dataset=` as a registered name or a URI (`npz:PATH`, `csv:PATH`,
`dir:PATH`), resolved to the `Source` that loads it.

`NAMED` lists every data set a lesson can ask for by name, with the kind of samples it
holds, its task and whether it needs a download (messages that suggest data sets, the
offline test and the data-set docs read them from here); `SCHEMES` maps
each URI scheme to the reader of the user's own files. To add a data set, write a function
returning a `Source` in the `steps/data/sources/` module of its kind and add its row to NAMED,
naming it with `lazy`: a source module is imported when a data set is resolved, so listing
the names (the parameter table, `--help`) stays cheap.
`FOLDERS` names the image folders the project writes itself (from bundled images): they are
read exactly as a user's `dir:PATH` is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from steps.errors import UserError

if TYPE_CHECKING:
    from steps.data.dataset import Source, Task
    from steps.data.options import TableOptions

Kind = Literal["images", "table", "series", "text"]


@dataclass(frozen=True)
class Named:
    source: Callable[[], Source]
    kind: Kind
    task: Task
    download: bool = False  # fetched once from upstream; else bundled or generated (offline)
    # photos read at any size: its source takes `-P image_size=` (height, width)
    sized: bool = False


@dataclass(frozen=True)
class Lazy:
    """`steps.data.sources.<module>.<function>`, called with `first` before its own arguments,
    imported at the first call: listing the names (`-P dataset=`'s help) costs no NumPy."""

    module: str
    function: str
    first: tuple = ()

    def target(self) -> Callable:
        return getattr(import_module(f"steps.data.sources.{self.module}"), self.function)

    def __call__(self, *args: object) -> object:
        return self.target()(*self.first, *args)


def lazy(module: str, function: str, *first: object) -> Lazy:
    return Lazy(module, function, first)


# name -> the folder of class sub-folders it stands for, written on first use
FOLDERS: dict[str, Callable[[], Path]] = {"digits_folder": lazy("folders", "digits_folder")}


def folder_source(name: str) -> Source:
    return lazy("image_folder", "source")(FOLDERS[name]())


NAMED: dict[str, Named] = {
    "mnist": Named(lazy("keras_sets", "mnist"), "images", "classification", download=True),
    "fashion_mnist": Named(
        lazy("keras_sets", "fashion_mnist"), "images", "classification", download=True
    ),
    "cifar10": Named(lazy("keras_sets", "cifar10"), "images", "classification", download=True),
    "cifar100": Named(lazy("keras_sets", "cifar100"), "images", "classification", download=True),
    "digits": Named(lazy("sklearn_sets", "source", "digits"), "images", "classification"),
    "digits_folder": Named(partial(folder_source, "digits_folder"), "images", "classification"),
    "cats_vs_dogs": Named(
        lazy("photos", "cats_vs_dogs"), "images", "classification", download=True, sized=True
    ),
    "boston_housing": Named(
        lazy("keras_sets", "boston_housing"), "table", "regression", download=True
    ),
    "diabetes": Named(lazy("sklearn_sets", "source", "diabetes"), "table", "regression"),
    "iris": Named(lazy("sklearn_sets", "source", "iris"), "table", "classification"),
    "breast_cancer": Named(
        lazy("sklearn_sets", "source", "breast_cancer"), "table", "classification"
    ),
    "wine": Named(lazy("sklearn_sets", "source", "wine"), "table", "classification"),
    "linear": Named(lazy("toys", "linear"), "table", "regression"),
    "sequences": Named(lazy("toys", "sequences"), "table", "regression"),
    "series": Named(lazy("toys", "series"), "series", "regression"),
    "sentences": Named(lazy("text_sets", "sentences"), "text", "classification"),
    "reuters": Named(
        lazy("text_sets", "text_archive", "reuters"), "text", "classification", download=True
    ),
    "imdb": Named(
        lazy("text_sets", "text_archive", "imdb"), "text", "classification", download=True
    ),
}

# scheme -> reader of `scheme:PATH` (the `target` column matters to csv: only)
SCHEMES: dict[str, Callable[[Path, str], Source]] = {
    "npz": lazy("npz_file", "source"),
    "csv": lazy("csv_file", "source"),
    "dir": lazy("image_folder", "source"),
}


def names(kind: Kind | None = None, task: Task | None = None) -> tuple[str, ...]:
    """Registered data sets of one kind and/or task, for messages and defaults."""
    return tuple(
        name
        for name, named in NAMED.items()
        if kind in (None, named.kind) and task in (None, named.task)
    )


def uri_forms() -> str:
    """'npz:PATH, csv:PATH or dir:PATH', from SCHEMES."""
    forms = [f"{scheme}:PATH" for scheme in SCHEMES]
    return f"{', '.join(forms[:-1])} or {forms[-1]}"


def is_photos(uri: str) -> bool:
    """Whether `uri` is read from image files, at any size: a folder or a `sized` name."""
    return is_folder(uri) or (uri in NAMED and NAMED[uri].sized)


def is_folder(uri: str) -> bool:
    """Whether `uri` is read as a folder of class sub-folders: `dir:PATH` or a FOLDERS name."""
    return uri.startswith("dir:") or uri in FOLDERS


def folder(uri: str) -> Path:
    """The folder `uri` stands for (a FOLDERS name's is written now if missing)."""
    return FOLDERS[uri]() if uri in FOLDERS else Path(uri.removeprefix("dir:"))


def label(uri: str) -> str:
    """A data set as run names and MLflow's Dataset column show it: a bundled set's name, a
    file or folder's own name (`csv:/data/houses.csv` -> `houses.csv`)."""
    scheme, sep, path = uri.partition(":")
    return Path(path).name or path if sep and scheme in SCHEMES else uri


def resolve(uri: str, *, target: str = "", table: TableOptions | None = None) -> Source:
    """Turn `-P dataset=` into a Source, or say what is accepted. `table`: how a csv: file is
    read and its features made (the defaults when None)."""
    if ":" in uri:
        scheme, _, path = uri.partition(":")
        if scheme not in SCHEMES:
            raise UserError(f"unknown data set URI scheme {scheme!r} in {uri!r}; use {uri_forms()}")
        if scheme == "csv" and table is not None:
            return SCHEMES[scheme](Path(path), target, table)
        return SCHEMES[scheme](Path(path), target)
    if uri not in NAMED:
        raise UserError(
            f"unknown data set {uri!r}; choose one of {', '.join(sorted(NAMED))}, "
            f"or give {uri_forms()}"
        )
    return NAMED[uri].source()
