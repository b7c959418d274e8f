"""The scraper stores the series real Prometheus (v2.42) stores from the same targets:
target labels, ``exported_`` renames, ``honor_labels``, the report series, escaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from differential._prometheus import prometheus_binary, running_prometheus
from support.eventually import eventually
from tradewarden.series import LabelMatcher, Labels, MatchOp, SeriesStore, is_stale
from tradewarden.series._config import ScrapeConfig
from tradewarden.series._scrape import ScrapeManager

from ._exporter import exporter

EXPOSITION = r"""# HELP jobs_total Jobs.
# TYPE jobs_total counter
jobs_total{queue="a"} 3
jobs_total{queue="b",job="inner",instance="x",exported_job="older"} 4
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 1
latency_seconds_bucket{le="+Inf"} 2
latency_seconds_sum 0.35
latency_seconds_count 2
quoted{path="C:\\dir",msg="say \"hi\"\nbye",env="inner-env"} 1
empty_label{a=""} 5
"""
SKIP_VALUES = {"scrape_duration_seconds", "scrape_series_added"}


def _jobs(address: str) -> list[dict[str, Any]]:
    static = [{"targets": [address], "labels": {"env": "test"}}]
    return [
        {"job_name": "plain", "metrics_path": "/m", "static_configs": static},
        {
            "job_name": "honored",
            "metrics_path": "/m",
            "honor_labels": True,
            "static_configs": static,
        },
    ]


async def _prometheus_series(url: str) -> dict[Labels, float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/api/v1/query", params={"query": '{__name__=~".+"}'})
    if response.status_code != 200:  # still starting: 503 in plain text
        return {}
    result = response.json()["data"]["result"]
    return {Labels.of(item["metric"]): float(item["value"][1]) for item in result}


async def test_the_same_series_as_prometheus(tmp_path: Path) -> None:
    prometheus_binary()  # skips without it locally, fails in CI
    async with exporter() as target:
        target.route("/m", EXPOSITION)
        jobs = _jobs(target.address)
        config = tmp_path / "prometheus.yml"
        lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "scrape_configs:"]
        for job in jobs:
            lines += [
                f"  - job_name: {job['job_name']}",
                f"    metrics_path: {job['metrics_path']}",
                f"    honor_labels: {str(job.get('honor_labels', False)).lower()}",
                "    static_configs:",
                f"      - targets: ['{target.address}']",
                "        labels: {env: test}",
            ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        store = SeriesStore()
        manager = ScrapeManager(store)
        await manager.apply([ScrapeConfig.model_validate(job) for job in jobs])
        await manager.scrape_now("plain")
        await manager.scrape_now("honored")
        await manager.stop()
        ours = {
            s.labels: s.values[-1]
            for s in store.select([LabelMatcher("__name__", MatchOp.NOT_EQUAL, "")], 0, 2**62)
            if not is_stale(s.values[-1])
        }
        theirs: dict[Labels, float] = {}
        async with running_prometheus(config, tmp_path) as url:

            async def scraped_both() -> bool:
                try:
                    series = await _prometheus_series(url)
                except httpx.TransportError:
                    return False
                ups = [v for k, v in series.items() if k.metric_name == "up"]
                theirs.update(series)  # one answer, compared whole below
                if len(series) >= len(ours) and ups == [1.0, 1.0]:
                    return True
                theirs.clear()
                return False

            await eventually(scraped_both, timeout_s=60, interval_s=0.2)
    assert sorted(map(str, ours)) == sorted(map(str, theirs))
    for labels, value in ours.items():
        if labels.metric_name not in SKIP_VALUES:
            assert theirs[labels] == value, labels
