"""An RPC endpoint: a provider name for labels and logs, and a URL that stays private."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Endpoint"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One provider's endpoint.

    ``priority`` is the tier (1 first: the paid provider; the public fallback last);
    within a tier endpoints are ordered by their sampled score times ``weight``.
    ``url`` (API key and all) and ``headers`` never appear in a repr, a label, a log line or
    an error: the pool says ``name``.
    """

    name: str
    url: str = field(repr=False)
    priority: int = 1
    weight: float = 1.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            # Also what stops a URL from being passed as a name and landing in the labels.
            raise ValueError(
                "an endpoint name is 1-63 letters, digits, '_', '.' or '-' (a provider name, "
                "not a URL)"
            )
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint {self.name}: the URL must be http:// or https://")
        if self.weight <= 0:
            raise ValueError(f"endpoint {self.name}: weight must be positive")
