"""The one exception type for failures the user can fix."""


class UserError(Exception):
    """Bad input or missing data: shown as one line on stderr, no traceback, run ends FAILED."""
