"""`tradewarden up` takes its start-up objects out of the collector's full passes."""

from __future__ import annotations

import gc

from tradewarden.cli._serve import _freeze_start_up_objects


def test_start_up_objects_are_frozen() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        _freeze_start_up_objects()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
