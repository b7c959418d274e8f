"""Scraping real loopback targets into the store, with Prometheus's labels and staleness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.series import LabelMatcher, Labels, MatchOp, is_stale
from tradewarden.series._config import ScrapeConfig
from tradewarden.series._scrape import ScrapeManager
from tradewarden.series._store import SeriesStore

from ._exporter import Exporter, exporter

EXPOSITION = """# TYPE jobs_total counter
jobs_total{queue="a"} 3
jobs_total{queue="b"} 4
temperature{job="inner",instance="x"} 21.5
"""


@pytest.fixture
async def target() -> AsyncIterator[Exporter]:
    async with exporter() as server:
        yield server


def _config(server: Exporter, path: str = "/metrics", **extra: Any) -> ScrapeConfig:
    return ScrapeConfig.model_validate(
        {
            "job_name": "bots",
            "metrics_path": path,
            "static_configs": [{"targets": [server.address], "labels": {"env": "test"}}],
            "scrape_interval": 60,
            **extra,
        }
    )


def _latest(store: SeriesStore, name: str, **labels: str) -> dict[Labels, float]:
    matchers = [LabelMatcher("__name__", MatchOp.EQUAL, name)]
    matchers += [LabelMatcher(k, MatchOp.EQUAL, v) for k, v in labels.items()]
    return {s.labels: s.values[-1] for s in store.select(matchers, 0, 2**62)}


CLOCK = ManualClock()


async def _manager(store: SeriesStore, *configs: ScrapeConfig) -> ScrapeManager:
    manager = ScrapeManager(store, clock=CLOCK)
    await manager.apply(configs)  # not started: the test drives scrape_now()
    return manager


async def test_a_scrape_stores_samples_with_target_labels_and_report_series(
    target: Exporter,
) -> None:
    target.route("/metrics", EXPOSITION)
    store = SeriesStore()
    manager = await _manager(store, _config(target))
    try:
        await manager.scrape_now("bots")
    finally:
        await manager.stop()
    base = {"job": "bots", "instance": target.address, "env": "test"}
    assert _latest(store, "jobs_total") == {
        Labels.of(__name__="jobs_total", queue="a", **base): 3.0,
        Labels.of(__name__="jobs_total", queue="b", **base): 4.0,
    }
    # A clash with a target label keeps the exposition's value as exported_<name>.
    assert _latest(store, "temperature") == {
        Labels.of(__name__="temperature", exported_job="inner", exported_instance="x", **base): 21.5
    }
    assert _latest(store, "up") == {Labels.of(__name__="up", **base): 1.0}
    assert (
        _latest(store, "scrape_samples_scraped")[
            Labels.of(__name__="scrape_samples_scraped", **base)
        ]
        == 3.0
    )
    assert (
        _latest(store, "scrape_series_added")[Labels.of(__name__="scrape_series_added", **base)]
        == 3.0
    )
    assert _latest(store, "scrape_duration_seconds")
    (health,) = manager.targets()
    assert (health.job, health.health, health.last_error) == ("bots", "up", "")
    assert health.url == f"http://{target.address}/metrics"
    assert health.labels == base


async def test_honor_labels_keeps_the_exposition_value(target: Exporter) -> None:
    target.route("/metrics", EXPOSITION)
    store = SeriesStore()
    manager = await _manager(store, _config(target, honor_labels=True))
    await manager.scrape_now("bots")
    await manager.stop()
    assert list(_latest(store, "temperature")) == [
        Labels.of(__name__="temperature", job="inner", instance="x", env="test")
    ]


async def test_a_vanished_series_gets_a_stale_marker(target: Exporter) -> None:
    route = target.route("/metrics", EXPOSITION)
    store = SeriesStore()
    manager = await _manager(store, _config(target))
    await manager.scrape_now("bots")
    route.body = b'jobs_total{queue="a"} 5\n'
    CLOCK.advance(5)
    await manager.scrape_now("bots")
    await manager.stop()
    values = _latest(store, "jobs_total")
    assert [v for labels, v in values.items() if labels.get("queue") == "a"] == [5.0]
    (gone,) = [v for labels, v in values.items() if labels.get("queue") == "b"]
    assert is_stale(gone)
    assert is_stale(next(iter(_latest(store, "temperature").values())))


BAD_TARGETS = [
    ("garbage", {"body": "a 1\nthis is garbage\n"}, {}, "parse error: line 2: invalid value"),
    ("duplicate", {"body": "a 1\na 2\n"}, {}, "parse error: line 2: duplicate series"),
    ("huge", {"body": "a 1\n" * 100_000}, {"body_size_limit": "64KiB"}, "body size limit"),
    (
        "limit",
        {"body": "a 1\nb 2\nc 3\nd 4\n"},
        {"sample_limit": 3},
        "sample limit exceeded: 4 > 3",
    ),
    ("status", {"status": 503}, {}, "server returned HTTP status 503"),
    ("timeout", {"hang": True}, {"scrape_timeout": "200ms"}, "timeout after 0.2 s"),
]


@pytest.mark.parametrize(
    ("name", "route", "extra", "error"), BAD_TARGETS, ids=[b[0] for b in BAD_TARGETS]
)
async def test_a_bad_target_is_down_with_its_error_and_nothing_else_is_touched(
    target: Exporter, name: str, route: dict[str, Any], extra: dict[str, Any], error: str
) -> None:
    good = target.route("/metrics", EXPOSITION)
    bad = target.route("/bad", EXPOSITION)
    store = SeriesStore()
    bad_config = _config(target, "/bad", **extra).model_copy(update={"job_name": "bad"})
    manager = await _manager(store, _config(target), bad_config)
    await manager.scrape_now("bad")
    for key, value in route.items():
        setattr(bad, key, value.encode() if key == "body" else value)
    CLOCK.advance(5)
    await manager.scrape_now("bad")
    await manager.scrape_now("bots")
    await manager.stop()
    health = {h.job: h for h in manager.targets()}
    assert health["bad"].health == "down"
    assert health["bad"].last_error.startswith(error), health["bad"].last_error
    assert health["bots"].health == "up"
    assert _latest(store, "up", job="bad") == {
        Labels.of(__name__="up", job="bad", instance=target.address, env="test"): 0.0
    }
    # The bad target's series from its good scrape are all stale; the other job's are not.
    bad_jobs = _latest(store, "jobs_total", job="bad")
    assert len(bad_jobs) == 2
    assert all(is_stale(v) for v in bad_jobs.values())
    assert sorted(_latest(store, "jobs_total", job="bots").values()) == [3.0, 4.0]
    assert good.requests == 1


async def test_unreachable_target_is_down(target: Exporter) -> None:
    store = SeriesStore()
    config = ScrapeConfig.model_validate(
        {"job_name": "gone", "static_configs": [{"targets": ["127.0.0.1:1"]}]}
    )
    manager = await _manager(store, config)
    await manager.scrape_now("gone")
    await manager.stop()
    (health,) = manager.targets()
    assert health.health == "down"
    assert "ClientConnectorError" in health.last_error


async def test_auth_from_env_and_file_is_read_at_each_scrape(
    target: Exporter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = target.route("/metrics", EXPOSITION)
    monkeypatch.setenv("TW_SCRAPE_PASSWORD", "s3cret")
    token_file = tmp_path / "token"
    token_file.write_text("tok-1\n", encoding="utf-8")
    basic = _config(target, basic_auth={"username": "u", "password_env": "TW_SCRAPE_PASSWORD"})
    bearer = _config(target, bearer_token_file=str(token_file)).model_copy(
        update={"job_name": "bearer"}
    )
    store = SeriesStore()
    manager = await _manager(store, basic, bearer)
    await manager.scrape_now("bots")
    await manager.scrape_now("bearer")
    token_file.write_text("tok-2", encoding="utf-8")
    await manager.scrape_now("bearer")
    monkeypatch.delenv("TW_SCRAPE_PASSWORD")
    await manager.scrape_now("bots")
    await manager.stop()
    assert route.authorization == ["Basic dTpzM2NyZXQ=", "Bearer tok-1", "Bearer tok-2"]
    health = {h.job: h for h in manager.targets()}
    assert health["bots"].health == "down"
    assert "TW_SCRAPE_PASSWORD" in health["bots"].last_error
    assert "s3cret" not in repr(manager.targets())


async def test_params_and_openmetrics(target: Exporter) -> None:
    route = target.route(
        "/probe",
        "# TYPE a counter\na_total 1 1700000000.25\n# EOF\n",
        content_type="application/openmetrics-text; version=1.0.0; charset=utf-8",
    )
    store = SeriesStore()
    config = _config(target, "/probe", params={"module": ["http_2xx"]})
    manager = await _manager(store, config)
    await manager.scrape_now("bots")
    await manager.stop()
    assert route.query == [{"module": "http_2xx"}]
    (series,) = store.select([LabelMatcher("__name__", MatchOp.EQUAL, "a_total")], 0, 2**62)
    assert list(series.timestamps) == [1_700_000_000_250]
    assert manager.targets()[0].url.endswith("/probe?module=http_2xx")


async def test_running_loops_and_the_self_scrape(target: Exporter) -> None:
    target.route("/metrics", EXPOSITION)
    registry = CollectorRegistry()
    Counter("warden_things", "Things.", registry=registry).inc()
    Counter("probe_skipped", "Written by the probe sink.", registry=registry).inc()
    store = SeriesStore()
    manager = ScrapeManager(
        store,
        registry=registry,
        self_instance="127.0.0.1:8080",
        self_interval_s=0.05,
        skip_self=lambda: {"probe_skipped"},
    )
    await manager.start([_config(target, scrape_interval=0.05)])
    try:
        await eventually(lambda: bool(_latest(store, "warden_things_total")))
        await eventually(lambda: bool(_latest(store, "jobs_total")))
        # A removed job's series go stale at once.
        await manager.apply([])
        assert all(is_stale(v) for v in _latest(store, "jobs_total").values())
        assert all(is_stale(v) for v in _latest(store, "up", job="bots").values())
    finally:
        await manager.stop()
    assert list(_latest(store, "warden_things_total")) == [
        Labels.of(__name__="warden_things_total", job="tradewarden", instance="127.0.0.1:8080")
    ]
    assert not _latest(store, "probe_skipped_total")
    assert [h.job for h in manager.targets()] == ["tradewarden"]


def test_the_store_and_targets_show_on_the_registry() -> None:
    from prometheus_client import generate_latest

    from tradewarden.series._metrics import SeriesCollector

    registry = CollectorRegistry()
    store = SeriesStore()
    store.append(Labels.of(__name__="a"), 2, 1.0)
    store.append(Labels.of(__name__="a"), 1, 1.0)
    SeriesCollector(registry, store, ScrapeManager(store, registry=registry))
    text = generate_latest(registry).decode()
    assert "tradewarden_series 1.0" in text
    assert 'tradewarden_series_dropped_samples_total{reason="out_of_order"} 1.0' in text
    assert 'tradewarden_scrape_targets{health="unknown",job="tradewarden"} 1.0' in text
