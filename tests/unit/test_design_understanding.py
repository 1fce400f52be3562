"""The built-in engine and the conversation, as tables: utterances in English and Brazilian
Portuguese → specs; relative edits; undo; unknown objects; contradictions; absurd sizes; and a fuzz
that nothing a user types makes it raise."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.designs import conversation
from cloud.designs.understanding import BuiltinEngine, HistoryTurn, Interpretation
from cloud.designs.understanding.base import validate_spec
from cloud.designs.understanding.replies import detect_lang
from cloud.designs.understanding.text import tokenise

ENGINE = BuiltinEngine()
PLANTER = validate_spec({"family": "planter"})  # 100 tall, 100 top, 75 bottom, 2 mm walls


class _Failures(logging.Handler):
    """Records the engine's own 'failed on' errors: its safety net must never be what answers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


FAILURES = _Failures()
logging.getLogger("cloud.designs.understanding.builtin").addHandler(FAILURES)


def understand(text: str, current: dict[str, Any] | None = None, history: list[HistoryTurn] | None = None,
               lang: Any = None) -> Interpretation:  # fmt: skip
    answer = ENGINE.understand(history or [], current, text, lang)
    assert not FAILURES.records, [r.getMessage() for r in FAILURES.records]
    return answer


def subset(spec: dict[str, Any] | None, expected: dict[str, Any]) -> dict[str, Any]:
    assert spec is not None
    return {k: spec[k] for k in expected}


@pytest.mark.parametrize(
    ("text", "mm"),
    [
        ("12 mm", 12.0), ("12mm", 12.0), ("1.5 cm", 15.0), ("1,5 cm", 15.0), ("2 m", 2000.0),
        ("3 in", 76.2), ("3 inches", 76.2), ('3"', 76.2), ("3 pol", 76.2), ("2 polegadas", 50.8),
        ("dois centímetros", 20.0), ("two cm", 20.0), ("an inch", 25.4), ("um centímetro", 10.0),
        ("12 milímetros", 12.0),
    ],
)  # fmt: skip
def test_lengths_in_every_unit(text: str, mm: float) -> None:
    [token] = [t for t in tokenise(text) if t.kind == "qty"]
    assert token.value == pytest.approx(mm)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a pot 12 cm tall", {"family": "planter", "height": 120.0}),
        ("a 12 cm pot", {"family": "planter", "top_width": 120.0, "bottom_width": 90.0}),
        ("a flower pot 15 cm high and 10 cm wide", {"height": 150.0, "top_width": 100.0}),
        ("a planter with drainage holes and a saucer", {"drainage_holes": 4, "saucer": True}),
        ("a hexagonal planter with three drainage holes", {"outline": "hexagonal", "drainage_holes": 3}),
        ("a square pot with 3 mm walls", {"outline": "square", "wall": 3.0}),
        ("a 5 inch pot", {"top_width": 127.0}),
        ("a vase 20 cm tall", {"family": "vase", "height": 200.0}),
        ("a box 20 x 30 x 40 mm", {"family": "box", "width": 20.0, "depth": 30.0, "height": 40.0}),
        ("a 20 mm box without a lid", {"family": "box", "width": 20.0, "height": 20.0, "lid": False}),
        ("a pen holder with 3 compartments", {"family": "pen_holder", "compartments": 3}),
        ("a wall bracket with a 15 cm arm", {"family": "wall_bracket", "arm_length": 150.0}),
        ("a phone stand at 70 degrees without a cable slot", {"family": "phone_stand", "angle_deg": 70.0,
                                                              "cable_slot": False}),
        ("vaso de planta de 15 cm de altura", {"family": "planter", "height": 150.0}),
        ("vaso de 12 cm com furos de drenagem e pratinho", {"family": "planter", "top_width": 120.0,
                                                            "drainage_holes": 4, "saucer": True}),
        ("cachepô sextavado com altura de 10 cm", {"family": "planter", "outline": "hexagonal", "height": 100.0}),
        ("vaso de flores de 25 cm", {"family": "vase", "height": 250.0}),
        ("caixa de 5 cm sem tampa", {"family": "box", "width": 50.0, "lid": False}),
        ("uma caixa de 20x30x40 mm", {"family": "box", "width": 20.0, "depth": 30.0, "height": 40.0}),
        ("porta-lápis quadrado com duas divisórias", {"family": "pen_holder", "outline": "square",
                                                     "compartments": 2}),
        ("suporte de celular com 9 cm de largura", {"family": "phone_stand", "width": 90.0}),
        ("mão francesa com braço de 12,5 cm", {"family": "wall_bracket", "arm_length": 125.0}),
        ("a box 10 cm wide, 5 cm deep and 3 cm tall", {"family": "box", "width": 100.0, "depth": 50.0,
                                                      "height": 30.0}),
        ("uma caixa de 10 por 5 por 3 cm", {"family": "box", "width": 100.0, "depth": 50.0, "height": 30.0}),
        ("um vaso de planta com 3 furos de 8 mm", {"drainage_holes": 3, "hole_diameter": 8.0}),
        ("a wall bracket with 3 screw holes", {"family": "wall_bracket", "screw_holes": 3}),
        ("a twisted vase", {"family": "vase", "twist_deg": 90.0}),
        ("vaso decorativo torcido 45 graus", {"family": "vase", "twist_deg": 45.0}),
    ],
)  # fmt: skip
def test_first_utterances_become_specs(text: str, expected: dict[str, Any]) -> None:
    answer = understand(text)
    assert answer.kind == "spec", answer
    assert subset(answer.spec, expected) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("make it 2 cm taller", {"height": 120.0}),
        ("2 cm mais alto", {"height": 120.0}),
        ("taller by 15 mm", {"height": 115.0}),
        ("1 cm shorter", {"height": 90.0}),
        ("5 mm mais baixo", {"height": 95.0}),
        ("twice as wide", {"top_width": 200.0, "bottom_width": 150.0}),
        ("duas vezes mais largo", {"top_width": 200.0, "bottom_width": 150.0}),
        ("o dobro da altura", {"height": 200.0}),
        ("half as tall", {"height": 50.0}),
        ("20% taller", {"height": 120.0}),
        ("20 % mais alto", {"height": 120.0}),
        ("a bit shorter", {"height": 90.0}),
        ("um pouco mais alto", {"height": 110.0}),
        ("taller", {"height": 110.0}),
        ("bigger", {"height": 110.0, "top_width": 110.0, "bottom_width": 82.5}),
        ("thicker walls", {"wall": 2.2}),
        ("parede mais grossa", {"wall": 2.2}),
        ("increase the height by 3 cm", {"height": 130.0}),
        ("aumente a altura em 3 cm", {"height": 130.0}),
        ("make it 8 cm wide", {"top_width": 80.0, "bottom_width": 60.0}),
        ("height 15 cm", {"height": 150.0}),
        ("altura de 15 cm", {"height": 150.0}),
        ("120 tall", {"height": 120.0}),
        ("no saucer", {"saucer": False}),
        ("sem pratinho", {"saucer": False}),
        ("without holes", {"drainage_holes": 0}),
        ("sem furos", {"drainage_holes": 0}),
        ("with a saucer", {"saucer": True}),
        ("com pratinho e 6 furos", {"saucer": True, "drainage_holes": 6}),
        ("hexagonal", {"outline": "hexagonal"}),
        ("make it 2 inches taller", {"height": 150.8}),
        ("make it 10% smaller", {"height": 90.0, "top_width": 90.0, "bottom_width": 67.5}),
        ("menor", {"height": 90.0, "top_width": 90.0}),
        ("reduce the width by 1 cm", {"top_width": 90.0, "bottom_width": 67.5}),
        ("wider by 20%", {"top_width": 120.0}),
        ("8 mm holes", {"hole_diameter": 8.0, "drainage_holes": 4}),
        ("paredes de 1,6 mm", {"wall": 1.6}),
        ("quadrado", {"outline": "square"}),
    ],
)
def test_edits_of_the_current_design(text: str, expected: dict[str, Any]) -> None:
    current = {**PLANTER, "saucer": True, "drainage_holes": 4}
    answer = understand(text, current)
    assert answer.kind == "spec", answer
    assert subset(answer.spec, expected) == expected
    assert answer.question is None  # an edit states no defaults


def test_a_vague_edit_says_what_it_did() -> None:
    assert "10 %" in understand("a bit shorter", PLANTER).reply
    assert "10 %" in understand("um pouco mais alto", PLANTER, lang="pt").reply


@pytest.mark.parametrize(
    ("text", "lang", "words"),
    [
        ("a bicycle", "en", ["bicycle", "planter", "phone stand"]),
        ("make me a bicycle", "en", ["bicycle"]),
        ("uma bicicleta", "pt", ["bicicleta", "vaso de planta"]),
        ("quero uma bicicleta", "pt", ["bicicleta"]),
    ],
)
def test_an_unknown_object_is_an_honest_refusal(text: str, lang: str, words: list[str]) -> None:
    for current in (None, PLANTER):
        answer = understand(text, current)
        assert answer.kind == "refusal" and answer.spec is None and answer.lang == lang
        assert all(w in answer.reply for w in words), answer.reply


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a 5 m pot", ["5000 mm", "400 mm"]),
        ("a planter with 0.1 mm walls", ["0.1 mm", "0.8 mm"]),
        ("a pot 1 mm tall", ["1 mm", "5 mm"]),
        ("um vaso de planta de 2 metros de altura", ["2000 mm", "400 mm"]),
        ("a planter with 30 drainage holes", ["30", "24"]),
    ],
)
def test_absurd_sizes_are_refused_with_the_bound(text: str, words: list[str]) -> None:
    answer = understand(text)
    assert answer.kind == "refusal" and answer.spec is None
    assert answer.reason and all(w in answer.reason for w in words), answer.reason


def test_a_relative_edit_past_the_bounds_is_refused() -> None:
    answer = understand("make it five times taller", PLANTER)
    assert answer.kind == "refusal" and "400 mm" in answer.reply


def test_a_contradiction_is_a_question_and_the_answer_settles_it() -> None:
    text = "a 10 cm pot 20 cm tall that is 5 cm tall"
    asked = understand(text)
    assert asked.kind == "question" and asked.spec is None
    assert "200 mm" in asked.reply and "50 mm" in asked.reply
    history = [
        HistoryTurn("user", text),
        HistoryTurn("studio", asked.reply, "question", None, asked.draft, "en"),
    ]
    settled = understand("20 cm", None, history)
    assert settled.kind == "spec"
    assert subset(settled.spec, {"height": 200.0, "top_width": 100.0}) == {
        "height": 200.0,
        "top_width": 100.0,
    }


def test_portuguese_vaso_alone_is_a_question_answered_by_the_next_turn() -> None:
    asked = understand("um vaso de 12 cm")
    assert asked.kind == "question" and asked.lang == "pt" and "planta" in asked.reply
    history = [HistoryTurn("user", "um vaso de 12 cm"), HistoryTurn("studio", asked.reply, "question", None,
                                                                      asked.draft, "pt")]  # fmt: skip
    planter = understand("de planta", None, history)
    assert planter.kind == "spec" and subset(planter.spec, {"family": "planter", "top_width": 120.0})
    vase = understand("para flores", None, history)
    assert vase.kind == "spec" and vase.spec is not None and vase.spec["family"] == "vase"


def test_a_length_without_a_dimension_is_a_question() -> None:
    asked = understand("make it 15 cm", PLANTER)
    assert asked.kind == "question" and "150 mm" in asked.reply
    history = [HistoryTurn("studio", asked.reply, "question", PLANTER, asked.draft, "en")]
    answer = understand("the height", PLANTER, history)
    assert answer.kind == "spec" and answer.spec is not None and answer.spec["height"] == 150.0


def test_missing_essentials_are_filled_and_said() -> None:
    answer = understand("a planter")
    assert answer.kind == "spec" and answer.question is not None
    assert "100 mm" in answer.question and "height" in answer.question
    pt = understand("quero um cachepô")
    assert pt.lang == "pt" and pt.question is not None and "Usei" in pt.question


@pytest.mark.parametrize("text", ["hello", "", "???", "make it", "qual é a sua cor favorita?"])
def test_nothing_understood_is_a_question(text: str) -> None:
    for current in (None, PLANTER):
        answer = understand(text, current)
        assert answer.kind == "question" and answer.spec is None


def test_two_objects_at_once_is_a_question() -> None:
    answer = understand("a vase or a box")
    assert answer.kind == "question" and "vase" in answer.reply and "box" in answer.reply


def test_a_feature_of_another_family_is_said_not_applied() -> None:
    answer = understand("with a lid", PLANTER)
    assert answer.kind == "spec" and answer.spec == PLANTER and "lid" in answer.reply


@pytest.mark.parametrize(
    ("text", "lang"),
    [("a pot 12 cm tall", "en"), ("um vaso de 12 cm", "pt"), ("sem pratinho", "pt"), ("no saucer", "en"),
     ("duas vezes mais largo", "pt"), ("twice as wide", "en"), ("altura de 15 cm", "pt")],
)  # fmt: skip
def test_the_language_is_detected(text: str, lang: str) -> None:
    assert detect_lang(text) == lang
    assert understand(text, PLANTER).lang == lang


def test_the_session_language_is_honoured() -> None:
    assert understand("a pot 12 cm tall", lang="pt").lang == "pt"
    assert "altura" in understand("a pot 12 cm tall", lang="pt").reply


@pytest.mark.parametrize("text", ["undo", "go back", "desfazer", "voltar", "please undo that"])
def test_undo_words(text: str) -> None:
    assert understand(text, PLANTER).kind == "undo"


def _studio(kind: str, spec: dict[str, Any] | None) -> HistoryTurn:
    return HistoryTurn("studio", "", kind, spec, None, "en")  # type: ignore[arg-type]


def test_undo_walks_back_through_the_specs() -> None:
    a, b, c = (validate_spec({"family": "planter", "height": h}) for h in (100.0, 120.0, 140.0))
    history = [_studio("spec", a), _studio("question", a), _studio("spec", b), _studio("spec", b),
               _studio("refusal", b), _studio("spec", c)]  # fmt: skip
    undo = Interpretation(kind="undo", reply="", lang="en")
    first = conversation.apply(history, c, undo)
    assert first.spec == b and first.changed and "120 mm" in first.reply
    history.append(_studio("undo", b))
    second = conversation.apply(history, b, undo)
    assert second.spec == a
    history.append(_studio("undo", a))
    third = conversation.apply(history, a, undo)
    assert third.spec is None and third.changed
    history.append(_studio("undo", None))
    nothing = conversation.apply(history, None, undo)
    assert not nothing.changed and "nothing to undo" in nothing.reply


def test_a_question_keeps_the_spec() -> None:
    asked = Interpretation(kind="question", reply="?", question="?", lang="en")
    outcome = conversation.apply([], PLANTER, asked)
    assert outcome.spec == PLANTER and not outcome.changed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.sampled_from([None, PLANTER]))
def test_it_never_raises(text: str, current: dict[str, Any] | None) -> None:
    answer = understand(text, current)
    assert answer.kind in ("spec", "question", "refusal", "undo")
    if answer.spec is not None:
        validate_spec(answer.spec)


WORDS = ["a", "pot", "vaso", "12", "cm", "taller", "mais", "alto", "twice", "duas", "vezes", "no", "sem",
         "saucer", "pratinho", "holes", "furos", "box", "x", "20", "%", "wide", "largo", "de", "by", "em",
         "undo", "bicycle", "inch", '"', "0.1", "mm", "5", "m", "half", "o", "dobro", "altura", "wall"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.sampled_from([None, PLANTER]))
def test_it_never_raises_on_its_own_words(words: list[str], current: dict[str, Any] | None) -> None:
    answer = understand(" ".join(words), current)
    assert answer.kind in ("spec", "question", "refusal", "undo")
    if answer.spec is not None:
        validate_spec(answer.spec)
