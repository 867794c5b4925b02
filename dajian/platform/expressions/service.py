"""CEL expressions: compile once (cached by source text), evaluate many times.

Contract (used by builder and runtime):

- ``compile_expression(source) -> CompiledExpression``; raises :class:`ExpressionError`
  (``code``, ``message``, ``line``, ``column``) for syntax errors and limit violations.
- ``CompiledExpression.identifiers`` — the top-level variable names the expression reads
  (so definitions can refuse references to missing fields).
- ``CompiledExpression.evaluate(activation: Mapping[str, Any]) -> Any``; raises
  :class:`ExpressionEvaluationError` on runtime errors (no such key, division by zero...).
  Activation values are already typed by the field types (int, float, str, bool,
  aware ``datetime`` for timestamps, ``timedelta`` for durations, lists and dicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ExpressionErrorCode(StrEnum):
    SYNTAX = "EXPRESSION_SYNTAX"
    TOO_LONG = "EXPRESSION_TOO_LONG"
    TOO_DEEP = "EXPRESSION_TOO_DEEP"
    EVALUATION = "EXPRESSION_EVALUATION"


class ExpressionError(Exception):
    def __init__(
        self, code: str, message: str, line: int | None = None, column: int | None = None
    ):
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message)


class ExpressionEvaluationError(ExpressionError):
    pass


@dataclass(frozen=True)
class CompiledExpression:
    source: str
    identifiers: frozenset[str]

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        raise NotImplementedError


def compile_expression(source: str) -> CompiledExpression:
    raise NotImplementedError
