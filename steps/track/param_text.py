"""How a parameter's value is spelt on the command line, in MLproject and on the run."""

from __future__ import annotations


def param_text(value: object) -> str:
    """A parameter's value as the command line, MLproject and the run spell it: true/false,
    comma lists, numbers without trailing zeros."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(param_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}" if value == float(f"{value:g}") else repr(value)
    return str(value)
