"""Understanding engines: a user's words (and the conversation so far) → an ``Interpretation``.

``BuiltinEngine`` is deterministic and offline (English, Brazilian Portuguese); ``LlmEngine`` asks
an OpenAI-compatible endpoint and ``FallbackEngine`` puts the built-in one behind it.
"""

from cloud.designs.understanding.base import Draft, Engine, HistoryTurn, Interpretation, Lang
from cloud.designs.understanding.builtin import BuiltinEngine
from cloud.designs.understanding.llm import FallbackEngine, LlmEngine, LlmFailure

__all__ = [
    "BuiltinEngine",
    "Draft",
    "Engine",
    "FallbackEngine",
    "HistoryTurn",
    "Interpretation",
    "Lang",
    "LlmEngine",
    "LlmFailure",
]
