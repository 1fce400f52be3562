"""Annotated field types shared by the HTTP models of every resource.

Text that reaches the database is refused when it holds control characters (PostgreSQL rejects
NUL in text, and no name needs a newline), so bad input is a 422, never a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, Field, StringConstraints

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value) or _CONTROL.search(value):
        raise ValueError("is not an email address (expected name@domain.tld)")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_chars),
]
"""A display name: 1 to 200 characters, no control characters."""

Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control_chars),
]
"""A free-form label such as ``petg-only`` or ``bay-3``."""

Tags = Annotated[list[Tag], Field(max_length=32, description="at most 32 tags")]

Material = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control_chars),
    Field(description="loaded material, e.g. 'PLA', 'PETG'"),
]

Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email),
    Field(description="an email address; compared case-insensitively", examples=["ada@example.com"]),
]

Password = Annotated[
    str,
    Field(min_length=8, max_length=1024, description="8 to 1024 characters"),
    AfterValidator(_no_control_chars),
]

NozzleMm = Annotated[float, Field(gt=0, le=5, description="nozzle diameter, millimetres")]
LengthMm = Annotated[float, Field(gt=0, le=10_000, description="millimetres")]

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
"""An id in a path: printer ids, user ids, API key ids."""
