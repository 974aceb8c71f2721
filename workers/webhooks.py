"""The webhook delivery job: hands the deliveries its job holds to this process's sender.

The sender lives as long as the process (its HTTP connections are reused from job to job);
its payload queries run through the schema, built once with the installation's limits."""

from __future__ import annotations

from typing import Any

from gqlorders.api import payload_queries
from gqlorders.api.schema import build_schema
from gqlorders.config import Settings
from gqlorders.webhooks.delivery import STOP_GRACE_SECONDS, Sender

__all__ = ["STOP_GRACE_SECONDS", "deliver_webhooks", "sender", "stop_sender"]

_sender: Sender | None = None


def sender(settings: Settings) -> Sender:
    """This process's sender (made on first use)."""
    global _sender
    if _sender is None:
        _sender = Sender(payload_queries.runner(build_schema(settings.limits)))
    return _sender


async def stop_sender(grace: float = STOP_GRACE_SECONDS) -> None:
    """Shutdown (a worker's, or a server's running jobs in process), once no job runs any
    more, the database still open: the sends in flight finish and are recorded
    (Sender.stop). The sender stays this process's while it stops, so that a job that starts
    meanwhile leaves its deliveries to the sweep rather than making a sender of its own."""
    global _sender
    stopping = _sender
    if stopping is not None:
        try:
            await stopping.stop(grace)
        finally:  # (a stop that failed or was cancelled leaves no sender that sends nothing)
            if _sender is stopping:
                _sender = None


async def deliver_webhooks(
    ctx: dict[str, Any], dispatch: int, delivery_ids: list[int] | None = None
) -> None:
    """Queue the deliveries this job still holds (all those of its token: a transaction's; or
    the listed ones: the sweep's) for the sender's lanes (a slow receiver holds no job slot).
    Idempotent: a rerun finds its token gone once they were claimed, and an attempt whose
    process died is swept to a new job."""
    await sender(ctx["settings"]).submit(dispatch, delivery_ids)
