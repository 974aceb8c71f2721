"""Job functions, shared by arq workers and the in-process runner (SPEC §8).

Each takes a context first (arq's ctx: it carries `settings`) and is idempotent: a job may run
twice. Transient failures raise `RetryLater`; anything else is recorded where the API shows it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from tortoise.exceptions import OperationalError
from tortoise.timezone import now

from gqlorders import documents, jobs
from gqlorders.config import Settings
from gqlorders.emails import MAX_EMAIL_ATTEMPTS
from gqlorders.marketplace_import import import_inbox_message
from gqlorders.models import Document, DocumentState, EmailMessage, EmailState
from gqlorders.stock.levels import recalculate_committed
from workers.mail import TransientMailError, build_message, deliver
from workers.pdf import render_pdf as render_pdf_bytes

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
    lets `emails.recover_stalled_sends` hand back a message whose sender died mid-send."""
    settings: Settings = ctx["settings"]
    claimed = await EmailMessage.filter(id=email_id, state=EmailState.QUEUED).update(
        state=EmailState.SENDING, claimed_at=now()
    )
    if not claimed:
        return
    email = await EmailMessage.get(id=email_id)
    email.attempts += 1
    try:
        if email.invoice_id is not None:  # type: ignore[attr-defined]
            kind, record_id = documents.INVOICE, email.invoice_id  # type: ignore[attr-defined]
        else:
            kind, record_id = documents.SALES_ORDER, email.sales_order_id  # type: ignore[attr-defined]
        pdf = await ensure_pdf(settings, kind, record_id)
        number = (await documents.document_data(kind, record_id))["number"]
        message = build_message(
            sender=settings.smtp_from,
            to=list(email.to),
            cc=list(email.cc),
            subject=email.subject,
            body=email.body or f"Please find {number} attached.",
            message_key=f"email-{email.id}",
            attachment=(f"{number}.pdf", pdf.read_bytes()),
        )
        await deliver(message, settings.smtp_url, settings.data_dir / "outbox", f"email-{email.id}")
    except asyncio.CancelledError:
        # The worker is stopping mid-delivery: give the message back rather than strand it in
        # SENDING (at worst, a message the server had fully received goes out again).
        await EmailMessage.filter(id=email.id).update(
            state=EmailState.QUEUED, error="interrupted while sending; will be retried"
        )
        raise
    except TransientMailError as error:
        retry = email.attempts < MAX_EMAIL_ATTEMPTS
        email.state = EmailState.QUEUED if retry else EmailState.FAILED
        email.error = str(error)[:1000]
        await email.save(update_fields=["state", "error", "attempts"])
        if retry:
            raise jobs.RetryLater(5 * email.attempts, str(error)) from error
        return
    except Exception as error:
        logger.exception("e-mail %s failed", email_id)
        email.state = EmailState.FAILED
        email.error = f"{type(error).__name__}: {error}"[:1000]
        await email.save(update_fields=["state", "error", "attempts"])
        return
    email.state = EmailState.SENT
    email.error = None
    email.sent_at = now()
    await email.save(update_fields=["state", "error", "attempts", "sent_at"])


async def import_inbox(ctx: dict[str, Any], inbox_id: int) -> None:
    """Import a stored webhook delivery (idempotent: an imported message is left alone)."""
    await import_inbox_message(inbox_id)


FUNCTIONS: dict[str, jobs.JobFunction] = {
    jobs.IMPORT_INBOX: import_inbox,
    jobs.RECALC_STOCK: recalc_stock,
    jobs.RENDER_PDF: render_pdf,
    jobs.SEND_EMAIL: send_email,
}
