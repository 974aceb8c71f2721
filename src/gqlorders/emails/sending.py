"""A message's way out, as recorded in the database: the claim, the moment its content starts
to go out, and the outcome -- and the sweep that reads how far a dead sender got.

QUEUED -> SENDING (`claim`, after the PDF is rendered) -> content started (`start_content`,
just before SMTP DATA) -> SENT or FAILED. Until the content started nothing can have been
delivered, so a claim whose sender died before that goes back to QUEUED and is sent again;
only one that died after is FAILED, outcome unknown (SPEC §8: never sent twice).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.models import EmailMessage, EmailState, Invoice, OrderEvent, OrderEventType

logger = logging.getLogger("gqlorders.emails")

# The order events an e-mail records: all it may record without importing `orders`.
EmailEventType: TypeAlias = Literal[OrderEventType.EMAIL_FAILED, OrderEventType.EMAIL_RESENT]

MAX_EMAIL_ATTEMPTS = 5
# The e-mail job gives up on one attempt once its SMTP exchange has taken this long (SMTP's
# own timeout bounds each command, not the whole send): as on a transient failure before the
# message's content went out, with OUTCOME_UNKNOWN after.
SEND_DEADLINE = timedelta(seconds=45)
# A live sender records its outcome within SEND_DEADLINE of its claim (it renders before
# claiming), so a message still SENDING this long after its claim was left by a dead one.
STALLED_AFTER = SEND_DEADLINE + timedelta(seconds=30)
OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered;"
    " send it again if needed"
)


async def claim(email_id: int) -> datetime | None:
    """Take a QUEUED message for one send: its claim time, or None if it is not QUEUED (sent,
    failed, or held by another job: a rerun then does nothing)."""
    claimed_at = now()
    claimed = await EmailMessage.filter(id=email_id, state=EmailState.QUEUED).update(
        state=EmailState.SENDING,
        claimed_at=claimed_at,
        data_started_at=None,
        attempts=F("attempts") + 1,
    )
    return claimed_at if claimed else None


def held(email_id: int, claimed_at: datetime) -> QuerySet[EmailMessage]:
    """The message while it still holds this claim: every outcome is written through it, so
    that a sender that outlived its claim never overwrites what came after."""
    return EmailMessage.filter(id=email_id, state=EmailState.SENDING, claimed_at=claimed_at)


async def start_content(email_id: int, claimed_at: datetime) -> bool:
    """Record that the message's content starts to go out (committed before it does): whether
    the claim still holds. False means the sweep gave the message back (this sender was taken
    for dead): it must not go out from here."""
    return bool(await held(email_id, claimed_at).update(data_started_at=now()))


async def fail(email_id: int, claimed_at: datetime | None, error: str) -> bool:
    """FAILED with `error` (and an order event saying so), if the message still holds this
    claim (None: QUEUED, not claimed). Whether it was recorded."""
    if claimed_at is None:
        held_now = EmailMessage.filter(id=email_id, state=EmailState.QUEUED)
    else:
        held_now = held(email_id, claimed_at)
    async with in_transaction():
        if not await held_now.update(state=EmailState.FAILED, error=error[:1000]):
            return False
        email = await EmailMessage.get(id=email_id)
        await record_email_event(email, OrderEventType.EMAIL_FAILED, None, {"error": email.error})
    return True


async def record_email_event(
    email: EmailMessage, type: EmailEventType, actor: str | None, data: dict[str, Any] | None = None
) -> None:
    """An event on the order the message belongs to (its own, or its invoice's), so that the
    desk sees it in the order's history. Not an order change: its PDF stays as it is."""
    order_id = email.sales_order_id
    if order_id is None and email.invoice_id is not None:
        invoice = await Invoice.get(id=email.invoice_id)
        order_id = invoice.sales_order_id
    if order_id is None:
        return
    details = {"email": email.id, "to": email.to, "subject": email.subject, **(data or {})}
    await OrderEvent.create(sales_order_id=order_id, type=type, actor=actor, data=details)


async def recover_stalled_sends(older_than: timedelta = STALLED_AFTER) -> int:
    """Settle the messages left SENDING by a process that died (a rerun of their job sees
    SENDING and stops, so they would stay SENDING forever). Called periodically by the outbox
    relay; returns how many messages it settled.

    One whose content never started to go out was certainly not delivered: back to QUEUED,
    with a new job. One whose content started may have been taken by the mail server: FAILED,
    outcome unknown, never sent again by itself (SPEC §8); whoever asked for it may resend it.
    Each update is conditional on what was read (and `start_content` on the claim), so that
    of a sweep and a sender -- or several sweeps -- exactly one acts."""
    stalled = await EmailMessage.filter(
        state=EmailState.SENDING, claimed_at__lt=now() - older_than
    ).values_list("id", "claimed_at", "data_started_at")
    settled = 0
    for email_id, claimed_at, data_started_at in stalled:
        if data_started_at is None:
            async with in_transaction():
                requeued = (
                    await held(email_id, claimed_at)
                    .filter(data_started_at__isnull=True)
                    .update(state=EmailState.QUEUED)
                )
                if requeued:
                    await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
            if requeued:
                settled += 1
                logger.warning(
                    "e-mail %s was left SENDING since %s before its content went out: queued again",
                    email_id,
                    claimed_at.isoformat(),
                )
        elif await fail(email_id, claimed_at, OUTCOME_UNKNOWN):
            settled += 1
            logger.warning(
                "e-mail %s was left SENDING since %s while its content went out:"
                " marked FAILED (outcome unknown)",
                email_id,
                claimed_at.isoformat(),
            )
    return settled
