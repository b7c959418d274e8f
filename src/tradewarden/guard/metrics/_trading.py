"""The seeds' trading metrics, recorded on a registry the bot passes in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tradewarden.clock import Clock, SystemClock
from tradewarden.guard.metrics._labels import OTHER, LabelCap, wallet_label
from tradewarden.guard.retry import FailureKind, classify

__all__ = [
    "ORDER_BUCKETS_S",
    "SWAP_BUCKETS_S",
    "OrderStatus",
    "OrderTimer",
    "TradingMetrics",
]

# Order processing is milliseconds to seconds; the seeds alert on swaps over 2 s.
ORDER_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SWAP_BUCKETS_S = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class OrderStatus(StrEnum):
    """How an order ended, the ``status`` label of ``orders_total``.

    The seeds show ``filled``, ``rejected`` and ``pending``; ``failed`` is an error sending
    or executing it (also counted by ``orders_failed_total``), ``rejected`` a refusal (by
    the guard's ``check_order`` or the venue), ``cancelled`` withdrawn.
    """

    PENDING = "pending"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


_REASONS = frozenset(FailureKind)


class OrderTimer:
    """The order a ``timed_order()`` block is processing: set ``status`` before it ends."""

    __slots__ = ("status",)

    def __init__(self, status: OrderStatus | str) -> None:
        self.status = status


class TradingMetrics:
    """Order, signal, swap and balance metrics under the seeds' names.

    ``orders_total{status}``, ``orders_failed_total``, ``order_processing_seconds``,
    ``signals_received_total{source}``, ``signal_processing_errors_total``,
    ``swap_execution_duration_seconds``, ``swap_failures_total{reason}``,
    ``exchange_balance{asset}``, ``wallet_balance_sol{wallet}``.

    Label values are bounded: ``status`` is an ``OrderStatus``, ``reason`` a ``FailureKind``
    (anything else counts as ``other``); ``source`` takes ``signal_sources`` if given, else
    the first ``max_sources`` seen, then ``other``; ``asset`` and ``wallet`` keep the first
    ``max_assets``/``max_wallets`` and ignore new ones past that (logged once).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        signal_sources: Iterable[str] | None = None,
        max_sources: int = 20,
        max_assets: int = 50,
        max_wallets: int = 20,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._sources = LabelCap("source", allowed=signal_sources, limit=max_sources)
        self._assets = LabelCap("asset", limit=max_assets)
        self._wallets = LabelCap("wallet", limit=max_wallets)
        self.orders = Counter(
            "orders", "Orders processed, by how they ended.", ["status"], registry=registry
        )
        self.orders_failed = Counter(
            "orders_failed", "Orders that failed to be sent or executed.", registry=registry
        )
        self.order_processing = Histogram(
            "order_processing_seconds",
            "Time from an order decision to its outcome.",
            buckets=ORDER_BUCKETS_S,
            registry=registry,
        )
        self.signals = Counter(
            "signals_received",
            "Trading signals received, by source.",
            ["source"],
            registry=registry,
        )
        self.signal_errors = Counter(
            "signal_processing_errors",
            "Signals that could not be processed.",
            registry=registry,
        )
        self.swap_duration = Histogram(
            "swap_execution_duration_seconds",
            "Time to execute a swap, failed ones included.",
            buckets=SWAP_BUCKETS_S,
            registry=registry,
        )
        self.swap_failures = Counter(
            "swap_failures", "Swaps that failed, by reason.", ["reason"], registry=registry
        )
        self.exchange_balance = Gauge(
            "exchange_balance",
            "Balance held on the exchange, by asset.",
            ["asset"],
            registry=registry,
        )
        self.wallet_balance = Gauge(
            "wallet_balance_sol",
            "Wallet balance in SOL, by wallet name or short public key.",
            ["wallet"],
            registry=registry,
        )
        # Children made once: the hot path is a dict lookup and an increment.
        self._order_children: dict[str, Counter] = {
            s.value: self.orders.labels(s.value) for s in OrderStatus
        }
        self._order_other = self.orders.labels(OTHER)

    # --- orders ----------------------------------------------------------------------

    def order_placed(self, status: OrderStatus | str = OrderStatus.FILLED) -> None:
        """Count one order that ended as ``status`` (``failed`` also counts as failed)."""
        self._order_children.get(status, self._order_other).inc()
        if status == OrderStatus.FAILED:
            self.orders_failed.inc()

    def order_failed(self) -> None:
        """Count one order that failed to be sent or executed."""
        self.order_placed(OrderStatus.FAILED)

    def order_rejected(self) -> None:
        """Count one order refused (by ``check_order`` or by the venue)."""
        self.order_placed(OrderStatus.REJECTED)

    @contextmanager
    def timed_order(self, status: OrderStatus | str = OrderStatus.FILLED) -> Iterator[OrderTimer]:
        """Time the block into ``order_processing_seconds`` and count the order.

        It ends as the timer's ``status`` (``status`` unless the block changes it), or
        ``failed`` if the block raises; the exception propagates.
        """
        order = OrderTimer(status)
        started = self._clock.monotonic()
        try:
            yield order
        except BaseException:
            order.status = OrderStatus.FAILED
            raise
        finally:
            self.order_processing.observe(self._clock.monotonic() - started)
            self.order_placed(order.status)

    # --- signals ---------------------------------------------------------------------

    def signal_received(self, source: str) -> None:
        """Count one signal from ``source`` (e.g. ``telegram``, ``cryptet``)."""
        self.signals.labels(self._sources.fold(source)).inc()

    def signal_failed(self) -> None:
        """Count one signal that could not be processed."""
        self.signal_errors.inc()

    @contextmanager
    def processing_signal(self, source: str) -> Iterator[None]:
        """Count a signal from ``source``, and an error if the block raises (re-raised)."""
        self.signal_received(source)
        try:
            yield
        except Exception:
            self.signal_failed()
            raise

    # --- swaps -----------------------------------------------------------------------

    def swap_failed(self, reason: FailureKind | str) -> None:
        """Count one failed swap (``reason``: a ``FailureKind``, else ``other``)."""
        self.swap_failures.labels(reason if reason in _REASONS else OTHER).inc()

    @contextmanager
    def timed_swap(self) -> Iterator[None]:
        """Time the block into ``swap_execution_duration_seconds``.

        If it raises, the swap failure is counted under the kind ``classify`` gives the
        exception (``slippage_exceeded``, ``blockhash_not_found``, ...); it propagates.
        """
        started = self._clock.monotonic()
        try:
            yield
        except Exception as exc:
            self.swap_failed(classify(exc).kind)
            raise
        finally:
            self.swap_duration.observe(self._clock.monotonic() - started)

    # --- balances --------------------------------------------------------------------

    def set_exchange_balance(self, asset: str, amount: float) -> None:
        """Set the exchange balance of ``asset`` (e.g. ``USDT``); past the cap, ignored."""
        if self._assets.admit(asset):
            self.exchange_balance.labels(asset).set(amount)

    def set_wallet_balance(self, wallet: str, sol: float) -> None:
        """Set a wallet's balance in SOL; ``wallet`` is a name or a public key (shortened).

        Raises ``ValueError`` for what looks like a private key (without repeating it).
        """
        label = wallet_label(wallet)
        if self._wallets.admit(label):
            self.wallet_balance.labels(label).set(sol)
