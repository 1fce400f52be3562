"""What the studio says, in English or Brazilian Portuguese (pure): summaries, questions, refusals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from pydantic import ValidationError

from cloud.designs.understanding import lexicon as lx
from cloud.designs.understanding.base import Lang
from cloud.designs.understanding.text import words

FEATURE_NAMES: Final[dict[Lang, dict[str, str]]] = {
    "en": {
        "drainage_holes": "drainage holes", "screw_holes": "screw holes", "saucer": "a saucer",
        "lid": "a lid", "outline": "that shape", "compartments": "compartments",
        "cable_slot": "a cable slot", "gusset": "a gusset", "twist": "a twist", "angle": "an angle",
    },
    "pt": {
        "drainage_holes": "furos de drenagem", "screw_holes": "furos para parafuso",
        "saucer": "pratinho", "lid": "tampa", "outline": "esse formato", "compartments": "divisórias",
        "cable_slot": "passagem de cabo", "gusset": "reforço", "twist": "torção", "angle": "ângulo",
    },
}  # fmt: skip
OUTLINES: Final[dict[Lang, dict[str, str]]] = {
    "en": {"round": "round", "square": "square", "hexagonal": "hexagonal"},
    "pt": {"round": "redondo", "square": "quadrado", "hexagonal": "sextavado"},
}


def detect_lang(text: str, fallback: Lang = "en") -> Lang:
    """``pt`` or ``en`` by marker words (accents count for Portuguese); ``fallback`` on a tie."""
    ws = words(text)
    pt = sum(w in lx.PT_MARKERS for w in ws) + 2 * sum(ch in "ãõçáéíóúâêô" for ch in text.lower())
    en = sum(w in lx.EN_MARKERS for w in ws)
    if pt > en:
        return "pt"
    if en > pt:
        return "en"
    return fallback


def mm(value: float, lang: Lang) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',') if lang == 'pt' else text} mm"


def label(field: str, lang: Lang) -> str:
    return lx.FIELD_LABELS[lang].get(field, field.replace("_", " "))


def family_name(family: str, lang: Lang) -> str:
    return lx.FAMILY_NAMES[lang][family]


def what_i_make(lang: Lang) -> str:
    names = [family_name(f, lang) for f in lx.FAMILY_NAMES[lang]]
    joined = ", ".join(names[:-1]) + (" e " if lang == "pt" else " and ") + names[-1]
    if lang == "pt":
        return f"O estúdio sabe fazer: {joined}."
    return f"The studio can make: {joined}."


def _parts(spec: dict[str, Any], lang: Lang) -> list[str]:
    family = spec["family"]
    pt = lang == "pt"
    out: list[str] = []
    if "height" in spec:
        out.append(f"{mm(spec['height'], lang)} {'de altura' if pt else 'tall'}")
    if family == "planter":
        top, bottom = mm(spec["top_width"], lang), mm(spec["bottom_width"], lang)
        out.append(
            f"{top} de boca ({bottom} na base)" if pt else f"{top} across the top ({bottom} at the foot)"
        )
    elif family == "vase":
        out.append(
            f"bojo de {mm(spec['belly_width'], lang)}"
            if pt
            else f"{mm(spec['belly_width'], lang)} at the belly"
        )
    elif "width" in spec:
        out.append(f"{mm(spec['width'], lang)} {'de largura' if pt else 'wide'}")
    if "depth" in spec:
        out.append(f"{mm(spec['depth'], lang)} {'de profundidade' if pt else 'deep'}")
    if "arm_length" in spec:
        out.append(f"{'braço de ' if pt else ''}{mm(spec['arm_length'], lang)}{'' if pt else ' arm'}")
    if "wall" in spec:
        out.append(f"parede de {mm(spec['wall'], lang)}" if pt else f"{mm(spec['wall'], lang)} walls")
    if "thickness" in spec:
        out.append(f"{mm(spec['thickness'], lang)} {'de espessura' if pt else 'thick'}")
    return out


def _extras(spec: dict[str, Any], lang: Lang) -> list[str]:
    pt = lang == "pt"
    out: list[str] = []
    holes = spec.get("drainage_holes")
    if holes is not None:
        if holes:
            out.append(
                f"{holes} furo{'s' if holes > 1 else ''} de drenagem"
                if pt
                else f"{holes} drainage hole{'s' if holes > 1 else ''}"
            )
        else:
            out.append("sem furos de drenagem" if pt else "no drainage holes")
    for key, yes_en, no_en, yes_pt, no_pt in (
        ("saucer", "with a saucer", "no saucer", "com pratinho", "sem pratinho"),
        ("lid", "with a lid", "no lid", "com tampa", "sem tampa"),
        ("cable_slot", "with a cable slot", "no cable slot", "com passagem de cabo", "sem passagem de cabo"),
        ("gusset", "with a gusset", "no gusset", "com reforço", "sem reforço"),
    ):
        if key in spec:
            out.append((yes_pt if spec[key] else no_pt) if pt else (yes_en if spec[key] else no_en))
    if spec.get("compartments", 1) > 1:
        n = spec["compartments"]
        out.append(f"{n} compartimentos" if pt else f"{n} compartments")
    if "screw_holes" in spec:
        n = spec["screw_holes"]
        out.append(f"{n} furos para parafuso" if pt else f"{n} screw holes")
    if "angle_deg" in spec:
        out.append(f"inclinado a {spec['angle_deg']:g}°" if pt else f"leaning at {spec['angle_deg']:g}°")
    if spec.get("twist_deg"):
        out.append(f"torção de {spec['twist_deg']:g}°" if pt else f"twisted {spec['twist_deg']:g}°")
    return out


def summary(spec: dict[str, Any], lang: Lang) -> str:
    """``A round planter: 120 mm tall, …, with a saucer.``"""
    name = family_name(spec["family"], lang)
    outline = spec.get("outline")
    if outline is not None:
        shape = OUTLINES[lang][outline]
        name = f"{name} {shape}" if lang == "pt" else f"{shape} {name}"
    article = ("Uma" if spec["family"] in ("box", "wall_bracket") else "Um") if lang == "pt" else "A"
    return f"{article} {name}: {', '.join(_parts(spec, lang) + _extras(spec, lang))}."


def refusal_from_validation(exc: ValidationError, lang: Lang) -> str:
    """The first bound a value broke, as a sentence: ``a height of 5000 mm is too large: at most 400 mm``."""
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error.get("loc", ()) if not str(p).endswith("Spec")]
        field = loc[-1] if loc else "value"
        ctx = error.get("ctx") or {}
        value = error.get("input")
        name = label(field, lang)
        shown = mm(float(value), lang) if isinstance(value, int | float) and _is_length(field) else f"{value}"
        if "le" in ctx or "lt" in ctx:
            limit = ctx.get("le", ctx.get("lt"))
            bound = mm(float(limit), lang) if _is_length(field) and limit is not None else f"{limit}"
            if lang == "pt":
                return f"Não dá para fazer: {name} de {shown} é demais — o máximo é {bound}."
            return f"I can't make that: a {name} of {shown} is too large — the most is {bound}."
        if "ge" in ctx or "gt" in ctx:
            limit = ctx.get("ge", ctx.get("gt"))
            bound = mm(float(limit), lang) if _is_length(field) and limit is not None else f"{limit}"
            if lang == "pt":
                return f"Não dá para fazer: {name} de {shown} é pouco — o mínimo é {bound}."
            return f"I can't make that: a {name} of {shown} is too small — the least is {bound}."
    if lang == "pt":
        return "Não dá para fazer com esses valores."
    return "I can't make that with those values."


def _is_length(field: str) -> bool:
    return field not in ("drainage_holes", "compartments", "screw_holes", "angle_deg", "twist_deg")


def unknown_object(thing: str, lang: Lang) -> str:
    if lang == "pt":
        return f"Ainda não sei fazer “{thing}”. {what_i_make(lang)} Quer um desses?"
    return f"I can't make a {thing} yet. {what_i_make(lang)} Would one of those do?"


def ask_what(lang: Lang) -> str:
    if lang == "pt":
        return f"O que você quer fazer? {what_i_make(lang)}"
    return f"What would you like to make? {what_i_make(lang)}"


def ask_vaso(lang: Lang) -> str:
    if lang == "pt":
        return "É um vaso de planta (com furos de drenagem e pratinho) ou um vaso decorativo para flores?"
    return "Is it a planter (for a plant, with drainage) or a vase for flowers?"


def ask_which(families: Sequence[str], lang: Lang) -> str:
    names = [family_name(f, lang) for f in families]
    if lang == "pt":
        return f"Qual deles: {' ou '.join(names)}?"
    return f"Which one: {' or '.join(names)}?"


def ask_conflict(field: str, values: Sequence[float], lang: Lang) -> str:
    shown = (" e " if lang == "pt" else " and ").join(mm(v, lang) for v in values)
    if lang == "pt":
        return f"Você deu mais de um valor para {label(field, lang)} ({shown}). Qual deles?"
    return f"You gave more than one {label(field, lang)} ({shown}). Which one do you want?"


def ask_dimension(value_mm: float, lang: Lang) -> str:
    if lang == "pt":
        return f"{mm(value_mm, lang)} de quê: altura, largura ou parede?"
    return f"{mm(value_mm, lang)} for what: the height, the width or the wall?"


def relative_without_design(lang: Lang) -> str:
    if lang == "pt":
        return f"Mudar em relação a quê? Primeiro diga o que quer fazer. {what_i_make(lang)}"
    return f"Change it compared to what? First tell me what to make. {what_i_make(lang)}"


def defaults_used(spec: dict[str, Any], fields: Sequence[str], lang: Lang) -> str:
    shown = [f"{label(f, lang)} {mm(spec[f], lang)}" for f in fields]
    joined = (" e " if lang == "pt" else " and ").join(shown)
    if lang == "pt":
        return f"Usei {joined}; quer outras medidas?"
    return f"I used {joined}; want different sizes?"


def vague_note(dim: str, factor: float, lang: Lang) -> str:
    percent = round(abs(factor - 1) * 100)
    name = lx.DIMENSION_NAMES[lang].get(dim, dim)
    more = factor > 1
    if lang == "pt":
        word = "aumentei" if more else "diminuí"
        article = "o" if dim in ("length", "all") else "a"
        return f"Como não disse quanto, {word} {article} {name} em {percent} %; diga o valor se quiser outro."
    word = "increased" if more else "reduced"
    return (
        f"You didn't say how much, so I {word} the {name} by {percent} %;"
        " tell me a number for another amount."
    )


def not_applicable(features: Sequence[str], family: str, lang: Lang) -> str:
    names = ", ".join(FEATURE_NAMES[lang].get(f, f) for f in features)
    if lang == "pt":
        return f"({family_name(family, lang)} não tem opção de {names}.)"
    return f"(A {family_name(family, lang)} has no option for {names}.)"


def dimension_not_applicable(dims: Sequence[str], family: str, lang: Lang) -> str:
    names = ", ".join(lx.DIMENSION_NAMES[lang].get(d, d) for d in dims)
    if lang == "pt":
        return f"({family_name(family, lang)} não tem medida de {names}; ignorei.)"
    return f"(A {family_name(family, lang)} has no {names} to set; I left it.)"


def bare_numbers(numbers: Sequence[str], lang: Lang) -> str:
    joined = ", ".join(numbers)
    if lang == "pt":
        return f"(Li {joined} como milímetros.)"
    return f"(I read {joined} as millimetres.)"


def undone(spec: dict[str, Any] | None, lang: Lang) -> str:
    if spec is None:
        return "Desfeito: voltamos ao começo." if lang == "pt" else "Undone: back to the start."
    prefix = "Desfeito. " if lang == "pt" else "Undone. "
    return prefix + summary(spec, lang)


def nothing_to_undo(lang: Lang) -> str:
    return "Não há nada para desfazer." if lang == "pt" else "There is nothing to undo."


def not_understood(lang: Lang) -> str:
    if lang == "pt":
        return "Não entendi. Pode dizer de outro jeito? Por exemplo: “vaso de 12 cm com pratinho”."
    return "I didn't understand that. Could you say it another way? For example: “a 12 cm pot with a saucer”."
