"""The series store: label sets, the storage port, the compact in-memory store, the
scraper and the text-format parsing.

Only what needs nothing but the standard library is re-exported here (the guard may import
label sets); the scraper (aiohttp), the probe sink and the config models live in
``tradewarden.series._scrape``, ``._probes`` and ``._config``.
"""

from tradewarden.series._exposition import (
    ExpositionError,
    ParsedScrape,
    ScrapeCache,
    parse_exposition,
)
from tradewarden.series._labels import METRIC_NAME, LabelMatcher, Labels, MatchOp
from tradewarden.series._memory import ListStorage
from tradewarden.series._ports import STALE_NAN, Appender, Queryable, SeriesData, is_stale
from tradewarden.series._snapshot import SeriesKeeper, SnapshotError
from tradewarden.series._store import SeriesStats, SeriesStore

__all__ = [
    "METRIC_NAME",
    "STALE_NAN",
    "Appender",
    "ExpositionError",
    "LabelMatcher",
    "Labels",
    "ListStorage",
    "MatchOp",
    "ParsedScrape",
    "Queryable",
    "ScrapeCache",
    "SeriesData",
    "SeriesKeeper",
    "SeriesStats",
    "SeriesStore",
    "SnapshotError",
    "is_stale",
    "parse_exposition",
]
