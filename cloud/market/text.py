"""Plain text in the marketplace: listings refuse markup, reviews have it stripped; search tokens.

Decision: listing titles, descriptions and tags are **plain text**, and text that looks like HTML
markup (``<`` followed by a letter, ``/``, ``!`` or ``?``) is **refused** (422): what a seller
wrote comes back exactly as written, and no client can be tricked into rendering markup from it.
"3 < 5" is fine. Review text is written by buyers in passing, so markup is **stripped** rather
than refused (``<script>alert(1)</script>`` → ``alert(1)``); a tag never comes back as markup.
Control characters other than newline and tab are refused everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_TAG_START: Final = re.compile(r"<[A-Za-z/!?]")
_TAG: Final = re.compile(r"<[^<>]*>")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TOKEN: Final = re.compile(r"[0-9a-z]+")


def has_markup(value: str) -> bool:
    return _TAG_START.search(value) is not None


def plain_text(value: str) -> str:
    """``value`` unchanged when it is plain text; ``ValueError`` when it holds markup or control chars."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if has_markup(value):
        raise ValueError("must be plain text: HTML markup such as <script> is not allowed")
    return value


def strip_markup(value: str) -> str:
    """``value`` with every tag removed (repeatedly, so nested tricks do not survive), trimmed."""
    value = _CONTROL.sub("", value)
    previous = None
    while previous != value:
        previous = value
        value = _TAG.sub("", value)
    while has_markup(value):  # a lone "<script" without ">" left over
        match = _TAG_START.search(value)
        assert match is not None
        value = value[: match.start()] + value[match.start() + 1 :]
    return value.strip()


def fold(value: str) -> str:
    """Lower case without accents: ``"Pflanztopf Größe"`` → ``"pflanztopf grosse"``."""
    ascii_text = unicodedata.normalize("NFKD", value.replace("ß", "ss")).encode("ascii", "ignore")
    return ascii_text.decode("ascii").lower()


def tokens(value: str) -> list[str]:
    """Search tokens of ``value`` (folded words and numbers)."""
    return _TOKEN.findall(fold(value))
