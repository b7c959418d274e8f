"""The lexer and parser of the Go ``text/template`` subset (see ``_gotemplate``): text,
actions and their tokens, and the tree the executor walks. Errors follow Go's wording."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BUILTIN_NAMES",
    "CommandNode",
    "ControlNode",
    "Function",
    "InvokeNode",
    "LoopNode",
    "OperandNode",
    "PipeNode",
    "TemplateError",
    "location",
    "parse_tree",
]

# A template function: called with the evaluated arguments (the piped value last).
Function = Callable[..., Any]


class TemplateError(Exception):
    """A template that cannot be parsed or executed; the message follows Go's."""


# -- lexer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # field var string number ident dot ( ) | := = , bool nil
    text: str
    pos: int
    space_before: bool


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<rawstring>`[^`]*`)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<dot>\.)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<punct>[()|,])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Action:
    tokens: list[_Tok]
    pos: int


def _lex(text: str, name: str) -> list[str | _Action]:
    items: list[str | _Action] = []
    pos = 0
    trim_next = False
    while True:
        start = text.find("{{", pos)
        chunk = text[pos:] if start < 0 else text[pos:start]
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if start < 0:
            if chunk:
                items.append(chunk)
            return items
        body = start + 2
        if (
            text.startswith("- ", body)
            or text.startswith("-\t", body)
            or text.startswith("-\n", body)
        ):
            chunk = chunk.rstrip(" \t\r\n")
            body += 1
        if chunk:
            items.append(chunk)
        tokens, pos, trim_next = _lex_action(text, body, name)
        if tokens is not None:
            items.append(_Action(tokens, start))


def _error_at(text: str, pos: int, name: str, message: str) -> TemplateError:
    """A parse error: Go names the line only."""
    line = text.count("\n", 0, pos) + 1
    return TemplateError(f"template: {name}:{line}: {message}")


def location(text: str, pos: int, name: str) -> str:
    """Where an execution error happened: ``template: name:line:col``."""
    line = text.count("\n", 0, pos) + 1
    last = text.rfind("\n", 0, pos)
    col = pos if last < 0 else pos - last - 1
    return f"template: {name}:{line}:{col}"


def _lex_action(  # noqa: PLR0912 - one branch per token kind
    text: str, pos: int, name: str
) -> tuple[list[_Tok] | None, int, bool]:
    """Return the action's tokens (None for a comment), the position after it, and
    whether it trims the text after it."""
    stripped = pos
    while stripped < len(text) and text[stripped] in " \t\r\n":
        stripped += 1
    if text.startswith("/*", stripped):
        close = text.find("*/", stripped + 2)
        if close < 0:
            raise _error_at(text, pos, name, "unclosed comment")
        after = close + 2
        if text.startswith("}}", after):
            return None, after + 2, False
        if text.startswith(" -}}", after):
            return None, after + 4, True
        raise _error_at(text, pos, name, "comment ends before closing delimiter")
    tokens: list[_Tok] = []
    space = False
    while True:
        if pos >= len(text):
            raise _error_at(text, pos, name, "unclosed action")
        if text.startswith("}}", pos):
            return tokens, pos + 2, False
        if space and text.startswith("-}}", pos):
            return tokens, pos + 3, True
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _error_at(
                text, pos, name, f"unexpected {text[pos]!r} in command".replace("'", '"')
            )
        kind = match.lastgroup or ""
        if kind == "space":
            space = True
            pos = match.end()
            continue
        if kind == "ident" and match.group() in ("true", "false"):
            kind = "bool"
        elif kind == "ident" and match.group() == "nil":
            kind = "nil"
        elif kind in ("declare", "assign", "punct"):
            kind = match.group()
        elif kind in ("rawstring", "char"):
            kind = "string" if kind == "rawstring" else "char"
        tokens.append(_Tok(kind, match.group(), pos, space))
        space = False
        pos = match.end()


# -- nodes -------------------------------------------------------------------------------


@dataclass(slots=True)
class OperandNode:
    kind: str  # field var dot string number bool nil ident pipe
    value: Any
    chain: list[str]
    pos: int
    text: str


@dataclass(slots=True)
class CommandNode:
    args: list[OperandNode]
    pos: int

    def __str__(self) -> str:
        return " ".join(a.text for a in self.args)


@dataclass(slots=True)
class PipeNode:
    decl: list[str]
    assign: bool
    cmds: list[CommandNode]
    pos: int

    def __str__(self) -> str:
        text = " | ".join(str(c) for c in self.cmds)
        if self.decl:
            text = f"{', '.join(self.decl)} {'=' if self.assign else ':='} {text}"
        return text


@dataclass(slots=True)
class ControlNode:
    kind: str  # if with range
    pipe: PipeNode
    body: list[Any]
    else_body: list[Any] | None
    pos: int


@dataclass(slots=True)
class InvokeNode:
    name: str
    pipe: PipeNode | None
    pos: int


@dataclass(slots=True)
class LoopNode:
    kind: str  # break continue
    pos: int


# -- parser ------------------------------------------------------------------------------

BUILTIN_NAMES = frozenset(
    (
        "and",
        "or",
        "not",
        "len",
        "index",
        "print",
        "printf",
        "println",
        "slice",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "html",
        "js",
        "urlquery",
    )
)


class _Parser:
    def __init__(self, text: str, name: str, funcs: Mapping[str, Function]) -> None:
        self.text = text
        self.name = name
        self.funcs = funcs
        self.items = _lex(text, name)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.defines: dict[str, list[Any]] = {}
        self.depth = 0

    def error(self, pos: int, message: str) -> TemplateError:
        return _error_at(self.text, pos, self.name, message)

    def parse(self) -> list[Any]:
        body, end = self.parse_list()
        if end is not None:
            word = end.tokens[0].text
            raise self.error(end.pos, f"unexpected {{{{{word}}}}}")
        return body

    def parse_list(self) -> tuple[list[Any], _Action | None]:
        nodes: list[Any] = []
        while self.i < len(self.items):
            item = self.items[self.i]
            self.i += 1
            if isinstance(item, str):
                nodes.append(item)
                continue
            if not item.tokens:
                raise self.error(item.pos, "missing value for command")
            first = item.tokens[0]
            if first.kind == "ident" and first.text in ("end", "else"):
                return nodes, item
            if first.kind == "ident" and first.text in ("if", "with", "range"):
                nodes.append(self.control(first.text, item, item.tokens[1:]))
            elif first.kind == "ident" and first.text in ("break", "continue"):
                if self.range_depth == 0:
                    raise self.error(first.pos, f"{{{{{first.text}}}}} outside {{{{range}}}}")
                nodes.append(LoopNode(first.text, first.pos))
            elif first.kind == "ident" and first.text in ("define", "block"):
                name = self.template_name(item, first.text)
                if first.text == "define" and self.depth > 0:
                    raise self.error(first.pos, "unexpected <define> in command")
                self.define(name, item)
                if first.text == "block":
                    nodes.append(self.invoke(name, item))
            elif first.kind == "ident" and first.text == "template":
                nodes.append(self.invoke(self.template_name(item, "template"), item))
            else:
                nodes.append(self.pipeline(item.tokens, item.pos, "command"))
        return nodes, None

    def template_name(self, item: _Action, word: str) -> str:
        tokens = item.tokens
        if len(tokens) < 2 or tokens[1].kind != "string":
            raise self.error(item.pos, f"unexpected token in {word} clause")
        return _unquote(self, tokens[1])

    def define(self, name: str, item: _Action) -> None:
        # A defined template has its own variables: only $ at the start.
        saved, self.vars = self.vars, ["$"]
        self.depth += 1
        body, end = self.parse_list()
        self.depth -= 1
        self.vars = saved
        if end is None or end.tokens[0].text != "end":
            raise self.error(len(self.text), "unexpected EOF")
        self.defines[name] = body

    def invoke(self, name: str, item: _Action) -> InvokeNode:
        rest = item.tokens[2:]
        pipe = self.pipeline(rest, item.pos, "template clause") if rest else None
        return InvokeNode(name, pipe, item.pos)

    def control(self, kind: str, item: _Action, tokens: list[_Tok]) -> ControlNode:
        mark = len(self.vars)
        self.depth += 1
        pipe = self.pipeline(tokens, item.pos, kind, allow_range_decl=kind == "range")
        if kind == "range":
            self.range_depth += 1
        body, end = self.parse_list()
        if kind == "range":
            self.range_depth -= 1
        if end is None:
            raise self.error(len(self.text), "unexpected EOF")
        else_body: list[Any] | None = None
        if end.tokens[0].text == "else":
            rest = end.tokens[1:]
            del self.vars[mark:]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                # {{else if x}} ... {{end}}: a nested control sharing the one {{end}}.
                else_body = [self.control(rest[0].text, end, rest[1:])]
            else:
                if rest:
                    raise self.error(rest[0].pos, f"unexpected {rest[0].text!r} in else")
                else_body, end2 = self.parse_list()
                if end2 is None or end2.tokens[0].text != "end":
                    raise self.error(len(self.text), f"expected end; found {end2 and 'else'}")
        elif len(end.tokens) > 1:
            raise self.error(end.tokens[1].pos, "unexpected token in end")
        del self.vars[mark:]
        self.depth -= 1
        return ControlNode(kind, pipe, body, else_body, item.pos)

    def pipeline(
        self, tokens: list[_Tok], pos: int, context: str, *, allow_range_decl: bool = False
    ) -> PipeNode:
        decl: list[str] = []
        assign = False
        i = 0
        # Declarations: "$x :=", "$x =", and for range "$i, $v :=".
        if len(tokens) >= 2 and tokens[0].kind == "var":
            if tokens[1].kind in (":=", "="):
                decl, assign, i = [tokens[0].text], tokens[1].kind == "=", 2
            elif (
                allow_range_decl
                and tokens[1].kind == ","
                and len(tokens) >= 4
                and tokens[2].kind == "var"
                and tokens[3].kind in (":=", "=")
            ):
                decl, assign, i = [tokens[0].text, tokens[2].text], tokens[3].kind == "=", 4
        if assign:
            for name in decl:
                if name not in self.vars:
                    raise self.error(tokens[0].pos, f'undefined variable "{name}"')
        cmds, i = self.commands(tokens, i, pos)
        if i < len(tokens):
            raise self.error(tokens[i].pos, f"unexpected {tokens[i].text!r} in {context}")
        if not cmds:
            raise self.error(pos, f"missing value for {context}")
        if not assign:
            self.vars.extend(decl)
        return PipeNode(decl, assign, cmds, pos)

    def commands(self, tokens: list[_Tok], i: int, pos: int) -> tuple[list[CommandNode], int]:
        cmds: list[CommandNode] = []
        while i < len(tokens) and tokens[i].kind != ")":
            args: list[OperandNode] = []
            start = tokens[i].pos
            while i < len(tokens) and tokens[i].kind not in ("|", ")"):
                operand, i = self.operand(tokens, i)
                args.append(operand)
            if not args:
                raise self.error(start, "missing command")
            cmds.append(CommandNode(args, start))
            if i < len(tokens) and tokens[i].kind == "|":
                i += 1
                if i >= len(tokens) or tokens[i].kind == ")":
                    raise self.error(tokens[i - 1].pos, "missing command after |")
        return cmds, i

    def operand(  # noqa: PLR0912 - one branch per operand kind
        self, tokens: list[_Tok], i: int
    ) -> tuple[OperandNode, int]:
        tok = tokens[i]
        i += 1
        operand: OperandNode
        if tok.kind == "field":
            operand = OperandNode("field", None, [tok.text[1:]], tok.pos, tok.text)
        elif tok.kind == "var":
            if tok.text not in self.vars:
                raise self.error(tok.pos, f'undefined variable "{tok.text}"')
            operand = OperandNode("var", tok.text, [], tok.pos, tok.text)
        elif tok.kind == "dot":
            operand = OperandNode("dot", None, [], tok.pos, ".")
        elif tok.kind in ("string", "char"):
            operand = OperandNode("string", _unquote(self, tok), [], tok.pos, tok.text)
        elif tok.kind == "number":
            operand = OperandNode("number", _number(self, tok), [], tok.pos, tok.text)
        elif tok.kind == "bool":
            operand = OperandNode("bool", tok.text == "true", [], tok.pos, tok.text)
        elif tok.kind == "nil":
            operand = OperandNode("nil", None, [], tok.pos, "nil")
        elif tok.kind == "ident":
            if tok.text not in self.funcs and tok.text not in BUILTIN_NAMES:
                raise self.error(tok.pos, f'function "{tok.text}" not defined')
            operand = OperandNode("ident", tok.text, [], tok.pos, tok.text)
        elif tok.kind == "(":
            cmds, i = self.commands(tokens, i, tok.pos)
            if i >= len(tokens) or tokens[i].kind != ")":
                raise self.error(tok.pos, "unclosed left paren")
            i += 1
            pipe = PipeNode([], False, cmds, tok.pos)
            operand = OperandNode("pipe", pipe, [], tok.pos, f"({pipe})")
        else:
            raise self.error(tok.pos, f"unexpected {tok.text!r} in operand")
        # A field chain written right after the operand: $x.y, (pipe).y, .a.b
        while i < len(tokens) and tokens[i].kind == "field" and not tokens[i].space_before:
            if operand.kind not in ("field", "var", "pipe", "dot"):
                raise self.error(tokens[i].pos, f"unexpected . after term {operand.text!r}")
            operand.chain.append(tokens[i].text[1:])
            operand.text += tokens[i].text
            i += 1
        return operand, i


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a"}
_ESCAPES |= {"b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unquote(parser: _Parser, tok: _Tok) -> str:
    body = tok.text[1:-1]
    if tok.text[0] == "`":
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif nxt == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            raise parser.error(tok.pos, f"invalid syntax: {tok.text}")
    return "".join(out)


def _number(parser: _Parser, tok: _Tok) -> int | float:
    text = tok.text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return float(text)
    except ValueError:
        raise parser.error(tok.pos, f"bad number syntax: {tok.text!r}") from None


def parse_tree(
    text: str, name: str, funcs: Mapping[str, Function]
) -> tuple[list[Any], dict[str, list[Any]]]:
    """Parse ``text``: its tree and its named templates (``define``)."""
    parser = _Parser(text, name, funcs)
    tree = parser.parse()
    return tree, parser.defines
