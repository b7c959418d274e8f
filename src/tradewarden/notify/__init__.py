"""Notification delivery: the message model, channels, templates and the durable outbox.

``Notifier.enqueue(message, channels, session=..., sequence=...)`` is the one entry
point: a row per channel is written (in the caller's transaction when given) before
anything is sent; workers deliver, retry with backoff and jitter up to a deadline, honour
rate limits, record every attempt and hand a failed notification to the channel's
fallback.
"""

from tradewarden.notify._config import (
    AppriseChannelConfig,
    ChannelConfig,
    PagerDutyChannelConfig,
    RateLimitConfig,
    RetryConfig,
    SlackChannelConfig,
    TemplatesConfig,
    check_channels,
)
from tradewarden.notify._message import Message, MessageStatus, Severity
from tradewarden.notify._metrics import NotifyMetrics
from tradewarden.notify._outbox import Outbox, notification_key
from tradewarden.notify._outcome import Outcome, SendResult, classify_http, parse_retry_after
from tradewarden.notify._policy import Next, TokenBucket, backoff_s, decide
from tradewarden.notify._redact import SecretScrubber
from tradewarden.notify._service import Notifier
from tradewarden.notify._templates import Rendered, Renderer
from tradewarden.notify._worker import OutboxWorker

__all__ = [
    "AppriseChannelConfig",
    "ChannelConfig",
    "Message",
    "MessageStatus",
    "Next",
    "Notifier",
    "NotifyMetrics",
    "Outbox",
    "OutboxWorker",
    "Outcome",
    "PagerDutyChannelConfig",
    "RateLimitConfig",
    "Rendered",
    "Renderer",
    "RetryConfig",
    "SecretScrubber",
    "SendResult",
    "Severity",
    "SlackChannelConfig",
    "TemplatesConfig",
    "TokenBucket",
    "backoff_s",
    "check_channels",
    "classify_http",
    "decide",
    "notification_key",
    "parse_retry_after",
]
