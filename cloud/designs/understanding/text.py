"""Utterance → tokens with numbers, lengths, percentages, angles and factors recognised (pure).

Normalisation: lower case, accents dropped (``diâmetro`` → ``diametro``), a decimal comma read as a
point (``12,5 cm``), glued units split (``12cm``). Lengths become millimetres from ``mm``, ``cm``,
``m``, ``in``/``inch``/``"``, ``pol``/``polegadas`` (and the spelled-out names). Number words
(``two``, ``dois``, ``duas`` …) count only before a unit, a countable noun or ``times``/``vezes``
(``uma caixa`` stays an article); ``a``/``an``/``um``/``uma`` right before a unit is one of it.
``twice``/``double``/``o dobro`` are a factor of 2, ``half``/``metade`` 0.5, ``N times``/``N vezes``/``Nx`` N.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

TokKind = Literal["word", "num", "qty", "pct", "deg", "factor", "dims"]

UNITS_MM: Final[dict[str, float]] = {
    "mm": 1.0,
    "millimeter": 1.0,
    "millimeters": 1.0,
    "millimetre": 1.0,
    "millimetres": 1.0,
    "milimetro": 1.0,
    "milimetros": 1.0,
    "cm": 10.0,
    "centimeter": 10.0,
    "centimeters": 10.0,
    "centimetre": 10.0,
    "centimetres": 10.0,
    "centimetro": 10.0,
    "centimetros": 10.0,
    "m": 1000.0,
    "meter": 1000.0,
    "meters": 1000.0,
    "metre": 1000.0,
    "metres": 1000.0,
    "metro": 1000.0,
    "metros": 1000.0,
    "in": 25.4,
    "inch": 25.4,
    "inches": 25.4,
    '"': 25.4,
    "pol": 25.4,
    "polegada": 25.4,
    "polegadas": 25.4,
}
NUMBER_WORDS: Final[dict[str, float]] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20,
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6,
    "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "vinte": 20,
}  # fmt: skip
ARTICLES_ONE: Final = frozenset({"a", "an", "um", "uma"})
COUNT_NOUNS: Final = frozenset(
    {
        "hole", "holes", "furo", "furos", "compartment", "compartments", "compartimento",
        "compartimentos", "divisoria", "divisorias", "division", "divisions", "section", "sections",
        "slot", "slots", "screw", "screws", "parafuso", "parafusos",
    }
)  # fmt: skip
TIMES_WORDS: Final = frozenset({"times", "vezes", "x"})
DIMS_SEPARATORS: Final = frozenset({"x", "by", "por"})
PERCENT_WORDS: Final = frozenset({"%", "percent", "pct"})
DEGREE_WORDS: Final = frozenset({"°", "deg", "degree", "degrees", "grau", "graus"})
FACTOR_WORDS: Final[dict[str, float]] = {
    "twice": 2.0, "double": 2.0, "dobro": 2.0, "triple": 3.0, "triplo": 3.0, "half": 0.5, "metade": 0.5,
}  # fmt: skip
_TOKEN: Final = re.compile(r"\d+(?:\.\d+)?|[a-z]+|[\"%°]")


@dataclass(frozen=True, slots=True)
class Tok:
    """One token. ``value``: millimetres (qty), a count (num), percent (pct), degrees (deg), a factor."""

    kind: TokKind
    text: str
    value: float = 0.0
    unit: str = ""
    sizes_mm: tuple[float, ...] = ()


def normalise(text: str) -> str:
    """Lower case, no accents, decimal commas as points, numbers split from glued units."""
    text = text.replace("\u201d", '"').replace("\u201c", '"').replace("\u2033", '"').replace("''", '"')
    text = text.replace("º", "°")
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch) or ch == "\u00b0")
    plain = re.sub(r"(\d),(\d)", r"\1.\2", plain)
    plain = re.sub(r"(\d)([a-z%°\"])", r"\1 \2", plain)
    return re.sub(r"por\s+cento", "percent", plain)


def words(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def _is_number(word: str) -> bool:
    return word[0].isdigit()


def _counts_next(raw: list[str], i: int) -> bool:
    """A number word at ``i`` counts when a unit, a countable noun or 'times' follows within 2 words."""
    return any(word in UNITS_MM or word in COUNT_NOUNS or word in TIMES_WORDS for word in raw[i + 1 : i + 3])


def tokenise(text: str) -> list[Tok]:
    """``text`` as tokens, with lengths, percentages, angles and factors folded into one token each."""
    raw = words(text)
    values: list[float | None] = []
    for i, word in enumerate(raw):
        if _is_number(word):
            values.append(float(word))
        elif word in NUMBER_WORDS and _counts_next(raw, i):
            values.append(float(NUMBER_WORDS[word]))
        elif word in ARTICLES_ONE and i + 1 < len(raw) and raw[i + 1] in UNITS_MM and raw[i + 1] != '"':
            values.append(1.0)
        else:
            values.append(None)
    out: list[Tok] = []
    i = 0
    while i < len(raw):
        word, value = raw[i], values[i]
        after = raw[i + 1] if i + 1 < len(raw) else ""
        if value is not None and after in DIMS_SEPARATORS and i + 2 < len(raw) and _is_number(raw[i + 2]):
            i = _dims(raw, i, out)
            continue
        if value is None:
            if word in FACTOR_WORDS:
                out.append(Tok("factor", word, FACTOR_WORDS[word]))
            else:
                out.append(Tok("word", word))
            i += 1
        elif after in UNITS_MM:
            out.append(Tok("qty", f"{word} {after}", value * UNITS_MM[after], unit=after))
            i += 2
        elif after in PERCENT_WORDS:
            out.append(Tok("pct", f"{word}%", value))
            i += 2
        elif after in DEGREE_WORDS:
            out.append(Tok("deg", f"{word}°", value))
            i += 2
        elif after in TIMES_WORDS:
            out.append(Tok("factor", f"{word} {after}", value))
            i += 2
        else:
            out.append(Tok("num", word, value))
            i += 1
    return out


def _dims(raw: list[str], i: int, out: list[Tok]) -> int:
    """``20 x 30 x 40 mm``, ``20 by 30 mm``, ``20 por 30 cm`` (millimetres without a unit) as one token."""
    numbers = [float(raw[i])]
    j = i + 1
    while j + 1 < len(raw) and raw[j] in DIMS_SEPARATORS and _is_number(raw[j + 1]):
        numbers.append(float(raw[j + 1]))
        j += 2
    unit = raw[j] if j < len(raw) and raw[j] in UNITS_MM else ""
    scale = UNITS_MM[unit] if unit else 1.0
    text = " x ".join(f"{n:g}" for n in numbers) + (f" {unit}" if unit else "")
    out.append(Tok("dims", text, unit=unit or "mm", sizes_mm=tuple(n * scale for n in numbers)))
    return j + 1 if unit else j
