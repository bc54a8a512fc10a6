"""Credentials in URLs: a storage or tracking URL written `scheme://user:password@host/...`
never reaches a run's parameters, tags, messages or output; it passes through `redacted`.

The way to keep a password off the command line is the database client's own: libpq (under
psycopg and SQLAlchemy) reads PGPASSWORD and ~/.pgpass, so the URL names only the user.
"""

from __future__ import annotations

import re

# scheme://user:password@ -> scheme://user:***@ (the password runs to the last @ before the host)
CREDENTIALS = re.compile(r"(\b[A-Za-z][\w+.-]*://[^\s:/@]*):(?:[^\s@]*@)+")


def redacted(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return CREDENTIALS.sub(r"\1:***@", text)


def holds_password(text: str) -> bool:
    return redacted(text) != text
