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
"""
