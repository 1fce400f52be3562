"""The built-in engine's words, English and Brazilian Portuguese, normalised (lower case, no accents).

Generic dimensions (``height``, ``width``, ``depth``, ``length``, ``thickness``, ``wall``,
``floor``, ``top``, ``bottom``, ``belly``, ``hole``, ``size``, ``all``) are mapped to each family's
spec fields in ``edit.FIELDS``.
"""

from __future__ import annotations

from typing import Final

from cloud.designs.understanding.base import Lang

FAMILY_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "planter": (
        "flower pot", "flowerpot", "plant pot", "planter", "planters", "pot", "pots", "vaso de planta",
        "vaso de plantas", "vaso para planta", "vaso para plantas", "vaso de suculenta", "cachepo",
        "cachepos", "plantador",
    ),
    "vase": (
        "flower vase", "vase", "vases", "vaso de flor", "vaso de flores", "vaso para flores",
        "vaso para flor", "vaso decorativo", "jarro",
    ),
    "box": ("box", "boxes", "caixa", "caixinha", "caixas", "container", "storage box"),
    "pen_holder": (
        "pen holder", "pencil holder", "pen cup", "pencil cup", "pen pot", "desk organiser",
        "desk organizer", "porta lapis", "porta canetas", "porta caneta", "porta treco", "porta trecos",
    ),
    "wall_bracket": (
        "wall bracket", "shelf bracket", "bracket", "brackets", "mao francesa", "suporte de parede",
        "suporte de prateleira", "suporte para prateleira", "cantoneira",
    ),
    "phone_stand": (
        "phone stand", "phone holder", "cellphone stand", "mobile stand", "phone dock", "tablet stand",
        "suporte de celular", "suporte para celular", "suporte de telefone", "suporte para telefone",
        "apoio de celular", "apoio para celular",
    ),
}  # fmt: skip
AMBIGUOUS_VASO: Final = ("vaso", "vasos", "vasinho")
PLANTER_HINTS: Final = frozenset(
    {"planta", "plantas", "plant", "plants", "drenagem", "furos", "furo", "pratinho", "prato", "terra",
     "suculenta", "suculentas", "muda", "mudas", "horta", "ervas", "cacto"}
)  # fmt: skip
VASE_HINTS: Final = frozenset({"flor", "flores", "flower", "flowers", "decorativo", "decoracao", "arranjo"})

ADJECTIVES: Final[dict[str, str]] = {
    "tall": "height", "high": "height", "alto": "height", "alta": "height",
    "wide": "width", "broad": "width", "across": "width", "largo": "width", "larga": "width",
    "deep": "depth", "profundo": "depth", "profunda": "depth",
    "long": "length", "comprido": "length", "comprida": "length",
    "thick": "thickness", "grosso": "thickness", "grossa": "thickness",
    "big": "all", "large": "all", "grande": "all", "size": "all", "tamanho": "all",
}  # fmt: skip
NOUNS: Final[dict[str, str]] = {
    "height": "height", "altura": "height",
    "width": "width", "largura": "width", "diameter": "width", "diametro": "width",
    "depth": "depth", "profundidade": "depth",
    "length": "length", "comprimento": "length", "arm": "length", "braco": "length", "shelf": "length",
    "thickness": "thickness", "espessura": "thickness",
    "wall": "wall", "walls": "wall", "parede": "wall", "paredes": "wall",
    "floor": "floor", "piso": "floor",
    "bottom": "bottom", "base": "bottom", "foot": "bottom",
    "top": "top", "opening": "top", "mouth": "top", "rim": "top", "boca": "top", "topo": "top",
    "abertura": "top",
    "belly": "belly", "barriga": "belly", "bojo": "belly",
    "hole": "hole", "holes": "hole", "furo": "hole", "furos": "hole",
}  # fmt: skip
NOUNS_RIGHT_AFTER: Final = frozenset(
    {"wall", "walls", "parede", "paredes", "floor", "hole", "holes", "furo", "furos", "base", "bottom"}
)
"""Nouns that name the dimension of a length right before them with no 'of'/'de' (``2 mm walls``)."""
LINKS: Final = frozenset({"de", "of", "in", "em", "da", "do", "na", "no"})
FILLERS: Final = frozenset(
    {"the", "a", "an", "its", "it", "to", "of", "is", "be", "at", "set", "make", "with", "and", "que",
     "seja", "de", "da", "do", "para", "pra", "em", "e", "com", "o", "as", "os", "ter", "tenha",
     "tem", "has", "have", "about", "around", "cerca", "uns", "umas", "mais", "ou", "menos", "total",
     "exactly", "exatamente", "like", "by", "fique", "ficar", "deixe", "deixa", "="}
)  # fmt: skip

COMPARATIVES: Final[dict[str, tuple[str, int]]] = {
    "taller": ("height", 1), "higher": ("height", 1), "shorter": ("height", -1), "lower": ("height", -1),
    "wider": ("width", 1), "broader": ("width", 1), "fatter": ("width", 1), "narrower": ("width", -1),
    "slimmer": ("width", -1), "skinnier": ("width", -1),
    "deeper": ("depth", 1), "shallower": ("depth", -1),
    "longer": ("length", 1),
    "thicker": ("thickness", 1), "thinner": ("thickness", -1),
    "bigger": ("all", 1), "larger": ("all", 1), "smaller": ("all", -1), "tinier": ("all", -1),
    "maior": ("all", 1), "menor": ("all", -1),
}  # fmt: skip
PT_COMPARED: Final[dict[str, tuple[str, int]]] = {
    "alto": ("height", 1), "alta": ("height", 1), "baixo": ("height", -1), "baixa": ("height", -1),
    "largo": ("width", 1), "larga": ("width", 1), "gordo": ("width", 1), "gorda": ("width", 1),
    "estreito": ("width", -1), "estreita": ("width", -1), "magro": ("width", -1), "magra": ("width", -1),
    "fundo": ("depth", 1), "funda": ("depth", 1), "profundo": ("depth", 1), "profunda": ("depth", 1),
    "raso": ("depth", -1), "rasa": ("depth", -1),
    "comprido": ("length", 1), "comprida": ("length", 1), "longo": ("length", 1), "longa": ("length", 1),
    "curto": ("length", -1), "curta": ("length", -1),
    "grosso": ("thickness", 1), "grossa": ("thickness", 1), "fino": ("thickness", -1),
    "fina": ("thickness", -1), "grossas": ("thickness", 1), "finas": ("thickness", -1),
}  # fmt: skip
"""Adjectives after ``mais`` (and, with the sign flipped, ``menos``): ``2 cm mais alto``."""
INCREASE_VERBS: Final = frozenset(
    {"increase", "raise", "extend", "grow", "enlarge", "aumente", "aumenta", "aumentar", "acrescente",
     "acrescenta", "alargue", "alongue"}
)  # fmt: skip
DECREASE_VERBS: Final = frozenset(
    {"decrease", "reduce", "shrink", "cut", "trim", "diminua", "diminui", "diminuir", "reduza", "reduz",
     "reduzir", "abaixe", "encurte"}
)  # fmt: skip
VAGUE: Final = frozenset({"bit", "little", "slightly", "somewhat", "pouco", "pouquinho", "tad", "touch"})
VAGUE_FACTOR: Final = 0.10
"""A vague relative edit ("a bit taller", "um pouco mais alto") changes the size by 10 % (and says so)."""

NEGATIONS: Final = frozenset(
    {"no", "without", "remove", "drop", "delete", "not", "dont", "nao", "sem", "tira", "tire", "tirar",
     "retire", "remova", "remover", "nenhum", "nenhuma", "lose", "skip", "off"}
)  # fmt: skip

FEATURE_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "screw_holes": (
        "screw holes", "screw hole", "mounting holes", "furos para parafuso", "furos de parafuso",
        "furos para parafusos", "furo para parafuso", "screws", "parafusos",
    ),
    "drainage_holes": (
        "drainage holes", "drainage hole", "drain holes", "drain hole", "drainage", "holes", "hole",
        "furos de drenagem", "furo de drenagem", "furos para drenagem", "drenagem", "furinhos", "furos",
        "furo",
    ),
    "saucer": ("drip tray", "saucer", "saucers", "dish", "tray", "pratinho", "prato", "pires", "bandeja"),
    "lid": ("lid", "cover", "tampa", "tampinha"),
    "hexagonal": ("hexagonal", "hexagon", "hex", "sextavado", "sextavada", "hexagono"),
    "square": ("square", "quadrado", "quadrada", "quadrangular"),
    "round": ("round", "circular", "cylindrical", "redondo", "redonda", "cilindrico", "cilindrica"),
    "compartments": (
        "compartments", "compartment", "divisions", "division", "sections", "section", "dividers",
        "compartimentos", "compartimento", "divisorias", "divisoria", "divisoes", "divisao",
    ),
    "cable_slot": (
        "cable slot", "cable hole", "charging slot", "charger slot", "cable", "passagem de cabo",
        "passagem para cabo", "furo para cabo", "abertura para cabo", "cabo",
    ),
    "gusset": ("gusset", "reinforcement", "brace", "rib", "reforco"),
    "twist": ("twisted", "twist", "torcido", "torcida", "torcao", "espiral"),
    "angle": ("angle", "angulo", "inclinacao", "tilt"),
}  # fmt: skip

UNDO_PHRASES: Final = (
    "undo", "go back", "revert", "previous version", "desfazer", "desfaz", "desfaca", "voltar",
    "volte", "versao anterior", "como estava",
)  # fmt: skip

PT_MARKERS: Final = frozenset(
    {"de", "com", "sem", "um", "uma", "mais", "menos", "vaso", "quero", "faca", "faz", "furos",
     "pratinho", "prato", "altura", "largura", "parede", "tampa", "caixa", "para", "por", "favor",
     "alto", "alta", "e", "o", "os", "da", "do", "em", "que", "suporte", "porta", "desfazer",
     "voltar", "fazer", "largo", "baixo", "maior", "menor", "ficar", "deixa", "deixe", "vezes",
     "dobro", "pouco", "bicicleta", "preciso", "agora", "isso", "tambem", "diametro", "centimetros",
     "polegadas", "duas", "dois", "tres", "drenagem", "sextavado", "quadrado", "redondo", "celular"}
)  # fmt: skip
EN_MARKERS: Final = frozenset(
    {"the", "a", "an", "with", "without", "make", "it", "tall", "wide", "pot", "planter", "vase", "box",
     "and", "of", "please", "holes", "saucer", "lid", "taller", "wider", "undo", "back", "i", "want",
     "me", "need", "for", "by", "is", "that", "shorter", "bigger", "smaller", "stand", "phone",
     "holder", "bracket", "go", "thick", "walls", "wall", "can", "you", "twice", "as", "bicycle",
     "inches", "two", "three", "drainage", "round", "square", "now", "also", "bit"}
)  # fmt: skip

FAMILY_NAMES: Final[dict[Lang, dict[str, str]]] = {
    "en": {
        "planter": "planter", "vase": "vase", "box": "box", "pen_holder": "pen holder",
        "wall_bracket": "wall bracket", "phone_stand": "phone stand",
    },
    "pt": {
        "planter": "vaso de planta", "vase": "vaso decorativo", "box": "caixa",
        "pen_holder": "porta-lápis", "wall_bracket": "mão francesa", "phone_stand": "suporte de celular",
    },
}  # fmt: skip
FIELD_LABELS: Final[dict[Lang, dict[str, str]]] = {
    "en": {
        "height": "height", "top_width": "top width", "bottom_width": "bottom width",
        "belly_width": "belly width", "width": "width", "depth": "depth", "wall": "wall",
        "floor": "floor", "arm_length": "arm length", "thickness": "thickness", "angle_deg": "angle",
        "twist_deg": "twist", "drainage_holes": "number of drainage holes", "hole_diameter": "hole size",
        "saucer_height": "saucer height", "saucer_gap": "saucer gap", "corner_radius": "corner radius",
        "lid_height": "lid height", "fit_clearance": "lid clearance", "compartments": "compartments",
        "screw_holes": "number of screw holes", "screw_diameter": "screw size",
        "phone_thickness": "phone thickness",
    },
    "pt": {
        "height": "altura", "top_width": "largura da boca", "bottom_width": "largura da base",
        "belly_width": "largura do bojo", "width": "largura", "depth": "profundidade", "wall": "parede",
        "floor": "fundo", "arm_length": "comprimento do braço", "thickness": "espessura",
        "angle_deg": "ângulo", "twist_deg": "torção", "drainage_holes": "número de furos de drenagem",
        "hole_diameter": "tamanho do furo", "saucer_height": "altura do pratinho",
        "saucer_gap": "folga do pratinho", "corner_radius": "raio dos cantos",
        "lid_height": "altura da tampa", "fit_clearance": "folga da tampa",
        "compartments": "compartimentos", "screw_holes": "número de furos para parafuso",
        "screw_diameter": "tamanho do parafuso", "phone_thickness": "espessura do celular",
    },
}  # fmt: skip
DIMENSION_NAMES: Final[dict[Lang, dict[str, str]]] = {
    "en": {"height": "height", "width": "width", "depth": "depth", "length": "length",
           "thickness": "thickness", "wall": "wall", "all": "size"},
    "pt": {"height": "altura", "width": "largura", "depth": "profundidade", "length": "comprimento",
           "thickness": "espessura", "wall": "parede", "all": "tamanho"},
}  # fmt: skip
