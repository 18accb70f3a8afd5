from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lrs.forwarding.remote import RecordingLRS, recording_lrs


@pytest.fixture()
def remote() -> Iterator[RecordingLRS]:
    with recording_lrs() as lrs:
        yield lrs
