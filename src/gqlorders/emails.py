"""Recording e-mail send requests (SPEC §8). Delivery itself belongs to the workers.

A message goes QUEUED -> SENDING (claimed by one job, at `claimed_at`) -> SENT or FAILED; a
transient failure puts it back to QUEUED for a retry. The claim makes a rerun of a job a no-op,
so a message is sent once, with one exception: when the process sending it dies (SIGKILL, lost
machine) between the claim and recording the outcome, nobody can know whether the mail server
took it. `recover_stalled_sends` then sends it again: delivery is at-least-once in that case
(same Message-ID, so a duplicate is recognizable downstream), exactly once otherwise.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.errors import ErrorCode, FieldPath, Problems
from gqlorders.models import EmailMessage, EmailState, Invoice, SalesOrder
from gqlorders.validation import clean_email

logger = logging.getLogger("gqlorders.emails")

MAX_EMAIL_ATTEMPTS = 5
# As jobs.STALE_AFTER: a live sender finishes or gives the message back long before this
# (SMTP times out after 30 s, arq cancels a job after 5 minutes and the job then puts the
# message back to QUEUED itself).
STALLED_AFTER = timedelta(minutes=10)


def clean_recipients(
    problems: Problems, recipients: list[str] | None, field: FieldPath
) -> list[str]:
    cleaned = []
    for index, address in enumerate(recipients or []):
        email = clean_email(problems, address, (*field, index))
        if email is not None:
            cleaned.append(email)
    return cleaned


def default_recipients(
    problems: Problems, given: list[str], customer_email: str | None, field: FieldPath
) -> list[str]:
    """The given recipients, else the customer's e-mail; reports when there is none."""
    if given:
        return given
    if customer_email:
        return [customer_email]
    problems.add(ErrorCode.REQUIRED, field, "the customer has no e-mail address: give recipients")
    return []


async def queue_email(
    organization_id: int,
    to: list[str],
    subject: str,
    body: str = "",
    cc: list[str] | None = None,
    *,
    sales_order: SalesOrder | None = None,
    invoice: Invoice | None = None,
) -> EmailMessage:
    """A QUEUED message; the e-mail job delivers it (with its PDF) once this commits."""
    message = await EmailMessage.create(
        organization_id=organization_id,
        sales_order_id=sales_order.id if sales_order else None,
        invoice_id=invoice.id if invoice else None,
        to=to,
        cc=cc or [],
        subject=subject,
        body=body,
    )
    await jobs.enqueue(jobs.SEND_EMAIL, email_id=message.id)
    return message


async def requeue_waiting() -> int:
    """Enqueue a job again for every QUEUED e-mail: after a restart, in-process retries that
    were waiting in memory are not lost (the e-mail job ignores messages it already sent)."""
    waiting = await EmailMessage.filter(state=EmailState.QUEUED).values_list("id", flat=True)
    for email_id in waiting:
        await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
    return len(waiting)


async def recover_stalled_sends(older_than: timedelta = STALLED_AFTER) -> int:
    """Hand back the messages left SENDING by a process that died mid-send: QUEUED again with
    a new e-mail job (a rerun of their old job would see SENDING and stop). Called
    periodically by the outbox relay; returns how many messages it took.

    The lost attempt counts: after MAX_EMAIL_ATTEMPTS the message ends FAILED rather than
    crash worker after worker. Either way it may already have reached the mail server (the
    sender may have died after delivering it), and the error text says so."""
    cutoff = now() - older_than
    stalled = await EmailMessage.filter(
        state=EmailState.SENDING, claimed_at__lt=cutoff
    ).values_list("id", "attempts")
    recovered = 0
    for email_id, attempts in stalled:
        give_up = attempts + 1 >= MAX_EMAIL_ATTEMPTS
        async with in_transaction():
            # Conditional, so that of two sweeping processes (or a late sender) one wins.
            taken = await EmailMessage.filter(
                id=email_id, state=EmailState.SENDING, claimed_at__lt=cutoff, attempts=attempts
            ).update(
                state=EmailState.FAILED if give_up else EmailState.QUEUED,
                attempts=attempts + 1,
                error=(
                    f"given up after {attempts + 1} attempts: the process sending it stopped"
                    " before the outcome was known (it may have been delivered)"
                    if give_up
                    else "the process sending it stopped before the outcome was known:"
                    " sending again (it may arrive twice)"
                ),
            )
            if taken and not give_up:
                await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
        if taken:
            recovered += 1
            logger.warning(
                "e-mail %s was left SENDING since before %s: %s",
                email_id,
                cutoff.isoformat(),
                "given up" if give_up else "queued again",
            )
    return recovered
