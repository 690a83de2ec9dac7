"""A small evaluator for the terraform expressions this stack uses.

python-hcl2 returns literals with their quotes ("\"x\"") and expressions as
"${...}". We evaluate variables, locals, string interpolation, conditionals,
comparisons, list literals, `{}`, the pure string functions in FUNCTIONS and
references to resource attributes (`resolve` gives them meaning, including
`each.key`/`each.value` and a dynamic block's iterator); anything else (function
calls such as filebase64sha256) becomes an Unknown that says what it was.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Unknown:
    expr: str

    def __str__(self) -> str:
        return f"<unknown: {self.expr}>"


_INDEX = r"""(?:\[\d+\]|\["[^"]*"\])*"""
_TOKEN = re.compile(r"""\s*(?:
    (?P<num>-?\d+(?:\.\d+)?) |
    (?P<str>"(?:[^"\\]|\\.)*") |
    (?P<op>==|!=|\?|:|\(|\)|!|\[|\]|\{|\}|,|=) |
    (?P<ref>[A-Za-z_][A-Za-z0-9_\-]*""" + _INDEX + r"""(?:\.[A-Za-z_][A-Za-z0-9_\-]*""" + _INDEX + r""")*)
)""", re.VERBOSE)


def _replace(text: object, old: object, new: object) -> object:
    if not all(isinstance(v, str) for v in (text, old, new)) or (len(old) > 1 and old[0] == old[-1] == "/"):
        return Unknown(f"replace({text!r}, {old!r}, {new!r})")   # terraform's /regex/ form is not evaluated
    return text.replace(old, new)


# Pure functions evaluated offline; any other call stays an Unknown.
FUNCTIONS: dict[str, Callable[..., object]] = {
    "replace": _replace,
    "lower": lambda s: s.lower() if isinstance(s, str) else Unknown(f"lower({s!r})"),
    "upper": lambda s: s.upper() if isinstance(s, str) else Unknown(f"upper({s!r})"),
}


class _Parser:
    def __init__(self, text: str, resolve: Callable[[str], object], interp: Callable[[str], object]):
        self.tokens = self._lex(text)
        self.pos = 0
        self.resolve = resolve
        self.interp = interp
        self.text = text

    @staticmethod
    def _lex(text: str) -> list[tuple[str, str]]:
        out, pos = [], 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot parse terraform expression {text!r} at {text[pos:]!r}")
            kind = m.lastgroup
            out.append((kind, m.group(kind)))
            pos = m.end()
        return out

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> object:
        value = self.ternary()
        if self.peek() is not None:
            raise ValueError(f"unsupported terraform expression {self.text!r}")
        return value

    def expect(self, op: str) -> None:
        if self.peek() != ("op", op):
            raise ValueError(f"expected {op!r} in terraform expression {self.text!r}")
        self.take()

    def sequence(self, close: str) -> list:
        """Comma-separated expressions up to `close` (a trailing comma is allowed)."""
        items = []
        while self.peek() != ("op", close):
            items.append(self.ternary())
            if self.peek() == ("op", ","):
                self.take()
            elif self.peek() != ("op", close):
                raise ValueError(f"expected ',' or {close!r} in terraform expression {self.text!r}")
        self.take()
        return items

    def mapping(self) -> dict:
        out: dict = {}
        while self.peek() != ("op", "}"):
            kind, key = self.take()
            if kind not in ("ref", "str"):
                raise ValueError(f"bad object key {key!r} in terraform expression {self.text!r}")
            self.expect("=")
            out[key[1:-1] if kind == "str" else key] = self.ternary()
            if self.peek() == ("op", ","):
                self.take()
        self.take()
        return out

    def call(self, name: str) -> object:
        self.take()   # (
        func = FUNCTIONS.get(name)
        if func is None:   # not evaluated: skip its arguments
            depth = 1
            while self.pos < len(self.tokens) and depth:
                t = self.take()
                depth += (t == ("op", "(")) - (t == ("op", ")"))
            return Unknown(f"{name}(...)")
        args = self.sequence(")")
        if any(isinstance(a, Unknown) for a in args):
            return Unknown(f"{name}(...)")
        return func(*args)

    def ternary(self, every: bool = False) -> object:
        """cond ? a : b; with `every`, the list of all values it can take (both sides of each ?:)."""
        cond = self.comparison()
        if self.peek() != ("op", "?"):
            return [cond] if every else cond
        self.take()
        a = self.ternary(every)
        self.expect(":")
        b = self.ternary(every)
        if every:
            return a + b
        return Unknown(self.text) if isinstance(cond, Unknown) else (a if cond else b)

    def comparison(self) -> object:
        left = self.unary()
        tok = self.peek()
        if tok in (("op", "=="), ("op", "!=")):
            self.take()
            right = self.unary()
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                return Unknown(self.text)
            return (left == right) if tok[1] == "==" else (left != right)
        return left

    def unary(self) -> object:
        tok = self.take()
        kind, text = tok
        if tok == ("op", "!"):
            value = self.unary()
            return Unknown(self.text) if isinstance(value, Unknown) else (not value)
        if tok == ("op", "("):
            value = self.ternary()
            self.take()
            return value
        if kind == "num":
            return float(text) if "." in text else int(text)
        if tok == ("op", "["):
            return self.sequence("]")
        if tok == ("op", "{"):
            return self.mapping()
        if kind == "str":
            return self.interp(text[1:-1])
        if kind == "ref":
            if self.peek() == ("op", "("):
                return self.call(text)
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            return self.resolve(text)
        raise ValueError(f"unsupported token {text!r} in {self.text!r}")


def evaluate(value: object, resolve: Callable[[str], object]) -> object:
    """Evaluate an hcl2 value (literal, "${expr}", list, dict) with `resolve` for references."""
    if isinstance(value, list):
        return [evaluate(v, resolve) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): evaluate(v, resolve) for k, v in value.items() if not k.startswith("__")}
    if not isinstance(value, str):
        return value
    if value.startswith("${") and value.endswith("}") and _balanced(value[2:-1]):
        return _expr(value[2:-1], resolve)
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return _interpolate(value[1:-1], resolve)
    return _expr(value, resolve)


def possible_values(value: object, resolve: Callable[[str], object]) -> list:
    """Every value `value` can take across its conditionals (one value when it has none)."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}") and _balanced(value[2:-1]):
        parser = _Parser(value[2:-1], resolve, lambda s: _interpolate(s, resolve))
        found = parser.ternary(every=True)
        if parser.peek() is not None:
            raise ValueError(f"unsupported terraform expression {value!r}")
        return found
    return [evaluate(value, resolve)]


def _balanced(inner: str) -> bool:
    depth = 0
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _expr(text: str, resolve: Callable[[str], object]) -> object:
    return _Parser(text, resolve, lambda s: _interpolate(s, resolve)).parse()


def _interpolate(text: str, resolve: Callable[[str], object]) -> object:
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        depth, end = 0, start
        for end in range(start + 1, len(text)):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
        value = _expr(text[start + 2:end], resolve)
        if isinstance(value, Unknown):
            return Unknown(text)
        parts.append(str(value).lower() if isinstance(value, bool) else str(value))
        pos = end + 1
    return "".join(parts).replace('\\"', '"')


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key
