"""Asking for e-mails: who gets them, queueing them, and sending one again on purpose."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.emails.sending import record_email_event
from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.models import EmailMessage, EmailState, Invoice, OrderEventType, SalesOrder
from gqlorders.rows import column
from gqlorders.tenancy import Principal
from gqlorders.validation import clean_email


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


async def resend_email(principal: Principal, email_id: int) -> EmailMessage:
    """Send a FAILED message again, as the same message (same Message-ID: a mail client that
    gets it twice shows it once). Refused (INVALID_STATUS) for a message not FAILED: one QUEUED
    is on its way, one SENT was delivered (send the order or invoice again for a new one).

    One conditional update: of two desks resending at once, one queues it."""
    async with in_transaction():
        email = await EmailMessage.get_or_none(
            id=email_id, organization_id=principal.organization_id
        )
        if email is None:
            raise DomainError.one(ErrorCode.NOT_FOUND, ("id",), "no such e-mail")
        requeued = await EmailMessage.filter(id=email_id, state=EmailState.FAILED).update(
            state=EmailState.QUEUED, error=None, attempts=0
        )
        if not requeued:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS,
                ("id",),
                "only a FAILED e-mail can be sent again; "
                f"this one is {EmailState(email.state).shown()}",
            )
        await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
        await record_email_event(email, OrderEventType.EMAIL_RESENT, principal.actor)
        await email.refresh_from_db()
    return email


async def requeue_waiting() -> int:
    """Enqueue a job for every QUEUED e-mail that has none left to run: e.g. a message whose
    job failed for good before claiming it (the database refused the claim, or its render
    outlasted every try). Called by each server process at startup and every few minutes by
    the outbox relay; returns how many jobs it wrote.

    A job not done yet (waiting in the outbox, queued in Redis, cancelled -- arq runs it
    again, the in-process runner puts it back in the outbox -- or held by a process that
    died: `jobs.reclaim_stale` hands that one out again) still delivers its message, so the
    message gets no second one. Only when a first look, without locks, finds a message
    without a job are the QUEUED rows locked, and they stay locked until the new jobs are
    committed: of several processes at once, the first enqueues and the others then see its
    jobs. (SQLite, where FOR UPDATE does not exist, is served by one process.)"""
    queued = await column(EmailMessage.filter(state=EmailState.QUEUED), "id")
    if not await _without_job(list(queued)):  # the usual case: no lock taken
        return 0
    async with in_transaction():
        waiting = (
            await EmailMessage.filter(state=EmailState.QUEUED).order_by("id").select_for_update()
        )
        without_job = await _without_job([message.id for message in waiting])
        for email_id in without_job:
            await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
    return len(without_job)


async def _without_job(email_ids: list[int]) -> list[int]:
    """Of `email_ids`, those no e-mail job not done yet is to send."""
    if not email_ids:
        return []
    has_job = await jobs.pending_payload_values(jobs.SEND_EMAIL, "email_id", email_ids)
    return [email_id for email_id in email_ids if email_id not in has_job]
