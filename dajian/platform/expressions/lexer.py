"""A small CEL tokenizer for the checks the CEL library does not offer.

The library compiles and evaluates; it does not expose its syntax tree. What the service
needs beyond that is structural and lexical: how deeply brackets nest, which names are
bound by comprehension macros (``items.all(i, ...)``), and which ``size`` names are calls
(the service renames those, see :func:`rename_calls`). Tokens are enough for all three,
provided string literals (and comments) are skipped, so ``'((('`` never counts as nesting
and ``'size(x)'`` is never renamed. The tokenizer never rejects input: malformed text
becomes tokens anyway and the library's parser reports the syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")": "(", "]": "[", "}": "{"}
# Macros whose first argument names a variable bound inside the call (CEL spec).
BINDING_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_STRING_PREFIXES = frozenset({"r", "R", "b", "B", "br", "bR", "Br", "BR", "rb", "rB", "Rb", "RB"})
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_PART = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_NUMBER_PART = _IDENT_PART | frozenset(".")


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token. ``kind`` is ``name``, ``string``, ``number`` or ``punct``."""

    kind: str
    text: str
    start: int  # offset in the source, in characters
    end: int
    line: int  # 1-based, like the library's messages
    column: int


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, skipping whitespace and ``//`` comments."""
    tokens: list[Token] = []
    i, line, line_start, n = 0, 1, 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\n":
            i, line, line_start = i + 1, line + 1, i + 1
            continue
        if ch in " \t\r\f\v":
            i += 1
            continue
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            continue
        start, column = i, i - line_start + 1
        if ch in _IDENT_START:
            while i < n and source[i] in _IDENT_PART:
                i += 1
            word = source[start:i]
            if i < n and source[i] in "'\"" and word in _STRING_PREFIXES:
                i = _string_end(source, i, raw="r" in word.lower())
                kind = "string"
            else:
                kind = "punct" if word == "in" else "name"  # `in` is an operator
        elif ch in "'\"":
            i = _string_end(source, i, raw=False)
            kind = "string"
        elif ch in _DIGITS or (ch == "." and i + 1 < n and source[i + 1] in _DIGITS):
            i = _number_end(source, i)
            kind = "number"
        else:
            i += 1
            kind = "punct"
        tokens.append(Token(kind, source[start:i], start, i, line, column))
        newlines = source.count("\n", start, i)  # triple-quoted strings span lines
        if newlines:
            line += newlines
            line_start = source.rfind("\n", start, i) + 1
    return tokens


def _string_end(source: str, i: int, *, raw: bool) -> int:
    """Index just past the string literal whose opening quote is at ``i``."""
    quote = source[i] * 3 if source.startswith(source[i] * 3, i) else source[i]
    i += len(quote)
    n = len(source)
    while i < n:
        if source.startswith(quote, i):
            return i + len(quote)
        if source[i] == "\\" and not raw:
            i += 2
            continue
        if source[i] == "\n" and len(quote) == 1:
            return i  # unterminated: the parser will say so
        i += 1
    return n


def _number_end(source: str, i: int) -> int:
    n = len(source)
    hexadecimal = source.startswith(("0x", "0X"), i)
    while i < n:
        ch = source[i]
        if ch in "eE" and not hexadecimal and i + 1 < n and source[i + 1] in "+-":
            i += 2  # an exponent's sign belongs to the number (1e-5), not to an operator
        elif ch in _NUMBER_PART:
            i += 1
        else:
            break
    return i


def matching_brackets(tokens: list[Token]) -> dict[int, int]:
    """Index of each bracket token → index of its partner, for balanced pairs only."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind != "punct":
            continue
        if token.text in OPENERS:
            stack.append(index)
        elif token.text in CLOSERS:
            if stack and tokens[stack[-1]].text == CLOSERS[token.text]:
                opener = stack.pop()
                pairs[opener] = index
                pairs[index] = opener
            else:
                stack.clear()  # unbalanced: the parser reports it; stop pairing what follows
    return pairs


def first_too_deep(tokens: list[Token], limit: int) -> Token | None:
    """The first opening bracket that nests deeper than ``limit``, if any.

    Calls nest through their parentheses, so ``f(g(x))`` has depth 2.
    """
    depth = 0
    for token in tokens:
        if token.kind != "punct":
            continue
        if token.text in OPENERS:
            depth += 1
            if depth > limit:
                return token
        elif token.text in CLOSERS:
            depth = max(depth - 1, 0)
    return None


@dataclass(frozen=True, slots=True)
class Binder:
    """A comprehension variable: ``name`` is bound from token ``open`` to ``close``
    (the macro call's parentheses, token indices)."""

    name: str
    open: int
    close: int


def binders(tokens: list[Token], pairs: dict[int, int]) -> list[Binder]:
    """Every ``receiver.macro(var, ...)`` in the expression, outermost first."""
    found: list[Binder] = []
    for i, token in enumerate(tokens):
        if (
            token.kind == "name"
            and token.text in BINDING_MACROS
            and i > 0
            and tokens[i - 1].text == "."
            and i + 3 < len(tokens)
            and tokens[i + 1].text == "("
            and tokens[i + 2].kind == "name"
            and tokens[i + 3].text == ","
            and i + 1 in pairs
        ):
            found.append(Binder(tokens[i + 2].text, i + 1, pairs[i + 1]))
    return found


def is_variable_use(tokens: list[Token], index: int) -> bool:
    """True for a name token read as a variable: not a field (``a.b``), not a call name."""
    if tokens[index].kind != "name":
        return False
    if index > 0 and tokens[index - 1].text == ".":
        return False
    return not (index + 1 < len(tokens) and tokens[index + 1].text == "(")


def comprehension_only_names(tokens: list[Token], pairs: dict[int, int]) -> frozenset[str]:
    """Names that are only ever comprehension variables, never read from the activation."""
    scopes = binders(tokens, pairs)
    bound = {b.name for b in scopes}
    free: set[str] = set()
    for index, token in enumerate(tokens):
        if token.text in bound and is_variable_use(tokens, index):
            inside = any(b.name == token.text and b.open < index < b.close for b in scopes)
            if not inside:
                free.add(token.text)
    return frozenset(bound - free)


def rename_calls(source: str, tokens: list[Token], name: str, new_name: str) -> str:
    """``source`` with every call of ``name`` renamed to ``new_name``.

    A call is the name token immediately followed by ``(``: ``size(x)`` and ``x.size()``
    (whitespace and comments may sit between). Fields (``m.size``), map keys and text
    inside string literals or comments are left alone.
    """
    parts: list[str] = []
    copied = 0
    for index, token in enumerate(tokens[:-1]):
        if token.kind == "name" and token.text == name and tokens[index + 1].text == "(":
            parts.append(source[copied : token.start])
            parts.append(new_name)
            copied = token.end
    if not parts:
        return source
    parts.append(source[copied:])
    return "".join(parts)
