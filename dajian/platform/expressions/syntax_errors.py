"""Turn the CEL library's parse failures into one clean line plus a position.

The library raises ``ValueError("Failed to parse expression '<source>': ERROR:
<input>:LINE:COL: Syntax error: ...")`` followed by a snippet and a caret line, and may
list several errors. Designers need the first real one, in words: what was found and
what was expected, with the grammar's token names translated (``NUM_INT`` → number).
"""

from __future__ import annotations

import re

_ENTRY = re.compile(r"^ERROR: <input>:(\d+):(\d+): (.+)$", re.MULTILINE)
_EXPECTING = re.compile(
    r"^(?:mismatched|extraneous) input '(?P<found>.*)' expecting (?P<expected>.+)$"
)
_MISSING = re.compile(r"^missing '(?P<what>.*)' at '(?P<found>.*)'$")
_TOKEN = re.compile(r"^token recognition error at: '(?P<text>.*)'$")
_NO_ALTERNATIVE = re.compile(r"^no viable alternative at input '(?P<text>.*)'$")
_EXPECTED_TOKEN = re.compile(r"'[^']*'|[^\s,{}]+")  # "{']', ','}" holds a quoted comma
_TOKEN_NAMES = {
    "NUM_FLOAT": "a number",
    "NUM_INT": "a number",
    "NUM_UINT": "a number",
    "STRING": "a string",
    "BYTES": "bytes",
    "IDENTIFIER": "a name",
    "<EOF>": "the end of the expression",
    "'<EOF>'": "the end of the expression",
}


def parse_syntax_error(source: str, library_message: str) -> tuple[str, int | None, int | None]:
    """``(message, line, column)`` for a compile failure; positions are 1-based characters."""
    prefix = f"Failed to parse expression '{source}': "
    # Drop the echoed source first: it may itself contain text that looks like an error.
    body = library_message.removeprefix(prefix)
    entries = [(int(m[1]), int(m[2]), m[3].strip()) for m in _ENTRY.finditer(body)]
    if not entries:
        first_line = body.strip().splitlines()[0] if body.strip() else "invalid expression"
        return first_line.removeprefix("ERROR: "), None, None
    # Prefer the grammar's own errors over the library's internal follow-ups
    # ("Incomplete `ExprContext` for `_?_:_` expression!").
    chosen = next((e for e in entries if e[2].startswith("Syntax error:")), entries[0])
    line, column, text = chosen
    return _describe(text.removeprefix("Syntax error:").strip()), line, column


def _describe(detail: str) -> str:
    if match := _EXPECTING.match(detail):
        return f"unexpected {_found(match['found'])}; expected {_expected(match['expected'])}"
    if match := _MISSING.match(detail):
        return f"missing '{match['what']}' before {_found(match['found'])}"
    if match := _TOKEN.match(detail):
        text = match["text"]
        if text[:1] in "'\"":
            return f"unterminated string: {text}"
        return f"unrecognised text: {text}"
    if match := _NO_ALTERNATIVE.match(detail):
        return f"unexpected '{match['text']}'"
    return detail.splitlines()[0]


def _found(token: str) -> str:
    return "end of expression" if token == "<EOF>" else f"'{token}'"


def _expected(spec: str) -> str:
    names = _EXPECTED_TOKEN.findall(spec)
    readable: list[str] = []
    for name in names:
        word = _TOKEN_NAMES.get(name, name)
        if word not in readable:
            readable.append(word)
    if len(readable) == 1:
        return readable[0]
    return "one of " + ", ".join(readable)
