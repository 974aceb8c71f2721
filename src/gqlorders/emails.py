"""Recording e-mail send requests (SPEC §8). Delivery itself belongs to the workers.

A message goes QUEUED -> SENDING (claimed by one job, at `claimed_at`) -> SENT or FAILED; a
failure before the mail server had any of its content puts it back to QUEUED for a retry. The
claim makes a rerun of a job a no-op (SPEC §8: a retried job never sends the same e-mail
twice). When a send stops once its content was on its way (the server's answer never came,
the connection broke, the job was cancelled) or its process dies between the claim and
recording the outcome (SIGKILL, lost machine), nobody can know whether the mail server took
it: the message ends FAILED with OUTCOME_UNKNOWN instead of being sent again, and whoever
asked for it may send it again.
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
# The e-mail job gives up on one attempt once its SMTP exchange has taken this long (SMTP's
# own timeout bounds each command, not the whole send): as on a transient failure before the
# message's content went out, with OUTCOME_UNKNOWN after.
SEND_DEADLINE = timedelta(minutes=2)
# A live sender records its outcome within SEND_DEADLINE, so a message still SENDING this
# long after its claim was left by a process that died mid-send.
STALLED_AFTER = timedelta(minutes=10)
OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered;"
    " send it again if needed"
)


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
    """Enqueue a job for every QUEUED e-mail that has none left to run: e.g. a message whose
    job failed for good before claiming it (the database refused the claim). Called by each
    server process at startup; returns how many jobs it wrote.

    A job not done yet (waiting in the outbox, queued in Redis, cancelled -- arq runs it
    again, the in-process runner puts it back in the outbox -- or held by a process that
    died: `jobs.reclaim_stale` hands that one out again) still delivers its message, so the
    message gets no second one. The QUEUED rows stay locked until the new jobs are committed:
    of several processes starting at once, the first enqueues and the others then see its
    jobs. (SQLite, where FOR UPDATE does not exist, is served by one process.)"""
    async with in_transaction():
        waiting = (
            await EmailMessage.filter(state=EmailState.QUEUED).order_by("id").select_for_update()
        )
        if not waiting:
            return 0
        waiting_ids = [message.id for message in waiting]
        has_job = await jobs.pending_payload_values(jobs.SEND_EMAIL, "email_id", waiting_ids)
        without_job = [email_id for email_id in waiting_ids if email_id not in has_job]
        for email_id in without_job:
            await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
    return len(without_job)


async def fail_stalled_sends(older_than: timedelta = STALLED_AFTER) -> int:
    """Mark FAILED the messages left SENDING by a process that died mid-send (a rerun of
    their job sees SENDING and stops, so they would stay SENDING forever). Called
    periodically by the outbox relay; returns how many messages it marked.

    Such a message is never sent again automatically: the mail server may have taken it
    before the process died (SPEC §8: a retried job never sends the same e-mail twice). Its
    error says so, and whoever asked for it decides whether to send it again."""
    cutoff = now() - older_than
    stalled = await EmailMessage.filter(
        state=EmailState.SENDING, claimed_at__lt=cutoff
    ).values_list("id", "claimed_at")
    failed = 0
    for email_id, claimed_at in stalled:
        # Conditional on the claim seen, so that of several processes sweeping at once (or a
        # sender finishing just now) exactly one acts.
        if await EmailMessage.filter(
            id=email_id, state=EmailState.SENDING, claimed_at=claimed_at
        ).update(state=EmailState.FAILED, error=OUTCOME_UNKNOWN):
            failed += 1
            logger.warning(
                "e-mail %s was left SENDING since %s: marked FAILED (outcome unknown)",
                email_id,
                claimed_at.isoformat(),
            )
    return failed
