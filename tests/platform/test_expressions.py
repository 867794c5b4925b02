"""The expression service: compile cache, identifiers, limits, errors, thread safety."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings

from dajian.platform.expressions import (
    CompiledExpression,
    ExpressionError,
    ExpressionErrorCode,
    ExpressionEvaluationError,
    compile_expression,
)

MAX_CHARS = django_settings.DAJIAN["MAX_EXPRESSION_CHARS"]
MAX_DEPTH = django_settings.DAJIAN["MAX_EXPRESSION_DEPTH"]


def compile_error(source: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    return caught.value


def evaluation_error(source: str, activation: dict) -> ExpressionEvaluationError:
    compiled = compile_expression(source)
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate(activation)
    assert type(caught.value) is ExpressionEvaluationError
    assert caught.value.code == ExpressionErrorCode.EVALUATION
    assert caught.value.message
    return caught.value


# --- compile cache -------------------------------------------------------------------


def test_compiling_the_same_text_returns_the_same_object():
    first = compile_expression("amount > 1000.0 && stage == 'cache-test'")

    again = compile_expression("amount > 1000.0 && stage == 'cache-test'")

    assert again is first
    assert isinstance(first, CompiledExpression)
    assert compile_expression("amount > 1000.0 && stage == 'other'") is not first


def test_concurrent_first_compiles_agree_on_one_object():
    source = "n * 7 == 42 && 'concurrent-compile' != ''"
    results: list[CompiledExpression] = []
    barrier = threading.Barrier(8)

    def compile_once() -> None:
        barrier.wait()
        results.append(compile_expression(source))

    threads = [threading.Thread(target=compile_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8
    assert all(result is results[0] for result in results)


def test_a_changed_limit_is_not_bypassed_by_the_cache(settings):
    source = "[[[1]]] == [[[1]]]"
    compile_expression(source)
    settings.DAJIAN = {**settings.DAJIAN, "MAX_EXPRESSION_DEPTH": 2}

    assert compile_error(source).code == ExpressionErrorCode.TOO_DEEP


# --- identifiers and functions -------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a.b + c", {"a", "c"}),
        ("has(customer.phone) && chars(name) > 2", {"customer", "name"}),
        ("items.all(i, i.qty > 0) && size(tags) > limit", {"items", "tags", "limit"}),
        ("x > 0 && items.exists(x, x > 1)", {"x", "items"}),  # x is also read outside
        ("rows.all(r, r.lines.all(l, l.qty <= r.max))", {"rows"}),
        ("'a + b' == label // c is only in a comment", {"label"}),
        ("record.owner == user.id && now > record.created_at", {"record", "user", "now"}),
        ("1 + 2 == 3", set()),
    ],
)
def test_identifiers_are_the_top_level_names_read(source, expected):
    assert compile_expression(source).identifiers == frozenset(expected)


def test_functions_lists_named_calls_without_operators():
    compiled = compile_expression("chars(name) > 2 && name.startsWith('A') && -n < 0")

    assert compiled.functions == {"chars", "startsWith"}


def test_size_calls_are_reported_as_written():
    compiled = compile_expression("size(name) <= 20 && tags.size() > 0 && m.size > 1")

    assert compiled.functions == {"size"}
    assert compiled.identifiers == {"name", "tags", "m"}


# --- limits --------------------------------------------------------------------------


def test_an_expression_exactly_at_the_length_limit_compiles():
    source = "'" + "a" * (MAX_CHARS - 2) + "'"
    assert len(source) == MAX_CHARS

    assert compile_expression(source).evaluate({}) == "a" * (MAX_CHARS - 2)


def test_one_character_over_the_length_limit_is_refused():
    source = "'" + "a" * (MAX_CHARS - 1) + "'"

    error = compile_error(source)

    assert error.code == ExpressionErrorCode.TOO_LONG
    assert str(MAX_CHARS) in error.message


@pytest.mark.parametrize(("open_", "close"), [("(", ")"), ("[", "]")])
def test_nesting_exactly_at_the_depth_limit_compiles(open_, close):
    source = open_ * MAX_DEPTH + "1" + close * MAX_DEPTH

    compiled = compile_expression(source)

    assert compiled.evaluate({}) is not None


@pytest.mark.parametrize(("open_", "close"), [("(", ")"), ("[", "]"), ("{'k': ", "}")])
def test_nesting_one_past_the_depth_limit_is_refused_where_it_happens(open_, close):
    source = "x == " + open_ * (MAX_DEPTH + 1) + "1" + close * (MAX_DEPTH + 1)

    error = compile_error(source)

    assert error.code == ExpressionErrorCode.TOO_DEEP
    assert (error.line, error.column) == (1, 6 + MAX_DEPTH * len(open_))


def test_calls_count_as_nesting():
    at_limit = "chars(" * 1 + "string(" * (MAX_DEPTH - 1) + "1" + ")" * MAX_DEPTH
    past_limit = "chars(" + at_limit + ")"

    assert compile_expression(at_limit).evaluate({}) == 1
    assert compile_error(past_limit).code == ExpressionErrorCode.TOO_DEEP


def test_brackets_in_strings_and_comments_do_not_count_as_nesting():
    deep_text = "(" * (MAX_DEPTH + 5)
    source = f"label == '{deep_text}' || label == \"{deep_text}\" // {deep_text}\n|| false"

    compiled = compile_expression(source)

    assert compiled.evaluate({"label": deep_text}) is True


# --- syntax errors -------------------------------------------------------------------


def test_a_syntax_error_reports_line_column_and_what_was_expected():
    error = compile_error("amount > 10 &&\n  stage ==")

    assert error.code == ExpressionErrorCode.SYNTAX
    assert (error.line, error.column) == (2, 11)
    assert "\n" not in error.message
    assert error.message.startswith("unexpected end of expression; expected one of")
    assert "a name" in error.message


@pytest.mark.parametrize(
    ("source", "position", "words"),
    [
        ("[1, 2", (1, 6), "expected one of ']', ','"),
        ("f(1,,2)", (1, 5), "unexpected ','"),
        ("name == 'Müller", (1, 9), "unterminated string"),
        ("1 2", (1, 3), "unexpected '2'"),
        ("a ? b", (1, 6), "':'"),
    ],
)
def test_syntax_errors_are_one_clean_line(source, position, words):
    error = compile_error(source)

    assert error.code == ExpressionErrorCode.SYNTAX
    assert (error.line, error.column) == position
    assert words in error.message
    assert "<input>" not in error.message and "\n" not in error.message


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("size(a) + x.size() +", (1, 21)),
        ("size(a) > 0 &&\n  size(b) == size(", (2, 19)),
        ("size(a) + size(b) ) + 1", (1, 19)),
    ],
)
def test_syntax_errors_after_size_calls_point_into_the_original_text(source, position):
    error = compile_error(source)

    assert error.code == ExpressionErrorCode.SYNTAX
    assert (error.line, error.column) == position
    assert "_size" not in error.message


@pytest.mark.parametrize("source", ["", "   ", "\n\t"])
def test_empty_text_is_a_syntax_error(source):
    error = compile_error(source)

    assert error.code == ExpressionErrorCode.SYNTAX
    assert error.message == "the expression is empty"


def test_syntax_errors_are_not_cached():
    assert compile_error("1 +").code == ExpressionErrorCode.SYNTAX
    assert compile_error("1 +").code == ExpressionErrorCode.SYNTAX


# --- evaluation ----------------------------------------------------------------------


def test_only_the_variables_read_are_converted():
    compiled = compile_expression("n + 1")

    assert compiled.evaluate({"n": 1, "unrelated": object(), "d": date(2024, 1, 1)}) == 2


def test_timestamps_in_any_zone_are_evaluated_as_utc():
    shanghai = datetime(2024, 3, 1, 16, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    compiled = compile_expression("t.getHours() == 8 && t == timestamp('2024-03-01T08:30:00Z')")

    assert compiled.evaluate({"t": shanghai}) is True
    assert compiled.evaluate({"t": {"nested": shanghai}["nested"]}) is True


def test_values_come_back_as_python_types():
    compiled = compile_expression("[n / 2, x * 2.0, s, t + d, d, m, null]")
    t = datetime(2024, 3, 1, tzinfo=UTC)

    result = compiled.evaluate(
        {"n": 7, "x": 1.5, "s": "张三", "t": t, "d": timedelta(hours=2), "m": {"k": [True]}}
    )

    assert result == [
        3,
        3.0,
        "张三",
        t + timedelta(hours=2),
        timedelta(hours=2),
        {"k": [True]},
        None,
    ]
    assert type(result[0]) is int and type(result[1]) is float


@pytest.mark.parametrize(
    ("source", "activation", "words"),
    [
        ("missing > 1", {}, "undefined variable or function 'missing'"),
        ("customer.phone == ''", {"customer": {"name": "x"}}, "no such key: phone"),
        ("n / 0", {"n": 1}, "division by zero"),
        ("n % 0", {"n": 1}, "modulo by zero"),
        ("n + x", {"n": 1, "x": 2.5}, "overload"),
        ("s + n", {"s": "a", "n": 1}, "string + int"),
        ("tags[3]", {"tags": ["a"]}, "index out of bounds"),
        ("n + 1", {"n": 2**63 - 1}, "overflow"),
        ("int(s)", {"s": "12x"}, "int()"),
        ("distance_m(a, b)", {"a": {"lat": 1.0}, "b": {"lat": 1.0, "lng": 1.0}}, "lng"),
        ("chars(n)", {"n": 3}, "chars() needs a string"),
        ("days_since(s)", {"s": "2024-01-01"}, "days_since() needs a timestamp"),
        ("t > now", {"t": datetime(2024, 1, 1), "now": datetime.now(UTC)}, "time zone"),
        ("v == 1", {"v": {1, 2}}, "set"),
        ("v == 1", {"v": date(2024, 1, 1)}, "date"),
        ("name.matches('[')", {"name": "x"}, "regex"),
        ("unknown_fn(1)", {}, "unknown_fn"),
    ],
)
def test_runtime_failures_raise_evaluation_errors_only(source, activation, words):
    error = evaluation_error(source, activation)

    assert words in error.message
    assert "\n" not in error.message


# --- thread safety -------------------------------------------------------------------


def test_one_compiled_expression_evaluates_correctly_from_many_threads():
    compiled = compile_expression(
        "(n % 3 == 0 ? chars(name) : n * 2) + size(tags) + (t > start ? 1000 : 0)"
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    threads_count, repetitions = 8, 400
    barrier = threading.Barrier(threads_count)
    violations: list[tuple[int, int, object]] = []
    evaluations = [0]
    lock = threading.Lock()

    def expected(n: int, name: str, tags: list[str], t: datetime) -> int:
        head = len(name) if n % 3 == 0 else n * 2
        return head + len(tags) + (1000 if t > start else 0)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(repetitions):
            n = worker * repetitions + i
            activation = {
                "n": n,
                "name": f"w{worker}-{i}",
                "tags": ["x"] * (i % 5),
                "t": start + timedelta(seconds=(i % 3) - 1),
                "start": start,
            }
            try:
                result: object = compiled.evaluate(activation)
            except ExpressionError as exc:
                result = exc
            with lock:
                evaluations[0] += 1
                if result != expected(n, activation["name"], activation["tags"], activation["t"]):
                    violations.append((worker, i, result))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert evaluations[0] == threads_count * repetitions
    assert violations == []
