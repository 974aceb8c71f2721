"""When deliveries are retried, given up, and an endpoint disabled; what may be called."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from gqlorders.config import Settings

# About a day of retries after the first attempt (Stripe's and Svix's order of magnitude); the
# first comes quickly, for a receiver that was restarting.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
)
JITTER = 0.2  # each delay is drawn within ±20 %, so that failed deliveries do not return in step
DISABLE_AFTER = timedelta(days=5)  # failing without a single success for this long disables
ROTATION_OVERLAP = timedelta(hours=24)  # the previous secret keeps signing this long
# A job that took a delivery and neither sent nor gave it back by then is taken for lost (its
# worker died, Redis lost it): the sweep hands the delivery to a new job.
DISPATCH_DEADLINE = timedelta(seconds=60)
# Once a batch is claimed, its attempts have this long (the payload query, the send, the log)
# before the sweep may hand its deliveries on: its sends are cut off LEASE_MARGIN before.
ATTEMPT_LEASE = timedelta(seconds=30)
LEASE_MARGIN = timedelta(seconds=5)
TIMEOUT_SECONDS = 10.0  # httpx's, for each phase (connect, each read, each write)
# A send in all (resolve, connect, request, answer): a receiver that drip-feeds its answer is
# cut off, and the attempt counts as failed. An endpoint's payload query runs before it, in
# what the lease leaves (delivery.PAYLOAD_QUERY_SECONDS), so the receiver always has all of it.
SEND_DEADLINE = timedelta(seconds=20)
EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE: loopback, private and http:// too
    retry_schedule: tuple[timedelta, ...] = RETRY_SCHEDULE
    disable_after: timedelta = DISABLE_AFTER
    send_deadline: timedelta = SEND_DEADLINE  # shortened by the tests

    def retry_delay(self, failures: int) -> timedelta | None:
        """How long after the `failures`-th failed attempt to try again; None: give up."""
        if failures > len(self.retry_schedule):
            return None
        return self.retry_schedule[failures - 1] * random.uniform(1 - JITTER, 1 + JITTER)


_policy = Policy()


def configure(policy: Policy) -> None:
    """Set this process's policy (from the settings, at startup)."""
    global _policy
    _policy = policy


def configure_from(settings: Settings) -> None:
    """WEBHOOK_ALLOW_PRIVATE, WEBHOOK_RETRY_SCHEDULE, WEBHOOK_DISABLE_AFTER."""
    configure(
        Policy(
            allow_private=settings.webhook_allow_private,
            retry_schedule=settings.webhook_retry_schedule or RETRY_SCHEDULE,
            disable_after=settings.webhook_disable_after,
        )
    )


def current() -> Policy:
    return _policy
