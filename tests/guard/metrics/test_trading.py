"""Trading metrics under the seeds' names, on the registry the test passes in."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tradewarden.clock import ManualClock
from tradewarden.guard.metrics import OrderStatus, TradingMetrics, wallet_label
from tradewarden.guard.retry import Failure, FailureKind

PUBLIC_KEY = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
# A 64-byte secret key in base58 is ~88 characters.
SECRET_KEY = "4" * 88


class SlippageError(Exception):
    failure = Failure(FailureKind.SLIPPAGE_EXCEEDED, "slippage tolerance exceeded")


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_seed_metric_is_exposed_on_the_injected_registry(
    registry: CollectorRegistry,
) -> None:
    TradingMetrics(registry)
    text = generate_latest(registry).decode()
    for name in (
        "orders_total",
        "orders_failed_total",
        "order_processing_seconds",
        "signals_received_total",
        "signal_processing_errors_total",
        "swap_execution_duration_seconds",
        "swap_failures_total",
        "exchange_balance",
        "wallet_balance_sol",
    ):
        assert f"# TYPE {name.removesuffix('_total')} " in text or f"# TYPE {name} " in text


def test_two_instances_on_two_registries_do_not_collide() -> None:
    TradingMetrics(CollectorRegistry())
    TradingMetrics(CollectorRegistry())


def test_orders_count_by_status_and_failures_separately(registry: CollectorRegistry) -> None:
    metrics = TradingMetrics(registry)
    metrics.order_placed()
    metrics.order_placed("pending")
    metrics.order_rejected()
    metrics.order_failed()
    metrics.order_placed("made_up")
    assert value(registry, "orders_total", status="filled") == 1
    assert value(registry, "orders_total", status="pending") == 1
    assert value(registry, "orders_total", status="rejected") == 1
    assert value(registry, "orders_total", status="failed") == 1
    assert value(registry, "orders_total", status="other") == 1
    assert value(registry, "orders_total", status="made_up") is None
    assert value(registry, "orders_failed_total") == 1


def test_timed_order_observes_the_duration_and_its_outcome(registry: CollectorRegistry) -> None:
    clock = ManualClock()
    metrics = TradingMetrics(registry, clock=clock)
    with metrics.timed_order() as order:
        clock.advance(0.2)
        order.status = OrderStatus.PARTIALLY_FILLED

    def failing_order() -> None:
        with metrics.timed_order():
            clock.advance(3.0)
            raise RuntimeError("venue down")

    with pytest.raises(RuntimeError):
        failing_order()
    assert value(registry, "order_processing_seconds_count") == 2
    assert value(registry, "order_processing_seconds_sum") == pytest.approx(3.2)
    assert value(registry, "order_processing_seconds_bucket", le="0.25") == 1
    assert value(registry, "orders_total", status="partially_filled") == 1
    assert value(registry, "orders_total", status="failed") == 1
    assert value(registry, "orders_failed_total") == 1


def test_signals_by_source_and_processing_errors(registry: CollectorRegistry) -> None:
    metrics = TradingMetrics(registry)
    metrics.signal_received("telegram")
    with pytest.raises(ValueError, match="bad signal"), metrics.processing_signal("cryptet"):
        raise ValueError("bad signal")
    assert value(registry, "signals_received_total", source="telegram") == 1
    assert value(registry, "signals_received_total", source="cryptet") == 1
    assert value(registry, "signal_processing_errors_total") == 1


def test_signal_sources_beyond_the_allow_list_count_as_other(registry: CollectorRegistry) -> None:
    metrics = TradingMetrics(registry, signal_sources=["telegram"])
    metrics.signal_received("telegram")
    metrics.signal_received("somewhere-else")
    assert value(registry, "signals_received_total", source="other") == 1
    assert value(registry, "signals_received_total", source="somewhere-else") is None


def test_signal_sources_past_the_cap_count_as_other_and_warn_once(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = TradingMetrics(registry, max_sources=2)
    with caplog.at_level(logging.WARNING, "tradewarden.guard.metrics"):
        for source in ("a", "b", "c", "d", "a", "x y"):
            metrics.signal_received(source)
    assert value(registry, "signals_received_total", source="a") == 2
    assert value(registry, "signals_received_total", source="b") == 1
    assert value(registry, "signals_received_total", source="other") == 3
    assert len([r for r in caplog.records if "cap" in r.getMessage()]) == 1


def test_a_failed_swap_is_timed_and_counted_by_its_classified_reason(
    registry: CollectorRegistry,
) -> None:
    clock = ManualClock()
    metrics = TradingMetrics(registry, clock=clock)

    def failing_swap() -> None:
        with metrics.timed_swap():
            clock.advance(2.5)
            raise SlippageError

    with pytest.raises(SlippageError):
        failing_swap()
    with metrics.timed_swap():
        clock.advance(0.4)
    metrics.swap_failed("not-a-kind")
    metrics.swap_failed(FailureKind.BLOCKHASH_NOT_FOUND)
    assert value(registry, "swap_execution_duration_seconds_count") == 2
    assert value(registry, "swap_execution_duration_seconds_bucket", le="2.0") == 1
    assert value(registry, "swap_failures_total", reason="slippage_exceeded") == 1
    assert value(registry, "swap_failures_total", reason="blockhash_not_found") == 1
    assert value(registry, "swap_failures_total", reason="other") == 1


def test_balances_by_asset_and_wallet(registry: CollectorRegistry) -> None:
    metrics = TradingMetrics(registry, max_assets=2)
    metrics.set_exchange_balance("USDT", 1500.5)
    metrics.set_exchange_balance("BTC", 0.25)
    metrics.set_exchange_balance("ETH", 3.0)  # past the cap: not recorded
    metrics.set_wallet_balance("hot-wallet", 12.5)
    metrics.set_wallet_balance(PUBLIC_KEY, 0.75)
    assert value(registry, "exchange_balance", asset="USDT") == 1500.5
    assert value(registry, "exchange_balance", asset="BTC") == 0.25
    assert value(registry, "exchange_balance", asset="ETH") is None
    assert value(registry, "wallet_balance_sol", wallet="hot-wallet") == 12.5
    assert value(registry, "wallet_balance_sol", wallet="9WzD..AWWM") == 0.75


def test_a_private_key_is_never_a_wallet_label(registry: CollectorRegistry) -> None:
    metrics = TradingMetrics(registry)
    with pytest.raises(ValueError, match="private key") as raised:
        metrics.set_wallet_balance(SECRET_KEY, 1.0)
    assert SECRET_KEY not in str(raised.value)
    assert SECRET_KEY not in generate_latest(registry).decode()
    with pytest.raises(ValueError, match="a name"):
        wallet_label("[1, 2, 3, 4]")
    assert wallet_label(PUBLIC_KEY) == "9WzD..AWWM"
