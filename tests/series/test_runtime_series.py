"""The runtime's series store: probe results, scrapes and the self-scrape land in it, a
reload applies new scrape configs, and the snapshot carries the series over a restart."""

from __future__ import annotations

from pathlib import Path

from support.eventually import eventually
from tradewarden.auth import PasswordHasher
from tradewarden.clock import SystemClock
from tradewarden.config import Settings, load_config_file
from tradewarden.runtime import Runtime
from tradewarden.series import LabelMatcher, MatchOp, SeriesStore, is_stale

from ._exporter import exporter


def _config(address: str, job: str) -> str:
    host, port = address.split(":")
    return f"""\
metrics:
  self_scrape_interval_s: 0.05
monitors:
  - name: exporter
    kind: tcp
    host: {host}
    port: {port}
    interval_s: 0.5
    timeout_s: 0.4
scrape_configs:
  - job_name: {job}
    scrape_interval: 50ms
    static_configs:
      - targets: ["{address}"]
"""


def _live(store: SeriesStore, name: str, **labels: str) -> list[float]:
    matchers = [LabelMatcher("__name__", MatchOp.EQUAL, name)]
    matchers += [LabelMatcher(k, MatchOp.EQUAL, v) for k, v in labels.items()]
    return [s.values[-1] for s in store.select(matchers, 0, 2**62) if not is_stale(s.values[-1])]


async def test_the_runtime_fills_its_store_and_keeps_it_over_a_restart(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    async with exporter() as target:
        target.route("/metrics", "jobs_total 7\n")
        path = tmp_path / "tw.yaml"
        path.write_text(_config(target.address, "bots"), encoding="utf-8")
        runtime = Runtime(
            settings,
            load_config_file(path),
            config_path=path,
            clock=SystemClock(),
            hasher=fast_hasher,
        )
        await runtime.start(bootstrap_admin=False, run_probes=True)
        try:
            store = runtime.series
            await eventually(
                lambda: _live(store, "probe_success", monitor="exporter") == [1.0], timeout_s=15
            )
            await eventually(lambda: _live(store, "jobs_total", job="bots") == [7.0], timeout_s=15)
            await eventually(lambda: bool(_live(store, "tradewarden_build_info")), timeout_s=15)
            assert _live(store, "tradewarden_build_info", job="tradewarden") == [1.0]
            # Probe results are not stored a second time through the self-scrape.
            assert not _live(store, "probe_success", job="tradewarden")

            path.write_text(_config(target.address, "renamed"), encoding="utf-8")
            await runtime.reload_monitors()
            await eventually(
                lambda: _live(store, "jobs_total", job="renamed") == [7.0], timeout_s=15
            )
            assert not _live(store, "jobs_total", job="bots")  # stale since the reload
            assert {t.job for t in runtime.scrapes.targets()} == {"renamed", "tradewarden"}
        finally:
            await runtime.close()
        assert (settings.data_dir / "series.snapshot").exists()

        again = Runtime(settings, load_config_file(path), clock=SystemClock(), hasher=fast_hasher)
        await again.start(bootstrap_admin=False, run_probes=True)
        try:
            # Read right after start: these come from the snapshot.
            matchers = [LabelMatcher("__name__", MatchOp.EQUAL, "jobs_total")]
            jobs = {s.labels.get("job") for s in again.series.select(matchers, 0, 2**62)}
            assert {"bots", "renamed"} <= jobs
        finally:
            await again.close()
