"""One utterance → ``Parsed``: what it names, sets, changes, adds and removes (pure, never raises).

The parse is generic: dimensions are named ``height``, ``width``, ``wall`` …, not spec fields, so a
draft can wait for the family. ``edit`` maps them to each family's fields.

- A length is tied to the dimension word right after it (``12 cm tall``, ``2 mm walls``,
  ``20 cm de altura``) or right before it (``height 12 cm``, ``altura de 12 cm``); a length next to
  the object's name (``a 12 cm pot``, ``vaso de 12 cm``) is its ``size``; any other is unassigned.
- A comparative (``taller``, ``mais alto``, ``bigger``) is a relative edit whose amount is a length
  (``2 cm taller``: a delta), a percentage or a factor (``twice as wide``, ``duas vezes mais largo``,
  ``o dobro da altura``), or vague (``a bit shorter``, or none at all: ±10 %).
- A feature word with a negation up to three words before it (``no``, ``without``, ``sem``,
  ``tire``) is removed; a number before it is its count (``three drainage holes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from cloud.designs.understanding import lexicon as lx
from cloud.designs.understanding.text import Tok, tokenise

POSITIVE: Final = frozenset(
    {"with", "com", "and", "e", "but", "mas", "plus", "add", "adicione", "coloque", "put", "quero", "want"}
)
REQUEST_VERBS: Final = frozenset(
    {"make", "print", "design", "want", "need", "create", "build", "get", "model", "faca", "faz", "fazer",
     "imprima", "imprimir", "crie", "criar", "quero", "queria", "preciso", "desenhe", "gostaria", "like"}
)  # fmt: skip
ARTICLES: Final = frozenset({"a", "an", "some", "um", "uma", "uns", "umas", "another", "outro", "outra"})
NOT_OBJECTS: Final = frozenset(
    set(lx.NOUNS) | set(lx.ADJECTIVES) | set(lx.COMPARATIVES) | set(lx.VAGUE) | set(lx.FILLERS)
    | {w for phrases in lx.FEATURE_PHRASES.values() for p in phrases for w in p.split()}
    | {w for phrases in lx.FAMILY_PHRASES.values() for p in phrases for w in p.split()}
    | {"it", "one", "isso", "ele", "ela", "new", "novo", "nova", "few", "couple", "version", "versao",
       "thing", "coisa", "change", "mudanca", "copy", "hello", "ola", "oi", "bit", "pouco"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Relative:
    """A relative edit of ``dim``: new = old * ``factor`` + ``delta_mm``; ``vague``: no amount said."""

    dim: str
    factor: float = 1.0
    delta_mm: float = 0.0
    vague: bool = False


@dataclass(slots=True)
class Parsed:
    undo: bool = False
    families: list[str] = field(default_factory=list)
    ambiguous_vaso: bool = False
    planter_hint: bool = False
    vase_hint: bool = False
    unknown_object: str | None = None
    absolutes: list[tuple[str, float]] = field(default_factory=list)
    bare_mm: list[str] = field(default_factory=list)  # numbers without a unit, read as millimetres
    unassigned_mm: list[float] = field(default_factory=list)
    box_sizes_mm: tuple[float, ...] = ()
    relatives: list[Relative] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    degrees: list[float] = field(default_factory=list)
    mentioned_dims: list[str] = field(default_factory=list)

    @property
    def says_something(self) -> bool:
        return bool(
            self.families or self.ambiguous_vaso or self.absolutes or self.unassigned_mm or self.box_sizes_mm
            or self.relatives or self.features or self.degrees
        )  # fmt: skip


class _Scan:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.words = [t.text if t.kind == "word" else "#" for t in toks]
        self.used = [False] * len(toks)
        self.family_ends: set[int] = set()  # index of the last word of each object name
        self.family_starts: set[int] = set()

    def match(self, phrases: tuple[str, ...], i: int) -> int:
        """Length (in tokens) of the longest of ``phrases`` starting at ``i`` on unused words, or 0."""
        best = 0
        for phrase in phrases:
            parts = phrase.split()
            j = i + len(parts)
            if j <= len(self.words) and self.words[i:j] == parts and not any(self.used[i:j]):
                best = max(best, len(parts))
        return best

    def word(self, i: int) -> str:
        return self.words[i] if 0 <= i < len(self.words) else ""

    def next_content(self, i: int, skip: frozenset[str], limit: int = 3) -> int:
        """Index of the first token after ``i`` that is not in ``skip`` (within ``limit``), or -1."""
        for j in range(i + 1, min(len(self.toks), i + 1 + limit)):
            if self.toks[j].kind != "word" or self.words[j] not in skip:
                return j
        return -1

    def prev_content(self, i: int, skip: frozenset[str], limit: int = 4) -> int:
        for j in range(i - 1, max(-1, i - 1 - limit), -1):
            if self.toks[j].kind != "word" or self.words[j] not in skip:
                return j
        return -1


def parse(text: str) -> Parsed:
    scan = _Scan(tokenise(text))
    out = Parsed()
    joined = " " + " ".join(scan.words) + " "
    if any(f" {phrase} " in joined for phrase in lx.UNDO_PHRASES):
        out.undo = True
        return out
    _families(scan, out)
    _features(scan, out)
    _comparatives(scan, out)
    _factors(scan, out)
    _verbs(scan, out)
    _lengths(scan, out)
    out.planter_hint = any(w in lx.PLANTER_HINTS for w in scan.words) or bool(
        {"drainage_holes", "saucer"} & set(out.features)
    )
    out.vase_hint = any(w in lx.VASE_HINTS for w in scan.words)
    if not out.families and not out.ambiguous_vaso:
        out.unknown_object = _unknown_object(scan)
    return out


def _families(scan: _Scan, out: Parsed) -> None:
    phrases = [(fam, p) for fam, ps in lx.FAMILY_PHRASES.items() for p in ps]
    phrases += [("?vaso", p) for p in lx.AMBIGUOUS_VASO]
    phrases.sort(key=lambda fp: -len(fp[1].split()))
    for i in range(len(scan.words)):
        for family, phrase in phrases:
            n = len(phrase.split())
            if scan.match((phrase,), i) == n:
                for j in range(i, i + n):
                    scan.used[j] = True
                scan.family_starts.add(i)
                scan.family_ends.add(i + n - 1)
                if family == "?vaso":
                    out.ambiguous_vaso = True
                elif family not in out.families:
                    out.families.append(family)
                break


def _negated(scan: _Scan, i: int) -> bool:
    for j in range(i - 1, max(-1, i - 4), -1):
        word = scan.word(j)
        if word in lx.NEGATIONS:
            return True
        if word in POSITIVE:
            return False
    return False


def _count_before(scan: _Scan, i: int) -> int | None:
    for j in range(i - 1, max(-1, i - 4), -1):
        tok = scan.toks[j]
        if tok.kind == "num" and not scan.used[j]:
            scan.used[j] = True
            return int(tok.value)
        if tok.kind != "word":
            return None
    return None


def _features(scan: _Scan, out: Parsed) -> None:
    phrases = [(feat, p) for feat, ps in lx.FEATURE_PHRASES.items() for p in ps]
    phrases.sort(key=lambda fp: -len(fp[1].split()))
    for i in range(len(scan.words)):
        for feature, phrase in phrases:
            n = len(phrase.split())
            if scan.match((phrase,), i) != n:
                continue
            prev = scan.toks[i - 1] if i > 0 else None
            for j in range(i, i + n):
                scan.used[j] = True
            if feature in ("drainage_holes", "screw_holes") and prev is not None and prev.kind == "qty":
                scan.used[i - 1] = True  # "6 mm holes": holes, and their size
                out.features.setdefault(feature, True)
                out.absolutes.append(("hole", prev.value))
                break
            negated = _negated(scan, i)
            if feature in ("hexagonal", "square", "round"):
                if not negated:
                    out.features["outline"] = feature
            elif feature in ("drainage_holes", "screw_holes", "compartments"):
                count = _count_before(scan, i)
                out.features[feature] = 0 if negated else (count if count is not None else True)
            elif feature in ("twist", "angle"):
                out.features[feature] = not negated
            else:
                out.features[feature] = not negated
            break


def _amount_before(scan: _Scan, k: int) -> Relative | None:
    """The amount said before a comparative at ``k``: a length, percentage, factor or vague word."""
    skip = frozenset({"a", "an", "o", "um", "uma", "it", "make", "as", "so", "e", "and", "just", "only"})
    j = scan.prev_content(k, skip, limit=3)
    if j < 0 or scan.used[j]:
        return None
    tok = scan.toks[j]
    if tok.kind == "qty":
        scan.used[j] = True
        return Relative("", delta_mm=tok.value)
    if tok.kind == "pct":
        scan.used[j] = True
        return Relative("", factor=1 + tok.value / 100)
    if tok.kind == "factor":
        scan.used[j] = True
        return Relative("", factor=tok.value)
    if tok.kind == "num" and scan.word(k - 1) != "#":
        return None
    if scan.words[j] in lx.VAGUE:
        return Relative("", vague=True)
    return None


def _amount_after(scan: _Scan, k: int) -> Relative | None:
    """``taller by 2 cm`` / ``mais alto em 20 %``."""
    if scan.word(k + 1) in ("by", "em", "de") and k + 2 < len(scan.toks):
        tok = scan.toks[k + 2]
        if tok.kind == "qty":
            scan.used[k + 2] = True
            return Relative("", delta_mm=tok.value)
        if tok.kind == "pct":
            scan.used[k + 2] = True
            return Relative("", factor=1 + tok.value / 100)
    return None


def _signed(amount: Relative | None, dim: str, sign: int) -> Relative:
    if amount is None or amount.vague:
        return Relative(dim, factor=1 + sign * lx.VAGUE_FACTOR, vague=True)
    if amount.delta_mm:
        return Relative(dim, delta_mm=sign * amount.delta_mm)
    if sign > 0:
        return Relative(dim, factor=amount.factor)
    if amount.factor > 2:  # "20 % shorter" is 1.2 here: 0.8; "three times smaller" is 1/3
        return Relative(dim, factor=1 / amount.factor)
    factor = 2 - amount.factor if amount.factor > 1 else amount.factor
    return Relative(dim, factor=factor)


def _wall_near(scan: _Scan, k: int) -> bool:
    return any(lx.NOUNS.get(scan.word(j)) == "wall" for j in range(k - 3, k + 3))


def _comparatives(scan: _Scan, out: Parsed) -> None:
    for start, word in enumerate(scan.words):
        if scan.used[start]:
            continue
        found: tuple[str, int] | None = None
        k = start
        if word in lx.COMPARATIVES:
            found = lx.COMPARATIVES[word]
        elif word in ("mais", "menos") and scan.word(start + 1) in lx.PT_COMPARED:
            dim, sign = lx.PT_COMPARED[scan.word(start + 1)]
            found = (dim, sign if word == "mais" else -sign)
            k = start + 1
        if found is None:
            continue
        scan.used[start] = scan.used[k] = True
        dim, sign = found
        if dim == "thickness" and _wall_near(scan, k):
            dim = "wall"
        amount = _amount_before(scan, start) or _amount_after(scan, k)
        out.relatives.append(_signed(amount, dim, sign))


_FACTOR_SKIP: Final = frozenset(
    {"as", "the", "da", "do", "de", "a", "o", "in", "em", "na", "no", "mais", "its"}
)


def _dim_word(scan: _Scan, j: int) -> str | None:
    word = scan.word(j)
    return lx.ADJECTIVES.get(word) or lx.NOUNS.get(word) or lx.PT_COMPARED.get(word, ("", 0))[0] or None


def _factors(scan: _Scan, out: Parsed) -> None:
    for i, tok in enumerate(scan.toks):
        if tok.kind != "factor" or scan.used[i]:
            continue
        j = scan.next_content(i, _FACTOR_SKIP)
        dim = _dim_word(scan, j) if j >= 0 else None
        if dim is None and j >= 0 and scan.word(j) in lx.COMPARATIVES:
            dim = lx.COMPARATIVES[scan.word(j)][0]
        if dim is None:
            continue
        scan.used[i] = True
        scan.used[j] = True
        out.relatives.append(Relative("all" if dim == "all" else dim, factor=tok.value))


def _verbs(scan: _Scan, out: Parsed) -> None:
    for i, word in enumerate(scan.words):
        if scan.used[i] or (word not in lx.INCREASE_VERBS and word not in lx.DECREASE_VERBS):
            continue
        j = scan.next_content(i, frozenset({"the", "a", "o", "its", "it", "da", "do", "de"}))
        dim = _dim_word(scan, j) if j >= 0 else None
        if dim is None:
            continue
        scan.used[i] = scan.used[j] = True
        sign = 1 if word in lx.INCREASE_VERBS else -1
        out.relatives.append(_signed(_amount_after(scan, j), dim, sign))


def _after_dim(scan: _Scan, i: int) -> str | None:
    j = i + 1
    linked = False
    while scan.word(j) in lx.LINKS and not scan.used[j]:
        linked = True
        j += 1
    word = scan.word(j)
    if scan.used[j] if 0 <= j < len(scan.used) else True:
        return None
    if word in lx.ADJECTIVES and not linked:
        scan.used[j] = True
        return lx.ADJECTIVES[word]
    if word in lx.NOUNS and (linked or word in lx.NOUNS_RIGHT_AFTER):
        scan.used[j] = True
        return lx.NOUNS[word]
    return None


def _before_dim(scan: _Scan, i: int) -> str | None:
    j = scan.prev_content(i, lx.FILLERS)
    if j < 0:
        return None
    if j in scan.family_ends:
        return "size"
    word = scan.words[j]
    if lx.NOUNS.get(word) == "hole":  # "3 furos de 8 mm", "holes of 8 mm": the holes' size
        return "hole"
    if scan.used[j]:
        return None
    if word in lx.NOUNS:
        scan.used[j] = True
        return lx.NOUNS[word]
    return None


def _lengths(scan: _Scan, out: Parsed) -> None:
    for i, tok in enumerate(scan.toks):
        if scan.used[i]:
            continue
        if tok.kind == "dims":
            out.box_sizes_mm = tok.sizes_mm
            scan.used[i] = True
        elif tok.kind == "deg":
            out.degrees.append(tok.value)
            scan.used[i] = True
        elif tok.kind in ("qty", "num"):
            dim = _after_dim(scan, i) or _before_dim(scan, i)
            if dim is None and scan.next_content(i, frozenset(lx.LINKS)) in scan.family_starts:
                dim = "size"
            scan.used[i] = True
            if tok.kind == "num":
                if dim is not None:
                    out.absolutes.append(("size" if dim == "all" else dim, tok.value))
                    out.bare_mm.append(tok.text)
                continue
            if dim is None:
                out.unassigned_mm.append(tok.value)
            else:
                out.absolutes.append(("size" if dim == "all" else dim, tok.value))
    for i, word in enumerate(scan.words):
        if not scan.used[i] and (word in lx.NOUNS or word in lx.ADJECTIVES):
            out.mentioned_dims.append(lx.NOUNS.get(word) or lx.ADJECTIVES[word])


def _unknown_object(scan: _Scan) -> str | None:
    """The thing asked for when it is none of the studio's families (``make me a bicycle``)."""
    words = scan.words
    for i, word in enumerate(words):
        if word not in ARTICLES:
            continue
        before = words[max(0, i - 3) : i]
        if i > 0 and not any(w in REQUEST_VERBS or w in ("me", "for") for w in before):
            continue
        following = [w for w in words[i + 1 : i + 3] if w != "#"]
        for candidate in following:
            if candidate in NOT_OBJECTS or candidate in lx.NEGATIONS:
                break
            if len(candidate) > 2:
                return candidate
    return None
