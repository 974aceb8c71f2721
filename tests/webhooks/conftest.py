"""Fixtures of the webhook tests: receivers, and the policy of the tests (private addresses
allowed, the retry schedule shortened), with the relay that sends retries running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gqlorders.relay import relay_forever
from gqlorders.webhooks import policy
from tests.webhooks.support import Receiver, receiving

SHORT_SCHEDULE = (timedelta(seconds=0.2), timedelta(seconds=0.4), timedelta(seconds=0.6))


@contextlib.contextmanager
def configured(rules: policy.Policy) -> Iterator[policy.Policy]:
    previous = policy.current()
    policy.configure(rules)
    try:
        yield rules
    finally:
        policy.configure(previous)


def local_rules(**changes: Any) -> policy.Policy:
    """WEBHOOK_ALLOW_PRIVATE=1 (the receivers listen on 127.0.0.1), a short schedule."""
    return policy.Policy(allow_private=True, retry_schedule=SHORT_SCHEDULE, **changes)


@pytest.fixture
def local_policy() -> Iterator[policy.Policy]:
    with configured(local_rules()) as rules:
        yield rules


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as box:
        yield box


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    with receiving() as box:
        yield box


@pytest.fixture
async def relaying(http: httpx.AsyncClient) -> AsyncIterator[None]:
    """The relay every server runs, every 0.1 s: it hands due retries to jobs."""
    task = asyncio.create_task(relay_forever(interval=0.1))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
