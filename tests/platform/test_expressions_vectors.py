"""The shared server/browser test vectors run through the Python service."""

from __future__ import annotations

import pytest

from dajian.platform.expressions import ExpressionError, ExpressionErrorCode, compile_expression
from dajian.platform.expressions.vectors import decode, load_vectors, same_value

VECTORS = load_vectors()
_TYPES = {"null", "bool", "int", "double", "string", "list", "map", "timestamp", "duration"}


def _all_typed(value: object) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, raw),) = value.items()
    if kind == "list":
        return all(_all_typed(item) for item in raw)
    if kind == "map":
        return all(_all_typed(item) for item in raw.values())
    return kind in _TYPES


def test_the_vector_file_is_big_enough_and_well_formed():
    assert len(VECTORS) >= 40
    for vector in VECTORS:
        assert set(vector) <= {"expr", "vars", "result", "error", "note"}
        assert isinstance(vector["expr"], str) and vector["expr"].strip()
        assert ("result" in vector) != ("error" in vector), vector
        assert all(_all_typed(v) for v in vector["vars"].values()), vector
        if "result" in vector:
            assert _all_typed(vector["result"]), vector


def test_the_vectors_cover_every_area():
    exprs = " ".join(v["expr"] for v in VECTORS)
    for needle in ("has(", " ? ", " in ", "null", "duration(", "timestamp(", "distance_m("):
        assert needle in exprs, needle
    for needle in ("chars(", "normalize(", ".all(", ".map(", "size("):
        assert needle in exprs, needle
    kinds = {next(iter(v["result"])) for v in VECTORS if "result" in v}
    assert {"int", "double", "string", "bool", "list", "timestamp", "duration"} <= kinds
    assert sum("error" in v for v in VECTORS) >= 5


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{i}:{v['expr'][:40]}" for i, v in enumerate(VECTORS)]
)
def test_vector(vector):
    compiled = compile_expression(vector["expr"])
    activation = {name: decode(value) for name, value in vector["vars"].items()}

    if "error" in vector:
        with pytest.raises(ExpressionError) as caught:
            compiled.evaluate(activation)
        assert caught.value.code == ExpressionErrorCode.EVALUATION
        return
    result = compiled.evaluate(activation)

    expected = decode(vector["result"])
    assert same_value(result, expected), f"{result!r} != {expected!r}"
