"""The series store: label sets, the storage port, the compact in-memory store, the
scraper and the text-format parsing."""

from tradewarden.series._labels import METRIC_NAME, LabelMatcher, Labels, MatchOp
from tradewarden.series._memory import ListStorage
from tradewarden.series._ports import STALE_NAN, Appender, Queryable, SeriesData, is_stale

__all__ = [
    "METRIC_NAME",
    "STALE_NAN",
    "Appender",
    "LabelMatcher",
    "Labels",
    "ListStorage",
    "MatchOp",
    "Queryable",
    "SeriesData",
    "is_stale",
]
