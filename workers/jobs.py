"""Job functions, shared by arq workers and the in-process runner (SPEC §8).

Each takes a context first (arq's ctx: it carries `settings`) and is idempotent: a job may run
twice. Transient failures raise `RetryLater`; anything else is recorded where the API shows it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage as MailMessage
from pathlib import Path
from typing import Any

from aiosmtplib import SMTPRecipientRefused
from tortoise.exceptions import OperationalError
from tortoise.timezone import now

from gqlorders import documents, emails, jobs
from gqlorders.config import Settings
from gqlorders.marketplaces.importing import import_inbox_message
from gqlorders.models import Document, DocumentState, EmailMessage, EmailState
from gqlorders.stock.levels import recalculate_committed
from workers.mail import (
    ClaimLostError,
    Delivery,
    OutcomeUnknownError,
    TransientMailError,
    build_message,
)
from workers.pdf import layout_digest, render_pdf_file
from workers.webhooks import deliver_webhooks

logger = logging.getLogger("gqlorders.workers")

# The e-mail job renders its PDF (a few seconds at most in practice) before claiming the
# message; past this, it stops waiting and leaves the send to a new run (the render finishes
# its file meanwhile), so that the whole job stays within its arq timeout
# (arq_worker.SEND_EMAIL_TIMEOUT) and never is cut short holding a claim.
RENDER_ALLOWANCE = timedelta(seconds=30)


async def recalc_stock(ctx: dict[str, Any], organization_id: int, item_ids: list[int]) -> None:
    """Recompute committed stock of the items a change touched (set-based, idempotent)."""
    try:
        await recalculate_committed(item_ids, organization_id)
    except OperationalError as error:  # deadlock, busy database: the job is safe to run again
        raise jobs.RetryLater(1, str(error)) from error


async def document_hash(kind: str, record_id: int) -> str:
    """The hash of what the record's PDF would show now: its data, in this code's layout."""
    return documents.content_hash(await documents.document_data(kind, record_id), layout_digest())


async def ensure_pdf(settings: Settings, kind: str, record_id: int) -> Path:
    """The PDF of the record as it is now: rendered unless a file for this content exists."""
    data = await documents.document_data(kind, record_id)
    digest = documents.content_hash(data, layout_digest())
    owner = documents.document_owner(kind, record_id)
    document = await Document.filter(**owner).first()
    organization_id = (
        document.organization_id
        if document
        else await documents.record_organization(kind, record_id)
    )
    path = settings.data_dir / "documents" / str(organization_id) / f"{digest}.pdf"
    if not path.exists():
        await render_pdf_file(data, path)
    # Only mark READY if the record did not change while rendering (a newer job follows).
    if await document_hash(kind, record_id) == digest:
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
    """Deliver one queued e-mail with its PDF. The PDF is rendered first, the message still
    QUEUED: a process dying there loses nothing, the job's rerun sends it. Then the QUEUED ->
    SENDING claim makes a rerun of the job a no-op instead of a second e-mail, and the moment
    its content starts to go out is recorded (`emails.start_content`), so that the sweep of a
    dead sender's claim knows whether it may have been delivered.

    Only a failure before the content went out is retried: from then on the mail server may
    have it, and without its answer the message ends FAILED, outcome unknown (SPEC §8: a
    retried job never sends the same e-mail twice). Every outcome is written only while the
    message still holds this claim, so a sender that outlived it (taken for dead by the sweep)
    never overwrites what came after -- except to correct FAILED, outcome unknown, to SENT."""
    settings: Settings = ctx["settings"]
    email = await EmailMessage.get_or_none(id=email_id, state=EmailState.QUEUED)
    if email is None:  # sent, failed, or held by another job
        return
    allowance = RENDER_ALLOWANCE.total_seconds()
    rendering = asyncio.timeout(allowance)
    try:
        async with rendering:
            message = await _message(settings, email)
    except Exception as error:
        if rendering.expired():
            # No time left for the send within the job's timeout: the rerun finds the PDF.
            raise jobs.RetryLater(allowance, f"rendering took over {allowance:g} s") from error
        logger.exception("e-mail %s: its PDF failed", email_id)
        await emails.fail(email_id, None, f"{type(error).__name__}: {error}")
        return
    claimed_at = await emails.claim(email_id)
    if claimed_at is None:
        return
    ours = emails.held(email_id, claimed_at)
    delivery = Delivery(
        settings.smtp_url,
        settings.data_dir / "outbox",
        content_starting=lambda: emails.start_content(email_id, claimed_at),
    )
    try:
        refused = await _send_within_deadline(delivery, message, message_key(email))
    except asyncio.CancelledError:
        # The worker is stopping mid-send: a message none of whose content went out is given
        # back for the job's rerun; one the server may have is not sent again. A server's
        # answer that took the message but raced this cancellation counts as unknown too
        # (conservative: `data_started` is all that is known here).
        if delivery.data_started:
            await emails.fail(email_id, claimed_at, emails.OUTCOME_UNKNOWN)
        else:
            await ours.update(
                state=EmailState.QUEUED, error="interrupted while sending; will be retried"
            )
        raise
    except ClaimLostError:
        logger.warning("e-mail %s: given back while connecting, not sent from here", email_id)
        return
    except TransientMailError as error:
        attempts = email.attempts + 1
        reason = str(error)
        if attempts >= emails.MAX_EMAIL_ATTEMPTS:
            if not await emails.fail(email_id, claimed_at, reason):
                _outcome_lost(email_id, reason)
            return
        if not await ours.update(state=EmailState.QUEUED, error=reason[:1000]):
            _outcome_lost(email_id, reason)
            return
        raise jobs.RetryLater(5 * attempts, reason) from error
    except OutcomeUnknownError as error:
        logger.warning("e-mail %s: outcome unknown, not sent again: %s", email_id, error)
        if not await emails.fail(email_id, claimed_at, emails.OUTCOME_UNKNOWN):
            _outcome_lost(email_id, emails.OUTCOME_UNKNOWN)
        return
    except Exception as error:
        logger.exception("e-mail %s failed", email_id)
        reason = f"{type(error).__name__}: {error}"
        if not await emails.fail(email_id, claimed_at, reason):
            _outcome_lost(email_id, reason)
        return
    # Taken by the mail server (by some recipients, if it refused others: SPEC §8 records
    # those in the error): recorded even if the job is cancelled meanwhile, the write awaited
    # before the cancellation goes on (the server may be closing the database next).
    not_delivered = "; ".join(
        f"not delivered to {refusal.recipient}: {refusal.code} {refusal.message}"
        for refusal in refused
    )
    recording = asyncio.ensure_future(_record_sent(email_id, claimed_at, not_delivered or None))
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
    deadline = asyncio.timeout(emails.SEND_DEADLINE.total_seconds())
    try:
        async with deadline:
            return await delivery.send(message, key)
    except TimeoutError as error:
        if not deadline.expired():
            raise
        seconds = emails.SEND_DEADLINE.total_seconds()
        if delivery.data_started:
            raise OutcomeUnknownError(
                f"no answer to the message within {seconds:g} s: attempt given up"
            ) from error
        raise TransientMailError(
            f"sending took longer than {seconds:g} s: attempt given up"
        ) from error


def message_key(email: EmailMessage) -> str:
    """The message's key, in its Message-ID and its .eml file's name: the row's id and creation
    time, unique across databases too (DATA_DIR outlives a database dropped or restored, and
    another database's e-mail of the same id must not pass for this one)."""
    return f"email-{email.id}.{email.created_at:%Y%m%d%H%M%S%f}"


async def _message(settings: Settings, email: EmailMessage) -> MailMessage:
    """The message to send, with the PDF of its order or invoice (rendered or reused)."""
    if email.invoice_id is not None:
        kind, record_id = documents.INVOICE, email.invoice_id
    elif email.sales_order_id is not None:
        kind, record_id = documents.SALES_ORDER, email.sales_order_id
    else:
        raise ValueError(f"e-mail {email.id} belongs to no order or invoice")
    pdf = await ensure_pdf(settings, kind, record_id)
    number = (await documents.document_data(kind, record_id))["number"]
    return build_message(
        sender=settings.smtp_from,
        to=list(email.to),
        cc=list(email.cc),
        subject=email.subject,
        body=email.body or f"Please find {number} attached.",
        message_key=message_key(email),
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
        id=email_id, state=EmailState.FAILED, error=emails.OUTCOME_UNKNOWN, claimed_at=claimed_at
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
