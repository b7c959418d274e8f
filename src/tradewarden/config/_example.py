"""The commented example config that ``tradewarden init`` writes."""

from __future__ import annotations

__all__ = ["EXAMPLE_CONFIG"]

EXAMPLE_CONFIG = """\
# tradewarden.yaml: the warden's config file.
# Validate it with:   tradewarden config check --config tradewarden.yaml
# Secrets never go here: they come from the environment or from files named by *_FILE
# (DATABASE_URL, REDIS_URL, TRADEWARDEN_JWT_SECRET, SENTRY_DSN, OTEL_EXPORTER_OTLP_HEADERS).

version: 1

server:
  # Where the API listens. 127.0.0.1 keeps it private to this machine; put a TLS proxy
  # in front before exposing it.
  host: 127.0.0.1
  port: 8080
  # Requests with a larger body are answered 413.
  max_body_bytes: 1048576
  # Set to true when /metrics must not be readable without an API key or token.
  metrics_require_auth: false
  # Serve /docs, /api-docs and /openapi.json.
  docs_enabled: true
  # /status checks its dependencies at most this often (seconds); concurrent requests
  # share one check, so a fast poller cannot load the database. 0 checks every time.
  status_cache_s: 1.0

auth:
  # Lifetime of access tokens (JWT) and refresh tokens, in seconds.
  access_token_ttl_s: 900
  refresh_token_ttl_s: 2592000
  # Failed logins allowed per account and per client address within the window.
  login_rate_limit:
    per_account: 5
    per_address: 20
    window_s: 900

redis:
  # Redis is optional (REDIS_URL). When required, /status answers 503 while it is down.
  required: false
  connect_timeout_s: 2.0
  health_check_interval_s: 5.0

probes:
  # Checks running at once, across every monitor; recent results kept per monitor.
  max_concurrency: 256
  history_size: 100
  # How often to pick up monitors other instances changed over the API (0: at reload only).
  sync_interval_s: 30

control:
  # Where the kill switch lives: the bots' KillSwitch must use the same back end.
  # file: a SQLite file on this machine (default <data dir>/trading_state.db);
  # redis: keys <trading_state_prefix>:state/:history on REDIS_URL; memory: this process.
  trading_state_backend: file
  # trading_state_file: /var/lib/tradewarden/trading_state.db
  trading_state_prefix: tradewarden:trading
  # The bots' shared circuit breakers (RedisBreakerSync) on REDIS_URL.
  breaker_prefix: "circuit_breaker:"
  breaker_channel: circuit_breaker:events
  breaker_timeout_s: 30

# Monitors: each has a name, a kind, interval_s (30), timeout_s (10, at most the interval),
# a failure policy (DOWN after `down_after` failures in a row, or {rate, window,
# min_results}), labels and `paused`. Kinds: http, tcp, postgres, redis, system, heartbeat.
# Secrets (DSNs, URLs with keys, tokens) come from `*_env` or `*_file`, not inline.
monitors: []
#  - name: bot-api
#    kind: http
#    url: http://127.0.0.1:3000/health
#    keyword: '"status":"ok"'
#    slow_ms: 500
#    failure: {down_after: 2}
#  - name: bot-db
#    kind: postgres
#    dsn_env: BOT_DATABASE_URL
#    expect_role: primary
#  - name: bot-redis
#    kind: redis
#    url_env: BOT_REDIS_URL
#    expect_role: master        # a replica here is the "READONLY" failure
#  - name: trading-loop
#    kind: heartbeat            # the bot calls POST /v1/heartbeats/trading-loop
#    period_s: 60
#    grace_s: 30
#    token_env: TRADING_LOOP_TOKEN
#  - name: warden-host
#    kind: system
#    disk_path: /

# The embedded metrics engine: an in-memory series store (Prometheus-compatible), kept in a
# snapshot across restarts. snapshot_path defaults to <data dir>/series.snapshot.
metrics:
  retention_s: 7200
  max_bytes: 268435456
  snapshot_enabled: true
  snapshot_interval_s: 60
  # Scrape the warden's own /metrics registry in process (job "tradewarden").
  self_scrape: true
  self_scrape_interval_s: 5

# Targets to scrape, in Prometheus's shape (scrape_interval 5s by default). Credentials
# come from *_env or *_file, never inline.
scrape_configs: []
#  - job_name: bots
#    scrape_interval: 5s
#    static_configs:
#      - targets: ["127.0.0.1:9100"]
#        labels: {bot: alpha}
#    sample_limit: 10000
#    basic_auth: {username: prom, password_env: BOT_METRICS_PASSWORD}

# Prometheus rule files (the same files run on Prometheus: `promtool check rules`). The
# shipped packs (null: all of them) and a MonitorDown/HeartbeatMissed rule per monitor
# are loaded too. Rules run on their group's interval and as soon as fresh samples of a
# metric they read arrive.
rules:
  files: []          # globs, e.g. ["rules/*.yml"]
  packs: null        # or a list of pack names, e.g. [rpc, orders, trading]
  default_rules: true
  evaluation_interval: 15
  debounce: 0.05
  resend_delay: 60
  outage_tolerance: 3600
  for_grace_period: 60
  external_labels: {}
  external_url: ""

# Where notifications go: Apprise URLs (Telegram, Slack, Discord, mailto, Twilio, json://
# webhooks, ...), Slack Block Kit (type: slack) or PagerDuty Events v2 (type: pagerduty).
# URLs and keys carry secrets: only from *_env or *_file.
channels: []
#  - name: chat
#    type: apprise
#    url_env: TELEGRAM_URL          # e.g. tgram://<bot token>/<chat id>
#    fallback: mail
#  - name: mail
#    type: apprise
#    url_env: MAIL_URL

# Severities P0 (critical) to P3 (low): the response-time target and the channels an alert
# of that severity goes to when its route names no receiver.
severities:
  P0: {response_time: 15m, channels: []}
  P1: {response_time: 30m, channels: []}
  P2: {response_time: 4h, channels: []}
  P3: {response_time: 1d, channels: []}

# Alertmanager-style routing (the same YAML shape as Alertmanager's route:), receivers
# (lists of channels), inhibit_rules and time_intervals.
receivers: []
time_intervals: []
inhibit_rules: []
# route:
#   receiver: oncall
#   group_by: [alertname]
#   routes:
#     - matchers: ['severity="critical"']
#       receiver: oncall
# receivers:
#   - name: oncall
#     channels: [chat, mail]

# Maintenance windows mute the alerts their matchers select, as a silence would (shown
# as silencedBy "maintenance:<name>"); an alert notified before a window still gets its
# resolved notice. Once (starts_at/ends_at, ISO 8601 with an offset) or recurring (a
# 5-field cron matched on the wall clock of timezone, IANA, default UTC, each start
# lasting duration). A start in the hour DST skips happens at the jump; one in the hour
# that repeats, once. `tradewarden reload` (or SIGHUP) applies changes.
maintenance_windows: []
#  - name: exchange-weekly
#    matchers: ['exchange="binance"']
#    cron: "0 2 * * 3"              # Wednesdays 02:00
#    duration: 2h
#    timezone: Europe/Berlin
#    comment: Binance's weekly maintenance
#  - name: migration
#    matchers: ['alertname=~".+"']  # everything: say so explicitly
#    starts_at: 2026-12-05T22:00:00+01:00
#    ends_at: 2026-12-06T01:00:00+01:00
#    comment: database move

# People, on-call schedules and escalation policies (the seeds' defaults apply per
# severity when none is configured: P0 pages the primary, then the secondary after 15m).
people: []
schedules: []
escalation_policies: []

# Incidents open from alerts of these severities (one per alert group; `enabled: false`
# opens none automatically). Their runbook's automated steps run as they open.
incidents:
  enabled: true
  open_for: [P0, P1]
  max_concurrent_diagnoses: 4  # runbook runs at once in a storm; the others wait

# Runbooks: the bundled set (tradewarden runbook list) plus your own folders. Their
# automated steps only read: PromQL, HTTP GET/HEAD, SQL in a READ ONLY transaction,
# allow-listed Redis reads, probes. Connections take their URLs from env or a file.
runbooks:
  bundled: true
  directories: []            # e.g. [runbooks], relative to this file
  step_timeout: 10s
  run_timeout: 60s
  allow_automatic: []        # actions a runbook may run unattended, e.g. [kill_switch.halt]
  connections: []
  #  - {name: app-db, kind: postgres, url_env: APP_PG_URL}     # the bundled steps' names
  #  - {name: app-redis, kind: redis, url_env: APP_REDIS_URL}
  # An http step whose host comes from an alert's labels reads only scrape targets,
  # http monitors' hosts and these (host, or host:port):
  http_hosts: []

# KPI targets (seed 004's): GET /v1/kpis, tradewarden kpis, the weekly review.
kpis:
  targets:
    mttd_s: 300
    mtta_s: 300
    mttr_s: 1800
    alert_noise_ratio: 0.1
    ack_within_5m_ratio: 0.95
    p0p1_resolved_within_2h_ratio: 0.9
    availability_ratio: 0.9995
  refresh_interval_s: 60     # the tradewarden_kpi_* metrics' recomputation
"""
