"""Job functions, shared by arq workers and the in-process runner (SPEC §8).

Each takes a context first (arq's ctx: it carries `settings`) and is idempotent: a job may run
twice. Transient failures raise `RetryLater`; anything else is recorded where the API shows it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from email.message import EmailMessage as MailMessage
from pathlib import Path
from typing import Any

from aiosmtplib import SMTPRecipientRefused
from tortoise.exceptions import OperationalError
from tortoise.expressions import F
from tortoise.timezone import now

from gqlorders import documents, jobs
from gqlorders.config import Settings
from gqlorders.emails import MAX_EMAIL_ATTEMPTS, OUTCOME_UNKNOWN, SEND_DEADLINE
from gqlorders.marketplace_import import import_inbox_message
from gqlorders.models import Document, DocumentState, EmailMessage, EmailState
from gqlorders.stock.levels import recalculate_committed
from workers.mail import Delivery, OutcomeUnknownError, TransientMailError, build_message
from workers.pdf import render_pdf as render_pdf_bytes
from workers.webhooks import deliver_webhooks

logger = logging.getLogger("gqlorders.workers")


async def recalc_stock(ctx: dict[str, Any], organization_id: int, item_ids: list[int]) -> None:
    """Recompute committed stock of the items a change touched (set-based, idempotent)."""
    try:
        await recalculate_committed(item_ids, organization_id)
    except OperationalError as error:  # deadlock, busy database: the job is safe to run again
        raise jobs.RetryLater(1, str(error)) from error


async def ensure_pdf(settings: Settings, kind: str, record_id: int) -> Path:
    """The PDF of the record as it is now: rendered unless a file for this content exists."""
    data = await documents.document_data(kind, record_id)
    digest = documents.content_hash(data)
    owner = documents.document_owner(kind, record_id)
    document = await Document.filter(**owner).first()
    organization_id = (
        document.organization_id  # type: ignore[union-attr]
        if document
        else await documents.record_organization(kind, record_id)
    )
    path = settings.data_dir / "documents" / str(organization_id) / f"{digest}.pdf"
    if not path.exists():
        pdf = await render_pdf_bytes(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(pdf)
        partial.replace(path)  # atomic: a reader never sees half a file
    # Only mark READY if the record did not change while rendering (a newer job follows).
    if documents.content_hash(await documents.document_data(kind, record_id)) == digest:
        await Document.filter(**owner).update(
            state=DocumentState.READY, content_hash=digest, path=str(path), error=None
        )
    return path


async def render_pdf(ctx: dict[str, Any], kind: str, record_id: int) -> None:
    try:
        await ensure_pdf(ctx["settings"], kind, record_id)
    except Exception as error:
        logger.exception("rendering %s %s failed", kind, record_id)
        await Document.filter(**documents.document_owner(kind, record_id)).update(
            state=DocumentState.FAILED, error=f"{type(error).__name__}: {error}"[:1000]
        )


async def send_email(ctx: dict[str, Any], email_id: int) -> None:
    """Deliver one queued e-mail with its PDF. The QUEUED -> SENDING claim makes a rerun of
    the job (arq re-runs jobs of a dead worker) a no-op instead of a second e-mail; its time
    lets `emails.fail_stalled_sends` tell a message whose sender died mid-send.

    Only a failure before the message's content went out is retried: from then on the mail
    server may have it, and without its answer the message ends FAILED, outcome unknown
    (SPEC §8: a retried job never sends the same e-mail twice). Every outcome is written only
    while the message still holds this claim, so a sender that outlived it (marked FAILED by
    the sweep) never overwrites what came after -- except to correct that mark to SENT."""
    settings: Settings = ctx["settings"]
    claimed_at = now()
    claimed = await EmailMessage.filter(id=email_id, state=EmailState.QUEUED).update(
        state=EmailState.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        return
    ours = EmailMessage.filter(id=email_id, state=EmailState.SENDING, claimed_at=claimed_at)
    delivery = Delivery(settings.smtp_url, settings.data_dir / "outbox")
    try:
        email = await EmailMessage.get(id=email_id)
        message = await _message(settings, email)  # the PDF renders before the deadline runs
        # The render has no time limit: if it outlasted STALLED_AFTER, the sweep took this
        # claim for a dead sender's (FAILED, outcome unknown) and nothing must go out now.
        # Else the claim is renewed, so that the send has all of STALLED_AFTER from here.
        renewed_at = now()
        if not await ours.update(claimed_at=renewed_at):
            logger.error("e-mail %s: claim lost while rendering its PDF, not sent", email_id)
            return
        claimed_at = renewed_at
        ours = EmailMessage.filter(id=email_id, state=EmailState.SENDING, claimed_at=claimed_at)
        refused = await _send_within_deadline(delivery, message, f"email-{email.id}")
    except asyncio.CancelledError:
        # The worker is stopping mid-send: a message none of whose content went out is given
        # back for the job's rerun; one the server may have is not sent again. A server's
        # answer that took the message but raced this cancellation counts as unknown too
        # (conservative: `data_started` is all that is known here).
        if delivery.data_started:
            await ours.update(state=EmailState.FAILED, error=OUTCOME_UNKNOWN)
        else:
            await ours.update(
                state=EmailState.QUEUED, error="interrupted while sending; will be retried"
            )
        raise
    except TransientMailError as error:
        retry = email.attempts < MAX_EMAIL_ATTEMPTS
        reason = str(error)
        recorded = await ours.update(
            state=EmailState.QUEUED if retry else EmailState.FAILED, error=reason[:1000]
        )
        if not recorded:
            _outcome_lost(email_id, reason)
        elif retry:
            raise jobs.RetryLater(5 * email.attempts, reason) from error
        return
    except OutcomeUnknownError as error:
        logger.warning("e-mail %s: outcome unknown, not sent again: %s", email_id, error)
        if not await ours.update(state=EmailState.FAILED, error=OUTCOME_UNKNOWN):
            _outcome_lost(email_id, OUTCOME_UNKNOWN)
        return
    except Exception as error:
        logger.exception("e-mail %s failed", email_id)
        reason = f"{type(error).__name__}: {error}"
        if not await ours.update(state=EmailState.FAILED, error=reason[:1000]):
            _outcome_lost(email_id, reason)
        return
    # Taken by the mail server (by some recipients, if it refused others: SPEC §8 records
    # those in the error): recorded even if the job is cancelled meanwhile, the write awaited
    # before the cancellation goes on (the server may be closing the database next).
    error = "; ".join(
        f"not delivered to {refusal.recipient}: {refusal.code} {refusal.message}"
        for refusal in refused
    )
    recording = asyncio.ensure_future(_record_sent(email_id, claimed_at, error or None))
    try:
        await asyncio.shield(recording)
    except asyncio.CancelledError:
        delivery.close()
        await recording
        raise
    except BaseException:
        delivery.close()
        raise
    await delivery.finish()  # outside the deadline: the outcome is known already


async def _send_within_deadline(
    delivery: Delivery, message: MailMessage, key: str
) -> list[SMTPRecipientRefused]:
    """`delivery.send`, given up after SEND_DEADLINE: aiosmtplib's timeout bounds each SMTP
    command, not the whole send, and a live sender must record an outcome long before
    `emails.STALLED_AFTER` takes its message for one that died."""
    deadline = asyncio.timeout(SEND_DEADLINE.total_seconds())
    try:
        async with deadline:
            return await delivery.send(message, key)
    except TimeoutError as error:
        if not deadline.expired():
            raise
        seconds = SEND_DEADLINE.total_seconds()
        if delivery.data_started:
            raise OutcomeUnknownError(
                f"no answer to the message within {seconds:g} s: attempt given up"
            ) from error
        raise TransientMailError(
            f"sending took longer than {seconds:g} s: attempt given up"
        ) from error


async def _message(settings: Settings, email: EmailMessage) -> MailMessage:
    """The message to send, with the PDF of its order or invoice (rendered or reused)."""
    if email.invoice_id is not None:  # type: ignore[attr-defined]
        kind, record_id = documents.INVOICE, email.invoice_id  # type: ignore[attr-defined]
    else:
        kind, record_id = documents.SALES_ORDER, email.sales_order_id  # type: ignore[attr-defined]
    pdf = await ensure_pdf(settings, kind, record_id)
    number = (await documents.document_data(kind, record_id))["number"]
    return build_message(
        sender=settings.smtp_from,
        to=list(email.to),
        cc=list(email.cc),
        subject=email.subject,
        body=email.body or f"Please find {number} attached.",
        message_key=f"email-{email.id}",
        attachment=(f"{number}.pdf", pdf.read_bytes()),
    )


async def _record_sent(email_id: int, claimed_at: datetime, error: str | None) -> None:
    sent = {"state": EmailState.SENT, "error": error[:1000] if error else None, "sent_at": now()}
    if await EmailMessage.filter(
        id=email_id, state=EmailState.SENDING, claimed_at=claimed_at
    ).update(**sent):
        return
    # The sweep took this claim for a dead sender's and marked the message FAILED, outcome
    # unknown: now the outcome is known.
    if await EmailMessage.filter(
        id=email_id, state=EmailState.FAILED, error=OUTCOME_UNKNOWN, claimed_at=claimed_at
    ).update(**sent):
        logger.warning("e-mail %s: sent after all, FAILED (outcome unknown) corrected", email_id)
        return
    _outcome_lost(email_id, "sent")


def _outcome_lost(email_id: int, outcome: str) -> None:
    logger.error(
        "e-mail %s: outcome %r not recorded, the message no longer holds this job's claim",
        email_id,
        outcome,
    )


async def import_inbox(ctx: dict[str, Any], inbox_id: int) -> None:
    """Import a stored webhook delivery (idempotent: an imported message is left alone)."""
    await import_inbox_message(inbox_id)


FUNCTIONS: dict[str, jobs.JobFunction] = {
    jobs.DELIVER_WEBHOOKS: deliver_webhooks,
    jobs.IMPORT_INBOX: import_inbox,
    jobs.RECALC_STOCK: recalc_stock,
    jobs.RENDER_PDF: render_pdf,
    jobs.SEND_EMAIL: send_email,
}
