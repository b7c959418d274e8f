"""A Go ``text/template`` subset: the lexer, parser and executor behind alert templates.

Written here because no maintained Python package implements Go templates: the PyPI
packages that exist wrap Go's own library through cgo (a Go toolchain at install time)
and are unmaintained; Jinja2's syntax differs (``{{ $labels.x }}``, pipelines).

Supported: text and actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``;
fields (``.Labels.x``), variables (``$x``, ``$x := ...``, ``$x = ...``), string, raw
string, number, ``true``/``false``/``nil`` literals, parenthesised pipelines, ``|``
pipelines; ``if``/``else if``/``else``, ``with``/``else``, ``range`` (with ``$i, $v :=``,
``else``, ``break``, ``continue``); the built-ins ``and or not len index print printf
println eq ne lt le gt ge html js urlquery slice``; ``define``, ``template`` and ``block``.
Missing map keys give the zero value (``missingkey=zero``, as Prometheus sets).
"""

from __future__ import annotations

import html
import operator
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradewarden.rules._gofmt import GoStruct, go_sprint, go_type, go_value_string

__all__ = ["Function", "Template", "TemplateError", "parse_template"]

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


def _location(text: str, pos: int, name: str) -> str:
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
class _Operand:
    kind: str  # field var dot string number bool nil ident pipe
    value: Any
    chain: list[str]
    pos: int
    text: str


@dataclass(slots=True)
class _Command:
    args: list[_Operand]
    pos: int

    def __str__(self) -> str:
        return " ".join(a.text for a in self.args)


@dataclass(slots=True)
class _Pipe:
    decl: list[str]
    assign: bool
    cmds: list[_Command]
    pos: int

    def __str__(self) -> str:
        text = " | ".join(str(c) for c in self.cmds)
        if self.decl:
            text = f"{', '.join(self.decl)} {'=' if self.assign else ':='} {text}"
        return text


@dataclass(slots=True)
class _Control:
    kind: str  # if with range
    pipe: _Pipe
    body: list[Any]
    else_body: list[Any] | None
    pos: int


@dataclass(slots=True)
class _Invoke:
    name: str
    pipe: _Pipe | None
    pos: int


@dataclass(slots=True)
class _Loop:
    kind: str  # break continue
    pos: int


# -- parser ------------------------------------------------------------------------------

_BUILTINS = frozenset(
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
                nodes.append(_Loop(first.text, first.pos))
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

    def invoke(self, name: str, item: _Action) -> _Invoke:
        rest = item.tokens[2:]
        pipe = self.pipeline(rest, item.pos, "template clause") if rest else None
        return _Invoke(name, pipe, item.pos)

    def control(self, kind: str, item: _Action, tokens: list[_Tok]) -> _Control:
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
        return _Control(kind, pipe, body, else_body, item.pos)

    def pipeline(
        self, tokens: list[_Tok], pos: int, context: str, *, allow_range_decl: bool = False
    ) -> _Pipe:
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
        return _Pipe(decl, assign, cmds, pos)

    def commands(self, tokens: list[_Tok], i: int, pos: int) -> tuple[list[_Command], int]:
        cmds: list[_Command] = []
        while i < len(tokens) and tokens[i].kind != ")":
            args: list[_Operand] = []
            start = tokens[i].pos
            while i < len(tokens) and tokens[i].kind not in ("|", ")"):
                operand, i = self.operand(tokens, i)
                args.append(operand)
            if not args:
                raise self.error(start, "missing command")
            cmds.append(_Command(args, start))
            if i < len(tokens) and tokens[i].kind == "|":
                i += 1
                if i >= len(tokens) or tokens[i].kind == ")":
                    raise self.error(tokens[i - 1].pos, "missing command after |")
        return cmds, i

    def operand(  # noqa: PLR0912 - one branch per operand kind
        self, tokens: list[_Tok], i: int
    ) -> tuple[_Operand, int]:
        tok = tokens[i]
        i += 1
        operand: _Operand
        if tok.kind == "field":
            operand = _Operand("field", None, [tok.text[1:]], tok.pos, tok.text)
        elif tok.kind == "var":
            if tok.text not in self.vars:
                raise self.error(tok.pos, f'undefined variable "{tok.text}"')
            operand = _Operand("var", tok.text, [], tok.pos, tok.text)
        elif tok.kind == "dot":
            operand = _Operand("dot", None, [], tok.pos, ".")
        elif tok.kind in ("string", "char"):
            operand = _Operand("string", _unquote(self, tok), [], tok.pos, tok.text)
        elif tok.kind == "number":
            operand = _Operand("number", _number(self, tok), [], tok.pos, tok.text)
        elif tok.kind == "bool":
            operand = _Operand("bool", tok.text == "true", [], tok.pos, tok.text)
        elif tok.kind == "nil":
            operand = _Operand("nil", None, [], tok.pos, "nil")
        elif tok.kind == "ident":
            if tok.text not in self.funcs and tok.text not in _BUILTINS:
                raise self.error(tok.pos, f'function "{tok.text}" not defined')
            operand = _Operand("ident", tok.text, [], tok.pos, tok.text)
        elif tok.kind == "(":
            cmds, i = self.commands(tokens, i, tok.pos)
            if i >= len(tokens) or tokens[i].kind != ")":
                raise self.error(tok.pos, "unclosed left paren")
            i += 1
            pipe = _Pipe([], False, cmds, tok.pos)
            operand = _Operand("pipe", pipe, [], tok.pos, f"({pipe})")
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


# -- execution ---------------------------------------------------------------------------


class _Break(Exception):  # noqa: N818 - control flow, not an error
    pass


class _Continue(Exception):  # noqa: N818 - control flow, not an error
    pass


@dataclass(slots=True)
class _State:
    template: Template
    funcs: Mapping[str, Function]
    out: list[str] = field(default_factory=list)
    vars: list[tuple[str, Any]] = field(default_factory=list)

    def error(self, pos: int, context: str, message: str) -> TemplateError:
        where = _location(self.template.text, pos, self.template.name)
        name = self.template.name
        return TemplateError(f'{where}: executing "{name}" at <{context}>: {message}')

    def lookup(self, name: str) -> Any:
        for key, value in reversed(self.vars):
            if key == name:
                return value
        raise TemplateError(f"undefined variable: {name}")  # the parser prevents this

    def set(self, name: str, value: Any) -> None:
        for index in range(len(self.vars) - 1, -1, -1):
            if self.vars[index][0] == name:
                self.vars[index] = (name, value)
                return


def truth(value: Any) -> bool:
    """Go template truthiness: false, 0, nil and empty values are false."""
    if value is None:
        return False
    if isinstance(value, GoStruct):
        return True
    if isinstance(value, (bool, int, float, str, Mapping, Sequence)):
        return bool(value)
    return True


class Template:
    """A parsed template; ``execute(data)`` returns the text."""

    def __init__(
        self,
        text: str,
        name: str,
        funcs: Mapping[str, Function],
        tree: list[Any],
        defines: Mapping[str, list[Any]] | None = None,
    ):
        self.text = text
        self.name = name
        self.funcs = funcs
        self.tree = tree
        self.defines = dict(defines or {})

    def execute(self, data: Any, funcs: Mapping[str, Function] | None = None) -> str:
        """Run the template with ``data`` as dot; ``funcs`` (the same names as at parse
        time) replace the parse-time implementations."""
        state = _State(self, self.funcs if funcs is None else funcs, vars=[("$", data)])
        self._walk(state, self.tree, data)
        return "".join(state.out)

    def _walk(self, state: _State, nodes: list[Any], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, str):
                state.out.append(node)
            elif isinstance(node, _Pipe):
                value = self._pipe(state, node, dot)
                if not node.decl:
                    state.out.append("<no value>" if value is None else go_value_string(value))
            elif isinstance(node, _Control):
                self._control(state, node, dot)
            elif isinstance(node, _Invoke):
                self._invoke(state, node, dot)
            elif isinstance(node, _Loop):
                raise _Break() if node.kind == "break" else _Continue()

    def _invoke(self, state: _State, node: _Invoke, dot: Any) -> None:
        body = self.defines.get(node.name)
        if body is None:
            context = f'template "{node.name}"'
            raise state.error(node.pos, context, f'no such template "{node.name}"')
        value = None if node.pipe is None else self._pipe(state, node.pipe, dot)
        saved, state.vars = state.vars, [("$", value)]
        try:
            self._walk(state, body, value)
        finally:
            state.vars = saved

    def _control(self, state: _State, node: _Control, dot: Any) -> None:
        mark = len(state.vars)
        try:
            if node.kind == "range":
                self._range(state, node, dot)
                return
            value = self._pipe(state, node.pipe, dot)
            if truth(value):
                self._walk(state, node.body, value if node.kind == "with" else dot)
            elif node.else_body is not None:
                self._walk(state, node.else_body, dot)
        finally:
            del state.vars[mark:]

    def _range(self, state: _State, node: _Control, dot: Any) -> None:
        value = self._pipe(state, node.pipe, dot, bind=False)
        items: list[tuple[Any, Any]]
        if value is None:
            items = []
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            raise state.error(node.pos, str(node.pipe), f"range can't iterate over {value}")
        if not items:
            if node.else_body is not None:
                self._walk(state, node.else_body, dot)
            return
        mark = len(state.vars)
        for key, element in items:
            del state.vars[mark:]
            decl = node.pipe.decl
            if len(decl) == 1:
                self._bind(state, node.pipe, decl[0], element)
            elif len(decl) == 2:
                self._bind(state, node.pipe, decl[0], key)
                self._bind(state, node.pipe, decl[1], element)
            try:
                self._walk(state, node.body, element)
            except _Break:
                break
            except _Continue:
                continue

    @staticmethod
    def _bind(state: _State, pipe: _Pipe, name: str, value: Any) -> None:
        if pipe.assign:
            state.set(name, value)
        else:
            state.vars.append((name, value))

    def _pipe(
        self,
        state: _State,
        pipe: _Pipe,
        dot: Any,
        *,
        bind: bool = True,
    ) -> Any:
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self._command(state, cmd, dot, value)
        if bind:
            for name in pipe.decl:
                self._bind(state, pipe, name, value)
        return value

    def _command(self, state: _State, cmd: _Command, dot: Any, final: Any) -> Any:
        first = cmd.args[0]
        if first.kind == "ident":
            return self._call(state, cmd, dot, final)
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            raise state.error(
                cmd.pos, str(cmd), f"can't give argument to non-function {first.text}"
            )
        return self._operand(state, first, dot)

    def _operand(self, state: _State, operand: _Operand, dot: Any) -> Any:
        if operand.kind == "field":
            base = dot
        elif operand.kind == "var":
            base = state.lookup(operand.value)
        elif operand.kind == "dot":
            base = dot
        elif operand.kind == "pipe":
            base = self._pipe(state, operand.value, dot)
        else:
            return operand.value
        for name in operand.chain:
            base = self._field(state, operand, base, name)
        return base

    @staticmethod
    def _field(state: _State, operand: _Operand, base: Any, name: str) -> Any:
        if isinstance(base, GoStruct):
            if name in base.fields:
                return base.fields[name]
            message = f"can't evaluate field {name} in type {base.type_name}"
        elif isinstance(base, Mapping):
            return base.get(name, "")  # missingkey=zero on map[string]string
        elif base is None:
            message = f"nil pointer evaluating interface {{}}.{name}"
        else:
            message = f"can't evaluate field {name} in type {go_type(base)}"
        raise state.error(operand.pos, operand.text, message)

    def _call(self, state: _State, cmd: _Command, dot: Any, final: Any) -> Any:
        name: str = cmd.args[0].value
        args = cmd.args[1:]

        def value(operand: _Operand) -> Any:
            return self._operand(state, operand, dot)

        if name in ("and", "or") and name not in state.funcs:
            # Short-circuit: the arguments after the deciding one are not evaluated.
            count = len(args) + (final is not _NO_FINAL)
            if count == 0:
                message = f"wrong number of args for {name}: want at least 1 got 0"
                raise state.error(cmd.pos, str(cmd), message)
            result: Any = None
            for index in range(count):
                result = value(args[index]) if index < len(args) else final
                if truth(result) != (name == "and"):
                    return result
            return result
        values = [value(a) for a in args]
        if final is not _NO_FINAL:
            values.append(final)
        function = state.funcs.get(name) or _BUILTIN_FUNCS[name]
        try:
            return function(*values)
        except TemplateError:
            raise
        except _CallError as exc:
            raise state.error(cmd.pos, str(cmd), f"error calling {name}: {exc}") from None
        except _ArgError as exc:
            raise state.error(cmd.pos, str(cmd), str(exc)) from None


_NO_FINAL: Any = object()


class _CallError(Exception):
    """A function's error: shown as ``error calling <name>: <message>``."""


class _ArgError(Exception):
    """A wrong argument: shown as Go's message for it."""


def call_error(message: str) -> Exception:
    """Return the exception a template function raises to fail the template."""
    return _CallError(message)


def arg_error(message: str) -> Exception:
    """Return the exception for an argument of the wrong type or count."""
    return _ArgError(message)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    return "other"


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _compare_two(op: str, first: Any, other: Any) -> bool:
    k1, k2 = _kind(first), _kind(other)
    if "other" in (k1, k2) and op in ("eq", "ne") and "nil" not in (k1, k2):
        raise _CallError("non-comparable types")
    if k1 != k2:
        raise _CallError("incompatible types for comparison")
    if op not in ("eq", "ne") and k1 in ("bool", "nil", "other"):
        raise _CallError("invalid type for comparison")
    return _OPERATORS[op](first, other)


def _compare(op: str) -> Function:
    def compare(*args: Any) -> bool:
        if len(args) < 2 or (op != "eq" and len(args) != 2):
            raise _ArgError(f"wrong number of args for {op}: want 2 got {len(args)}")
        # eq takes several: true when the first equals any of the others.
        return any(_compare_two(op, args[0], other) for other in args[1:])

    return compare


def _not(value: Any) -> bool:
    return not truth(value)


def _len(value: Any) -> int:
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value.encode() if isinstance(value, str) else value)
    raise _CallError(f"len of type {go_type(value)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(key, "")
        elif isinstance(item, (list, tuple, str)) and isinstance(key, int):
            if not 0 <= key < len(item):
                raise _CallError(f"index out of range: {key}")
            item = item[key]
        else:
            raise _CallError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, (str, list, tuple)):
        raise _CallError(f"can't slice item of type {go_type(item)}")
    if len(indexes) > 2 or not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
        raise _CallError("invalid slice index")
    bounds = [*indexes, *[0, len(item)][len(indexes) :]]
    start, end = bounds[0], bounds[1]
    if not 0 <= start <= end <= len(item):
        raise _CallError(f"index out of range: {end if end > len(item) else start}")
    return item[start:end]


def _sprintln(*args: Any) -> str:
    return " ".join(go_value_string(a) for a in args) + "\n"


def _printf(template: Any, *args: Any) -> str:
    from tradewarden.rules._gofmt import go_sprintf

    if not isinstance(template, str):
        raise _ArgError(f"wrong type for value; expected string; got {go_type(template)}")
    return go_sprintf(template, *args)


_BUILTIN_FUNCS: dict[str, Function] = {
    "not": _not,
    "len": _len,
    "index": _index,
    "print": go_sprint,
    "printf": _printf,
    "println": _sprintln,
    "html": lambda *a: html.escape(go_sprint(*a)),
    "js": lambda *a: go_sprint(*a).replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"'),
    "urlquery": lambda *a: urllib.parse.quote_plus(go_sprint(*a)),
    "slice": _slice,
    **{op: _compare(op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
}


def parse_template(text: str, name: str, funcs: Mapping[str, Function]) -> Template:
    """Parse ``text``; raise :class:`TemplateError` with Go's message when it is invalid."""
    parser = _Parser(text, name, funcs)
    tree = parser.parse()
    return Template(text, name, funcs, tree, parser.defines)


def expect_args(name: str, args: Sequence[Any], count: int) -> None:
    """Raise Go's error when a function gets the wrong number of arguments."""
    if len(args) != count:
        raise _ArgError(f"wrong number of args for {name}: want {count} got {len(args)}")
