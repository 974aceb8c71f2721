"""Recording e-mail send requests (SPEC §8). Delivery itself belongs to the workers."""

from __future__ import annotations

from gqlorders import jobs
from gqlorders.errors import ErrorCode, FieldPath, Problems
from gqlorders.models import EmailMessage, EmailState, Invoice, SalesOrder
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


async def requeue_waiting() -> int:
    """Enqueue a job again for every QUEUED e-mail: after a restart, in-process retries that
    were waiting in memory are not lost (the e-mail job ignores messages it already sent)."""
    waiting = await EmailMessage.filter(state=EmailState.QUEUED).values_list("id", flat=True)
    for email_id in waiting:
        await jobs.enqueue(jobs.SEND_EMAIL, email_id=email_id)
    return len(waiting)
