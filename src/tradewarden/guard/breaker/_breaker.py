"""The circuit breaker's call forms: decorators, ``call``/``acall``, context managers.

The hot path (CLOSED, consecutive counting) is inlined in each wrapper: it reads one flag,
makes the call, and on success reads one int and adds to another: no lock, no clock, no
Prometheus call. Everything else goes through ``BreakerCore`` (``_core.py``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Final, ParamSpec, Self, TypeVar, cast

from tradewarden.clock import Clock

from ._config import BreakerConfig
from ._core import _PASS, BreakerCore
from ._errors import CircuitOpenError
from ._state import BreakerState

__all__ = [
    "LAST_GOOD_VALUE",
    "CircuitBreaker",
    "Fallback",
    "Guarded",
    "LastGoodValue",
    "Listener",
]

P = ParamSpec("P")
R = TypeVar("R")


class LastGoodValue:
    """Fallback marker: while rejected, return the last successful result instead."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LAST_GOOD_VALUE"


LAST_GOOD_VALUE: Final = LastGoodValue()
Fallback = Callable[..., Any] | LastGoodValue
Listener = Callable[["CircuitBreaker", BreakerState, BreakerState], None]
_MISSING: Final[Any] = object()


class CircuitBreaker(BreakerCore):
    """Guard calls to one dependency; see ``BreakerConfig`` for the rules.

    Forms, all enforcing the state: ``@breaker`` (sync or async functions),
    ``@breaker.decorate(fallback=...)``, ``breaker.call(f, ...)``, ``await
    breaker.acall(f, ...)``, ``with breaker.guarded():`` and ``async with
    breaker.guarded():``. A rejected call raises ``CircuitOpenError`` unless a fallback is
    set: a function called with the call's arguments, or ``LAST_GOOD_VALUE`` (the last
    result of the same decorated function; of any ``call``/``acall`` on this breaker). The
    context manager has no value to substitute, so it always raises.

    Listeners are called as ``listener(breaker, old, new)`` after each transition, outside
    the lock; one that raises is logged and does not stop the others.
    """

    __slots__ = ("_fallback", "_last_good")

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock | None = None,
        fallback: Fallback | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        super().__init__(name, config, clock=clock, listeners=listeners)
        self._fallback = fallback
        self._last_good: Any = _MISSING

    # -- the guarded call, every form -------------------------------------------------------

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``func`` (sync or async) with the breaker's own fallback."""
        return self.decorate()(func)

    def decorate(
        self, *, fallback: Fallback | object | None = _MISSING
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Return a decorator; ``fallback`` overrides the breaker's for this function."""
        chosen = cast("Fallback | None", self._fallback if fallback is _MISSING else fallback)

        def decorator(func: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(func):
                return cast("Callable[P, R]", self._async_wrapper(func, chosen))
            return self._sync_wrapper(func, chosen)

        return decorator

    def call(self, func: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run ``func(*args, **kwargs)`` through the breaker."""
        if not self._fast:
            return cast("R", self._run(func, args, kwargs, self._fallback, None))
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._fast_error(exc)
            raise
        self._fast_success(result)
        return result

    async def acall(self, func: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``func(*args, **kwargs)`` through the breaker."""
        if not self._fast:
            return cast("R", await self._arun(func, args, kwargs, self._fallback, None))
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self._fast_error(exc)
            raise
        self._fast_success(result)
        return result

    def guarded(self) -> Guarded:
        """Return a context manager (``with`` or ``async with``) guarding its block."""
        return Guarded(self)

    def _sync_wrapper(self, func: Callable[P, R], fallback: Fallback | None) -> Callable[P, R]:
        cell: list[Any] | None = [_MISSING] if isinstance(fallback, LastGoodValue) else None
        predicate = self.config.result_predicate
        breaker = self
        mono = self._mono

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not breaker._fast:
                if not breaker._fast_window:
                    return cast("R", breaker._run(func, args, kwargs, fallback, cell))
                started = mono()  # CLOSED with a window: the lock only for the outcome
                try:
                    result = func(*args, **kwargs)
                except BaseException as exc:
                    breaker._window_outcome(started, breaker._is_failure(exc), False)
                    raise
                failed = predicate is not None and bool(predicate(result))
                breaker._window_outcome(started, failed, not failed)
                if cell is not None and not failed:
                    cell[0] = result
                return result
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                breaker._fast_error(exc)
                raise
            if predicate is not None and predicate(result):
                breaker._fast_failure()
                return result
            if breaker._failures:
                breaker._recovered()
            breaker._successes += 1
            if cell is not None:
                cell[0] = result
            return result

        return wrapper

    def _async_wrapper(
        self, func: Callable[P, Awaitable[Any]], fallback: Fallback | None
    ) -> Callable[P, Awaitable[Any]]:
        cell: list[Any] | None = [_MISSING] if isinstance(fallback, LastGoodValue) else None
        predicate = self.config.result_predicate
        breaker = self
        mono = self._mono

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if not breaker._fast:
                if not breaker._fast_window:
                    return await breaker._arun(func, args, kwargs, fallback, cell)
                started = mono()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    breaker._window_outcome(started, breaker._is_failure(exc), False)
                    raise
                failed = predicate is not None and bool(predicate(result))
                breaker._window_outcome(started, failed, not failed)
                if cell is not None and not failed:
                    cell[0] = result
                return result
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                breaker._fast_error(exc)
                raise
            if predicate is not None and predicate(result):
                breaker._fast_failure()
                return result
            if breaker._failures:
                breaker._recovered()
            breaker._successes += 1
            if cell is not None:
                cell[0] = result
            return result

        return wrapper

    def _run(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        fallback: Fallback | None,
        cell: list[Any] | None,
    ) -> Any:
        if self._fast_window:  # CLOSED: admitted without the lock; only the outcome takes it
            started = self._mono()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._window_outcome(started, self._is_failure(exc), False)
                raise
            self._window_finish(started, result, cell)
            return result
        try:
            kind, epoch, started = self._admit()
        except CircuitOpenError as rejected:
            if fallback is None:
                raise
            value = self._fallback_value(rejected, fallback, cell, args, kwargs)
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()  # never awaited: close it rather than leak a warning
                raise TypeError("a sync call's fallback returned an awaitable") from None
            return value
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._complete_error(kind, epoch, started, exc)
            raise
        self._finish(kind, epoch, started, result, cell)
        return result

    async def _arun(
        self,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        fallback: Fallback | None,
        cell: list[Any] | None,
    ) -> Any:
        if self._fast_window:
            started = self._mono()
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                self._window_outcome(started, self._is_failure(exc), False)
                raise
            self._window_finish(started, result, cell)
            return result
        try:
            kind, epoch, started = self._admit()
        except CircuitOpenError as rejected:
            if fallback is None:
                raise
            value = self._fallback_value(rejected, fallback, cell, args, kwargs)
            return (await value) if inspect.isawaitable(value) else value
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self._complete_error(kind, epoch, started, exc)
            raise
        self._finish(kind, epoch, started, result, cell)
        return result

    def _finish(
        self, kind: int, epoch: int, started: float, result: Any, cell: list[Any] | None
    ) -> None:
        predicate = self.config.result_predicate
        try:
            failed = predicate is not None and bool(predicate(result))
        except BaseException:
            self._complete(kind, epoch, started, False, ok=False)  # the predicate's bug: free it
            raise
        self._complete(kind, epoch, started, failed, ok=not failed)
        if not failed and kind != _PASS:
            if cell is not None:
                cell[0] = result
            else:
                self._last_good = result

    def _window_finish(self, started: float, result: Any, cell: list[Any] | None) -> None:
        predicate = self.config.result_predicate
        failed = predicate is not None and bool(predicate(result))
        self._window_outcome(started, failed, not failed)
        if not failed:
            if cell is not None:
                cell[0] = result
            else:
                self._last_good = result

    def _fallback_value(
        self,
        rejected: CircuitOpenError,
        fallback: Fallback,
        cell: list[Any] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if isinstance(fallback, LastGoodValue):
            value = cell[0] if cell is not None else self._last_good
            if value is _MISSING:
                raise rejected  # nothing succeeded yet: no value to fall back on
            return value
        return fallback(*args, **kwargs)

    def _fast_success(self, result: object) -> None:
        predicate = self.config.result_predicate
        if predicate is not None and predicate(result):
            self._fast_failure()
            return
        if self._failures:
            self._recovered()
        self._successes += 1
        if isinstance(self._fallback, LastGoodValue):
            self._last_good = result


class Guarded:
    """``with`` / ``async with`` form: admit on entry, record the block's outcome on exit."""

    __slots__ = ("_breaker", "_epoch", "_kind", "_started")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        self._kind = -1

    def __enter__(self) -> Self:
        if self._kind != -1:
            raise RuntimeError("a Guarded block cannot be entered twice: call guarded() again")
        self._kind, self._epoch, self._started = self._breaker._admit()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._breaker._complete(self._kind, self._epoch, self._started, False, ok=True)
        else:
            self._breaker._complete_error(self._kind, self._epoch, self._started, exc)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
