"""The expression service (CEL). See :mod:`.service` for the contract."""

from dajian.platform.expressions.service import (
    CompiledExpression,
    ExpressionError,
    ExpressionErrorCode,
    ExpressionEvaluationError,
    compile_expression,
)

__all__ = [
    "CompiledExpression",
    "ExpressionError",
    "ExpressionErrorCode",
    "ExpressionEvaluationError",
    "compile_expression",
]
