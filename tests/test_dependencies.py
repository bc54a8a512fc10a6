"""The dependency list, kept twice: pyproject.toml's (pip, `make install`) and conda.yaml's pip
section (what `mlflow run` installs without `--env-manager local`). They must name the same
packages with the same ranges; a drift is named here."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers.runs import REPO

# The extras MLflow's own environment needs besides the dependencies: `autokeras` is an
# MLproject entry point. Not jax (a backend chosen per run: README, "Backends"), ui or dev
# (the tests' tools).
CONDA_EXTRAS = ("automl",)


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def conda() -> list:
    return yaml.safe_load((REPO / "conda.yaml").read_text())["dependencies"]


def ranges(requirements: list[str]) -> dict[str, str]:
    """name[extras] -> its range, spelt one way (`psycopg[binary]`: '<4,>=3.2')."""
    found = {}
    for text in requirements:
        requirement = Requirement(text)
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        key = f"{canonicalize_name(requirement.name)}{extras}"
        found[key] = ",".join(sorted(str(s) for s in requirement.specifier))
    return found


def drift(declared: list[str], installed: list[str]) -> list[str]:
    """How `installed` (conda.yaml) differs from `declared` (pyproject.toml), a line each."""
    want, have = ranges(declared), ranges(installed)
    lines = [f"missing from conda.yaml: {name}" for name in want if name not in have]
    lines += [f"in conda.yaml, not in pyproject.toml: {name}" for name in have if name not in want]
    lines += [
        f"{name}: pyproject.toml says {want[name] or 'any version'}, conda.yaml says "
        f"{have[name] or 'any version'}"
        for name in want
        if name in have and want[name] != have[name]
    ]
    return lines


def test_conda_yaml_installs_what_pyproject_toml_declares():
    project = pyproject()
    extras = project["optional-dependencies"]
    assert set(CONDA_EXTRAS) <= extras.keys()
    declared = [*project["dependencies"], *(r for name in CONDA_EXTRAS for r in extras[name])]
    pip = [item["pip"] for item in conda() if isinstance(item, dict) and "pip" in item]
    assert len(pip) == 1, "conda.yaml needs one pip section"
    problems = drift(declared, pip[0])
    assert problems == [], (
        "conda.yaml's pip section differs from pyproject.toml's dependencies (and its extras "
        f"{', '.join(CONDA_EXTRAS)}): {'; '.join(problems)}"
    )


def test_conda_yaml_python_is_one_pyproject_toml_allows():
    (python,) = [d for d in conda() if isinstance(d, str) and d.startswith("python=")]
    allowed = SpecifierSet(pyproject()["requires-python"])
    assert Version(python.removeprefix("python=")) in allowed, (python, str(allowed))


def test_the_drift_check_names_each_difference():
    declared = ["keras>=3.15,<3.16", "pandas>=2.2,<4", "psycopg[binary]>=3.2,<4", "Pydantic>=2"]
    installed = ["keras>=3.14,<3.16", "psycopg>=3.2,<4", "pydantic >= 2", "tqdm"]
    assert drift(declared, installed) == [
        "missing from conda.yaml: pandas",
        "missing from conda.yaml: psycopg[binary]",
        "in conda.yaml, not in pyproject.toml: psycopg",
        "in conda.yaml, not in pyproject.toml: tqdm",
        "keras: pyproject.toml says <3.16,>=3.15, conda.yaml says <3.16,>=3.14",
    ]
