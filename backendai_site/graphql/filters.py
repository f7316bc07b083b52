"""The reference's filter expressions (`--filter` of `ps`, `admin user list`, ...) parsed into ORM
lookups over a whitelist of fields. Never evaluated: a tokenizer and a recursive-descent parser
build `Q` objects; anything outside the grammar is a GraphQL error naming the problem.

    expr    := term ('|' term)*
    term    := factor ('&' factor)*
    factor  := '!' factor | '(' expr ')' | FIELD OP value
    OP      := == != > >= < <= contains in like ilike is isnot
    value   := "string" | 'string' | number | true | false | null | '[' value (',' value)* ']'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from graphql import GraphQLError

M = TypeVar("M", bound=Model)
MAX_FILTER_LENGTH = 2000

TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|>|<|&|\||!|\(|\)|\[|\]|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
WORD_OPS = frozenset({"contains", "in", "like", "ilike", "is", "isnot"})
COMPARISONS = {"==": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise GraphQLError(f"invalid filter: unexpected character at {pos}: {text[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


def _like_regex(pattern: str) -> str:
    """SQL LIKE (`%` any run, `_` one character) as an anchored, escaped regular expression."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return "^" + "".join(parts) + "$"


class FilterParser:
    def __init__(self, text: str, fields: Mapping[str, str]) -> None:
        self.tokens = tokenize(text)
        self.fields = fields
        self.index = 0

    def parse(self) -> Q:
        if not self.tokens:
            raise GraphQLError("invalid filter: empty expression")
        q = self.expr()
        if self.index != len(self.tokens):
            token = self.tokens[self.index]
            raise GraphQLError(f"invalid filter: unexpected {token.text!r} at {token.pos}")
        return q

    def _peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self, what: str) -> Token:
        token = self._peek()
        if token is None:
            raise GraphQLError(f"invalid filter: expected {what} at the end")
        self.index += 1
        return token

    def _accept(self, text: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "op" and token.text == text:
            self.index += 1
            return True
        return False

    def expr(self) -> Q:
        q = self.term()
        while self._accept("|"):
            q = q | self.term()
        return q

    def term(self) -> Q:
        q = self.factor()
        while self._accept("&"):
            q = q & self.factor()
        return q

    def factor(self) -> Q:
        if self._accept("!"):
            return ~self.factor()
        if self._accept("("):
            q = self.expr()
            if not self._accept(")"):
                raise GraphQLError("invalid filter: missing ')'")
            return q
        return self.comparison()

    def comparison(self) -> Q:
        field = self._next("a field name")
        if field.kind != "word" or field.text in WORD_OPS:
            raise GraphQLError(f"invalid filter: expected a field name at {field.pos}")
        path = self.fields.get(field.text)
        if path is None:
            choices = ", ".join(sorted(self.fields))
            raise GraphQLError(f"cannot filter by {field.text!r}; use one of {choices}")
        op = self._next("an operator")
        if not (op.kind == "op" and op.text in {*COMPARISONS, "!="}) and not (
            op.kind == "word" and op.text in WORD_OPS
        ):
            raise GraphQLError(f"invalid filter: unknown operator {op.text!r} at {op.pos}")
        value = self.value()
        return self._lookup(path, op.text, value)

    def value(self) -> Any:
        token = self._next("a value")
        if token.kind == "string":
            return bytes(token.text[1:-1], "utf-8").decode("unicode_escape")
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "word" and token.text in {"true", "false", "null"}:
            return {"true": True, "false": False, "null": None}[token.text]
        if token.kind == "op" and token.text == "[":
            items: list[Any] = []
            if self._accept("]"):
                return items
            while True:
                items.append(self.value())
                if self._accept("]"):
                    return items
                if not self._accept(","):
                    raise GraphQLError("invalid filter: expected ',' or ']' in a list")
        raise GraphQLError(f"invalid filter: expected a value at {token.pos}, got {token.text!r}")

    @staticmethod
    def _lookup(path: str, op: str, value: Any) -> Q:
        if op in ("in",):
            if not isinstance(value, list):
                raise GraphQLError("invalid filter: 'in' needs a list value")
            return Q(**{f"{path}__in": value})
        if isinstance(value, list):
            raise GraphQLError(f"invalid filter: {op!r} does not take a list")
        if op in ("is", "isnot"):
            if value is not None:
                raise GraphQLError(f"invalid filter: {op!r} compares with null only")
            return Q(**{f"{path}__isnull": op == "is"})
        if value is None:
            if op in ("==", "!="):
                q = Q(**{f"{path}__isnull": True})
                return q if op == "==" else ~q
            raise GraphQLError(f"invalid filter: {op!r} cannot compare with null")
        if op == "!=":
            return ~Q(**{path: value})
        if op == "contains":
            return Q(**{f"{path}__contains": value})
        if op in ("like", "ilike"):
            if not isinstance(value, str):
                raise GraphQLError(f"invalid filter: {op!r} needs a string pattern")
            lookup = "regex" if op == "like" else "iregex"
            return Q(**{f"{path}__{lookup}": _like_regex(value)})
        return Q(**{f"{path}__{COMPARISONS[op]}": value})


def apply_filter[M: Model](
    qs: QuerySet[M], text: str | None, fields: Mapping[str, str]
) -> QuerySet[M]:
    """`qs` narrowed by a filter expression over `fields` (name in the API -> ORM path)."""
    if not text:
        return qs
    if len(text) > MAX_FILTER_LENGTH:
        raise GraphQLError(f"invalid filter: longer than {MAX_FILTER_LENGTH} characters")
    return qs.filter(FilterParser(text, fields).parse())
