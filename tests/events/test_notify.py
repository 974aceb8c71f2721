"""The LISTEN connection's retries (events/notify.py): quick at first, then backing off to a cap,
each a little early at random so that server processes do not retry in step."""

from __future__ import annotations

import pytest

from gqlorders.events.notify import retry_delay


@pytest.mark.parametrize(
    ("failures", "longest"), [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)]
)
def test_each_failed_try_doubles_the_wait_up_to_30_seconds(failures: int, longest: float) -> None:
    delays = {retry_delay(failures) for _ in range(200)}

    assert min(delays) >= 0.8 * longest
    assert max(delays) <= longest
    assert len(delays) > 1  # jittered
