"""A Go ``text/template`` subset behind alert templates: its executor (the lexer and parser
are in ``_goparse``, the built-ins in ``_gobuiltins``).

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradewarden.rules._gobuiltins import (
    BUILTIN_FUNCS,
    ArgError,
    CallError,
    arg_error,
    call_error,
    truth,
)
from tradewarden.rules._gofmt import GoStruct, go_type, go_value_string
from tradewarden.rules._goparse import (
    CommandNode,
    ControlNode,
    Function,
    InvokeNode,
    LoopNode,
    OperandNode,
    PipeNode,
    TemplateError,
    location,
    parse_tree,
)

__all__ = [
    "Function",
    "Template",
    "TemplateError",
    "arg_error",
    "call_error",
    "parse_template",
    "truth",
]


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
        where = location(self.template.text, pos, self.template.name)
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
            elif isinstance(node, PipeNode):
                value = self._pipe(state, node, dot)
                if not node.decl:
                    state.out.append("<no value>" if value is None else go_value_string(value))
            elif isinstance(node, ControlNode):
                self._control(state, node, dot)
            elif isinstance(node, InvokeNode):
                self._invoke(state, node, dot)
            elif isinstance(node, LoopNode):
                raise _Break() if node.kind == "break" else _Continue()

    def _invoke(self, state: _State, node: InvokeNode, dot: Any) -> None:
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

    def _control(self, state: _State, node: ControlNode, dot: Any) -> None:
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

    def _range(self, state: _State, node: ControlNode, dot: Any) -> None:
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
    def _bind(state: _State, pipe: PipeNode, name: str, value: Any) -> None:
        if pipe.assign:
            state.set(name, value)
        else:
            state.vars.append((name, value))

    def _pipe(
        self,
        state: _State,
        pipe: PipeNode,
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

    def _command(self, state: _State, cmd: CommandNode, dot: Any, final: Any) -> Any:
        first = cmd.args[0]
        if first.kind == "ident":
            return self._call(state, cmd, dot, final)
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            raise state.error(
                cmd.pos, str(cmd), f"can't give argument to non-function {first.text}"
            )
        return self._operand(state, first, dot)

    def _operand(self, state: _State, operand: OperandNode, dot: Any) -> Any:
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
    def _field(state: _State, operand: OperandNode, base: Any, name: str) -> Any:
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

    def _call(self, state: _State, cmd: CommandNode, dot: Any, final: Any) -> Any:
        name: str = cmd.args[0].value
        args = cmd.args[1:]

        def value(operand: OperandNode) -> Any:
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
        function = state.funcs.get(name) or BUILTIN_FUNCS[name]
        try:
            return function(*values)
        except TemplateError:
            raise
        except CallError as exc:
            raise state.error(cmd.pos, str(cmd), f"error calling {name}: {exc}") from None
        except ArgError as exc:
            raise state.error(cmd.pos, str(cmd), str(exc)) from None


_NO_FINAL: Any = object()


def parse_template(text: str, name: str, funcs: Mapping[str, Function]) -> Template:
    """Parse ``text``; raise :class:`TemplateError` with Go's message when it is invalid."""
    tree, defines = parse_tree(text, name, funcs)
    return Template(text, name, funcs, tree, defines)
