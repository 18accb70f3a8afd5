from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.recording_lrs import RecordingLRS, recording_lrs


@pytest.fixture()
def remote() -> Iterator[RecordingLRS]:
    with recording_lrs() as lrs:
        yield lrs
