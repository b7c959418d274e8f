"""The registry of monitor kinds."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from tradewarden.probes.kinds import KINDS, MonitorConfig, monitor_adapter


def test_the_union_holds_exactly_the_registered_kinds() -> None:
    union = get_args(MonitorConfig)[0]
    assert set(get_args(union)) == set(KINDS)


def test_every_kind_has_a_distinct_tag() -> None:
    tags = [kind.model_fields["kind"].default for kind in KINDS]
    assert len(tags) == len(set(tags))


def test_unknown_kind_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(ValidationError) as caught:
        monitor_adapter().validate_python({"name": "x", "kind": "ftp"})
    assert "'http'" in str(caught.value)


def test_inline_secrets_are_not_echoed_in_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        monitor_adapter().validate_python(
            {"name": "x", "kind": "postgres", "dsn": "postgresql://u:s3cret@h/db", "port": 1}
        )
    assert "s3cret" not in str(caught.value)
