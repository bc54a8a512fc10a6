"""One module per lesson group; `entry_points.ENTRY_POINTS` maps entry-point names to them.

From Python: `from pipelines import run` (`pipelines.api`); `table` lines runs up side by side.
Importing the package loads nothing heavy: these names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.api import LessonError, run
    from steps.track.result import Result, table

__all__ = ["LessonError", "Result", "run", "table"]


def __getattr__(name: str):
    if name in ("run", "LessonError"):
        from pipelines import api

        return getattr(api, name)
    if name in ("Result", "table"):
        from steps.track import result

        return getattr(result, name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
