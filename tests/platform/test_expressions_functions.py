"""Dajian's custom CEL functions and ``size()``, which counts characters."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from dajian.platform.expressions import (
    ExpressionError,
    ExpressionErrorCode,
    compile_expression,
)
from dajian.platform.expressions.lexer import rename_calls, tokenize

SHANGHAI = {"lat": 31.2304, "lng": 121.4737}
BEIJING = {"lat": 39.9042, "lng": 116.4074, "accuracy": 15.0}


def evaluate(source: str, **activation: object) -> object:
    return compile_expression(source).evaluate(activation)


def evaluation_message(source: str, **activation: object) -> str:
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, **activation)
    assert caught.value.code == ExpressionErrorCode.EVALUATION
    return caught.value.message


# --- chars, normalize ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"), [("", 0), ("abc", 3), ("Müller", 6), ("张三丰", 3), ("👍🏽", 2)]
)
def test_chars_counts_code_points(text, count):
    assert evaluate("chars(s)", s=text) == count
    assert evaluate("s.chars()", s=text) == count


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        # full-width ABC and an ideographic space
        ("  \uff21\uff22\uff23\u3000Def  ", "abc def"),
        ("Shanghai\t\n Trading  Co.", "shanghai trading co."),
        ("\uff11\uff12\uff13\uff0d\uff14\uff15\uff16", "123-456"),  # full-width digits
        ("\u00a0Müller\u2003GmbH\ufeff", "müller gmbh"),
        ("", ""),
    ],
)
def test_normalize_folds_width_case_and_whitespace(text, normalized):
    assert evaluate("normalize(s)", s=text) == normalized


def test_normalize_refuses_non_text():
    assert "normalize() needs a string" in evaluation_message("normalize(n)", n=1)


# --- days_since, hours_since, today --------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "days"),
    [
        (timedelta(0), 0),
        (timedelta(hours=23, minutes=59), 0),
        (timedelta(hours=47), 1),
        (timedelta(hours=49), 2),
        (timedelta(days=-1, hours=-23), -1),  # 47 hours ahead: truncated toward zero
        (timedelta(days=400), 400),
    ],
)
def test_days_since_counts_whole_days_toward_zero(offset, days):
    assert evaluate("days_since(t)", t=timezone.now() - offset) == days


def test_hours_since_is_a_double():
    result = evaluate("hours_since(t)", t=timezone.now() - timedelta(minutes=90))

    assert isinstance(result, float)
    assert 1.49 < result < 1.51


def test_time_functions_accept_timestamps_in_any_zone():
    t = (timezone.now() - timedelta(hours=50)).astimezone(ZoneInfo("America/New_York"))

    assert evaluate("days_since(t)", t=t) == 2


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_today_is_local_midnight_in_utc(zone):
    tz = ZoneInfo(zone)
    with timezone.override(tz):
        result = evaluate("today()")
        local_now = timezone.localtime(timezone.now(), tz)

    assert result.utcoffset() == timedelta(0)
    local = result.astimezone(tz)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert local.date() == local_now.date()


def test_today_compares_with_timestamps():
    assert evaluate("t >= today()", t=timezone.now()) is True
    assert evaluate("t < today()", t=timezone.now() - timedelta(days=1, hours=1)) is True


# --- distance_m ----------------------------------------------------------------------


def test_distance_between_shanghai_and_beijing():
    result = evaluate("distance_m(a, b)", a=SHANGHAI, b=BEIJING)

    assert isinstance(result, float)
    assert math.isclose(result, 1_067_311.645, rel_tol=1e-6)
    assert evaluate("distance_m(b, a)", a=SHANGHAI, b=BEIJING) == pytest.approx(result)


def test_distance_to_the_same_place_is_zero_and_accepts_int_degrees():
    assert evaluate("distance_m(a, a)", a=SHANGHAI) == 0.0
    one_degree = evaluate("distance_m({'lat': 0, 'lng': 0}, {'lat': 0, 'lng': 1})")
    assert math.isclose(one_degree, 6_371_008.8 * math.pi / 180, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("b", "words"),
    [
        ({"lat": 1.0}, "no numeric lng"),
        ({"lng": 1.0}, "no numeric lat"),
        ({"lat": "31", "lng": 121.0}, "no numeric lat"),
        ({"lat": True, "lng": 121.0}, "no numeric lat"),
        ({"lat": 90.5, "lng": 0.0}, "outside [-90, 90]"),
        ({"lat": 0.0, "lng": -180.5}, "outside [-180, 180]"),
        ({"lat": math.nan, "lng": 0.0}, "outside"),
        ("here", "must be a map"),
    ],
)
def test_distance_refuses_bad_locations(b, words):
    assert words in evaluation_message("distance_m(a, b)", a=SHANGHAI, b=b)


# --- sum ----------------------------------------------------------------------------


def test_sum_of_ints_is_an_int_and_of_doubles_a_double():
    assert evaluate("sum([1, 2, 3])") == 6
    assert isinstance(evaluate("sum([1, 2, 3])"), int)
    assert evaluate("sum([1.5, 2.25])") == 3.75
    assert evaluate("sum(xs)", xs=[]) == 0


def test_sum_of_subtable_amounts():
    lines = [{"qty": 2, "price": 9.5}, {"qty": 3, "price": 20.0}]

    assert evaluate("sum(lines.map(l, double(l.qty) * l.price))", lines=lines) == 79.0
    assert evaluate("lines.map(l, l.qty).sum()", lines=lines) == 5


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ("here", "needs a list"),
        ([1, True], "element 1 is bool"),
        ([1.0, None], "element 1 is null"),
        ([1, "2"], "element 1 is string"),
    ],
)
def test_sum_refuses_anything_but_numbers(values, words):
    assert words in evaluation_message("sum(xs)", xs=values)


# --- size() --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "activation", "expected"),
    [
        ("size(s)", {"s": "SO-001"}, 6),
        ("s.size()", {"s": "SO-001"}, 6),
        ("size(tags)", {"tags": ["张三", "李四"]}, 2),
        ("tags.size()", {"tags": ["张三"]}, 1),
        ("size(m)", {"m": {"名字": "张三", "city": "上海"}}, 2),
        ("c.tags.size() + size(c.tags[0])", {"c": {"tags": ["ab", "张三"]}}, 4),
        ("names.all(n, size(n) < 10)", {"names": ["ab", "cd"]}, True),
        ("has(c.name) && size(c.name) > 0", {"c": {"city": "上海"}}, False),
        ("rows.all(r, r.all(x, size(x) == 1))", {"rows": [["a", "b"], ["c"]]}, True),
    ],
)
def test_size_of_lists_maps_and_ascii_text_is_normal(source, activation, expected):
    assert compile_expression(source).evaluate(activation) == expected


@pytest.mark.parametrize(
    ("source", "activation", "expected"),
    [
        ("size(s)", {"s": "Müller"}, 6),
        ("size(s) <= 20", {"s": "张三" * 10}, True),
        ("size(s) <= 20", {"s": "张三" * 10 + "丰"}, False),
        ("s.size()", {"s": "张三丰"}, 3),
        ("size('Müller') == 6", {}, True),
        ("c.name.size() > 1", {"c": {"name": "张三"}}, True),
        ("names.all(n, size(n) < 3)", {"names": ["ab", "张三"]}, True),
        ("rows.exists(r, r.all(x, x.size() == 1))", {"rows": [["a"], ["b", "é"]]}, True),
        ("m.all(k, size(k) == 2)", {"m": {"名字": 1}}, True),
        ("size(a + b)", {"a": "ab", "b": "ü"}, 3),
        ("size (s) + s.size ()", {"s": "é"}, 2),
        ("size(b)", {"b": "é".encode()}, 2),  # bytes count bytes
        ("size('\U0001f600')", {}, 1),  # code points, not UTF-16 units
    ],
)
def test_size_of_text_counts_characters(source, activation, expected):
    assert compile_expression(source).evaluate(activation) == expected


def test_size_inside_a_string_literal_is_not_renamed():
    compiled = compile_expression("'size(x)' + \"x.size()\" + r'size(' // size(x)")

    assert compiled.evaluate({}) == "size(x)x.size()size("
    assert compiled.functions == frozenset()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("m.size", 4),
        ("m['size']", 4),
        ("has(m.size)", True),
        ("m.size + size(m)", 5),
        ("{'size': m.size}.size", 4),
    ],
)
def test_a_field_named_size_is_read_not_called(source, expected):
    assert compile_expression(source).evaluate({"m": {"size": 4}}) == expected


@pytest.mark.parametrize(
    ("source", "activation", "words"),
    [
        ("size(n)", {"n": 3}, "size() takes text, a list, a map or bytes, got int"),
        ("n.size() > 0", {"n": 2.5}, "got double"),
        ("size(x)", {"x": None}, "got null"),
        ("size(a, b)", {"a": "x", "b": "y"}, "size() takes one argument"),
    ],
)
def test_size_of_anything_else_is_an_evaluation_error(source, activation, words):
    message = evaluation_message(source, **activation)

    assert words in message
    assert "_size" not in message


def test_the_rewritten_program_still_evaluates_quickly():
    compiled = compile_expression("names.all(n, size(n) <= 3) && size(names) == 20000")
    names = ["张三丰", "李四"] * 10_000

    assert compiled.evaluate({"names": names}) is True
    assert compiled.evaluate({"names": [*names[:-1], "欧阳娜娜"]}) is False


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("size(x)", "_size(x)"),
        ("x.size() + size (y)", "x._size() + _size (y)"),
        ("m.size + 'size(' + sizes(x)", "m.size + 'size(' + sizes(x)"),
        ("size // size(\n(x)", "_size // size(\n(x)"),
    ],
)
def test_rename_calls_touches_only_call_names(source, expected):
    assert rename_calls(source, tokenize(source), "size", "_size") == expected


def test_tokenize_reports_positions_after_multiline_strings():
    tokens = tokenize("'''a\nb''' +\n  x")

    assert [(t.text, t.line, t.column) for t in tokens][-2:] == [("+", 2, 6), ("x", 3, 3)]


def test_time_values_from_other_zones_keep_their_instant():
    t = datetime(2024, 3, 1, 8, tzinfo=UTC)

    assert evaluate("t == u", t=t, u=t.astimezone(ZoneInfo("Asia/Shanghai"))) is True
