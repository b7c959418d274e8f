"""The service's runner reads an alert's ``instance`` when it is one of its scrape targets."""

from __future__ import annotations

from runbooks.conftest import Target
from tradewarden.auth import PasswordHasher
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runbooks import HttpStep
from tradewarden.runtime import Runtime
from tradewarden.series._config import ScrapeConfig


async def test_a_scrape_target_may_be_read_from_the_labels(
    settings: Settings, fast_hasher: PasswordHasher, target: Target
) -> None:
    instance = target.url.removeprefix("http://")
    job = {"job_name": "bot", "static_configs": [{"targets": [instance]}], "scrape_interval": 3600}
    config = ServiceConfig(scrape_configs=(ScrapeConfig.model_validate(job),))
    runtime = Runtime(settings, config, clock=ManualClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, run_probes=False)
    try:
        runner = runtime.runbook_runner
        assert runner is not None
        step = HttpStep(id="health", title="Health", url="http://{{ labels.instance }}/health")
        known = await runner.run_step(step, {"instance": instance}, {})
        unknown = await runner.run_step(step, {"instance": "127.0.0.1:9"}, {})
    finally:
        await runtime.close()
    assert known.status == "ok", known.error
    assert unknown.status == "skipped"
