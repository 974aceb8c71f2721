"""SPEC §8 without REDIS_URL: the job functions run in the API process. PDFs render in the
background and download with the organization's token; e-mails go out through SMTP (a real
aiosmtpd server here) with the PDF attached, exactly once, and survive a mail server outage."""

from __future__ import annotations

import asyncio
import email
import os
import threading
from dataclasses import replace
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest

import gqlorders.emails
import workers.pdf
from gqlorders import documents, jobs
from gqlorders.config import Settings
from gqlorders.emails import MAX_EMAIL_ATTEMPTS
from gqlorders.models import Document, EmailMessage, Invoice, InvoiceStatus
from tests.fulfilment.documents import MERGE_ORDERS
from tests.support import Organization, key
from tests.workers.support import (
    CONFIRM_ORDER,
    CREATE_INVOICE,
    CREATE_ORDER,
    INVOICE,
    ORDER,
    RENDER_PDF,
    SEND_ORDER,
    UPDATE_ORDER,
    VOID_INVOICE,
    VOID_ORDER,
    HeldEmails,
    Mailbox,
    attachments,
    bearer,
    desk_order,
    drain,
    eml_file,
    free_port,
    holding_smtp_server,
    pdf_text,
    set_within,
    silent_smtp_server,
    slow_smtp_server,
)
from workers.jobs import send_email
from workers.pdf import layout_digest

PENDING = {"state": "PENDING", "url": None, "error": None}
NOT_REQUESTED = {"state": "NOT_REQUESTED", "url": None, "error": None}
OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered; "
    "send it again if needed"
)


async def _pdf_state(org: Organization, order_id: str) -> dict:
    return (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]["pdf"]


async def _emails(org: Organization, order_id: str) -> list[dict]:
    return (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]["emails"]


# --- PDF documents -------------------------------------------------------------------------


async def test_pdf_renders_in_the_background_and_downloads_with_the_token(
    http: httpx.AsyncClient, org: Organization, other_org: Organization
) -> None:
    # Given a draft order of 1234.50 for Acme Furniture
    order = await desk_order(org)

    # When its PDF is asked for
    payload = await org.api.ok(RENDER_PDF, {"id": order["id"]})

    # Then the answer comes at once with a PENDING document, READY once the job has run
    assert payload["salesOrder"]["pdf"] == PENDING
    await drain()
    url = f"/documents/sales-orders/{order['id']}.pdf"
    assert await _pdf_state(org, order["id"]) == {"state": "READY", "url": url, "error": None}

    # And the organization's token downloads it: number, customer and total are in it
    response = await http.get(url, headers=bearer(org))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "SO-00001" in text
    assert "Acme Furniture" in text
    assert "1234.50" in text

    # And nobody else does: no token is 401, another organization's token 404
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await http.get(url, headers=bearer(other_org))).status_code == 404
    wrong_kind = f"/documents/invoices/{order['id']}.pdf"
    assert (await http.get(wrong_kind, headers=bearer(org))).status_code == 404


async def test_a_gross_orders_pdf_shows_the_tax_its_prices_contain(
    http: httpx.AsyncClient, org: Organization
) -> None:
    # Given an INCLUSIVE order: 3 desks at 411.50 with 20 % VAT inside (1234.50 / 6 = 205.75)
    vat = await org.tax("VAT 20%", "20")
    customer = await org.customer(name="Acme Furniture")
    desk = await org.item("DESK", "411.50", taxId=vat)
    input = {"customerId": customer, "lines": [{"itemId": desk, "quantity": "3"}]}
    order = (await org.api.ok(CREATE_ORDER, {**input, "taxMode": "INCLUSIVE"}))["salesOrder"]

    # When its PDF is rendered
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    response = await http.get(f"/documents/sales-orders/{order['id']}.pdf", headers=bearer(org))

    # Then it says so, and shows the VAT inside the total and the amount without it
    text = pdf_text(response.content)
    assert "Prices include tax." in text
    assert "Total incl. tax (EUR) 1234.50" in text
    assert "of which VAT 20% 205.75" in text
    assert "without tax 1028.75" in text  # (the text layer kerns "T otal")


async def test_a_pdf_never_asked_for_is_not_downloadable(
    http: httpx.AsyncClient, org: Organization
) -> None:
    order = await desk_order(org)

    assert await _pdf_state(org, order["id"]) == NOT_REQUESTED
    response = await http.get(f"/documents/sales-orders/{order['id']}.pdf", headers=bearer(org))
    assert response.status_code == 404


async def test_a_pdf_being_rendered_answers_503_with_retry_after(
    http: httpx.AsyncClient,
    org: Organization,
    other_org: Organization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an order whose PDF was asked for, its rendering held until the test lets it go
    rendering = threading.Event()
    render = workers.pdf.write_pdf

    def held(data: dict, path: Path) -> None:
        assert rendering.wait(20), "never let go"
        render(data, path)

    monkeypatch.setattr(workers.pdf, "write_pdf", held)
    try:
        await _downloads_while_rendering(http, org, other_org, rendering)
    finally:
        rendering.set()  # (a failed assertion leaves no render thread held)


async def _downloads_while_rendering(
    http: httpx.AsyncClient, org: Organization, other_org: Organization, rendering: threading.Event
) -> None:
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    url = f"/documents/sales-orders/{order['id']}.pdf"

    # When it is downloaded meanwhile, the client is told to come back, not that there is none
    response = await http.get(url, headers=bearer(org))
    assert (response.status_code, response.json()) == (
        503,
        {"error": "being rendered: try again shortly", "state": "PENDING"},
    )
    assert (response.headers["retry-after"], response.headers["cache-control"]) == ("2", "no-store")
    # (and another organization still learns nothing: 404)
    response = await http.get(url, headers=bearer(other_org))
    assert (response.status_code, response.headers["cache-control"]) == (404, "no-store")

    # Then once rendered, the same URL gives the PDF
    rendering.set()
    await drain()
    response = await http.get(url, headers=bearer(org))
    assert (response.status_code, response.headers["content-type"]) == (200, "application/pdf")
    assert response.headers["cache-control"] == "private, no-cache"


async def test_a_pdf_whose_rendering_failed_answers_404_saying_why(
    http: httpx.AsyncClient, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an order whose PDF's rendering fails
    def broken(data: dict, path: Path) -> None:
        raise RuntimeError("the template is broken")

    monkeypatch.setattr(workers.pdf, "write_pdf", broken)
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    assert (await _pdf_state(org, order["id"]))["state"] == "FAILED"

    # When it is downloaded, the answer is a 404 that says why, as the API's pdf.error does
    response = await http.get(f"/documents/sales-orders/{order['id']}.pdf", headers=bearer(org))
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not found: rendering failed: RuntimeError: the template is broken"},
    )


async def test_a_pdf_reports_not_requested_until_asked_for_then_pending(
    org: Organization,
) -> None:
    # Given a confirmed order and an invoice saved as a draft: nobody asked for either PDF
    order = await desk_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    invoice = (await org.api.ok(CREATE_INVOICE, {"salesOrderId": order["id"]}))["invoice"]

    # Then both report NOT_REQUESTED (nothing is rendering), not PENDING
    assert await _pdf_state(org, order["id"]) == NOT_REQUESTED
    assert invoice["pdf"] == NOT_REQUESTED
    assert (await org.api.data(INVOICE, {"id": invoice["id"]}))["invoice"]["pdf"] == NOT_REQUESTED

    # When the order's PDF is asked for, it is PENDING until the job has run
    payload = await org.api.ok(RENDER_PDF, {"id": order["id"]})
    assert payload["salesOrder"]["pdf"] == PENDING
    await drain()
    assert (await _pdf_state(org, order["id"]))["state"] == "READY"


async def test_a_change_renders_a_new_pdf(http: httpx.AsyncClient, org: Organization) -> None:
    # Given an order whose PDF is ready
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    first = await Document.get(sales_order_id=key(order["id"]))
    url = f"/documents/sales-orders/{order['id']}.pdf"
    assert "Deliver to the loading dock" not in pdf_text(
        (await http.get(url, headers=bearer(org))).content
    )

    # When the order changes
    payload = await org.api.ok(
        UPDATE_ORDER, {"id": order["id"], "notes": "Deliver to the loading dock"}
    )

    # Then its PDF is PENDING again, then READY as a new file that shows the change
    assert payload["salesOrder"]["pdf"] == PENDING
    await drain()
    assert (await _pdf_state(org, order["id"]))["state"] == "READY"
    second = await Document.get(sales_order_id=key(order["id"]))
    assert second.content_hash != first.content_hash
    assert second.path != first.path
    response = await http.get(url, headers=bearer(org))
    assert response.status_code == 200
    assert "Deliver to the loading dock" in pdf_text(response.content)


async def test_an_unchanged_order_is_not_rendered_again(org: Organization) -> None:
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    first = await Document.get(sales_order_id=key(order["id"]))
    assert first.path is not None
    written = (os.stat(first.path).st_mtime_ns, first.path)

    payload = await org.api.ok(RENDER_PDF, {"id": order["id"]})
    assert payload["salesOrder"]["pdf"] == PENDING
    await drain()

    second = await Document.get(sales_order_id=key(order["id"]))
    assert second.state == "READY"
    assert second.path is not None
    assert (os.stat(second.path).st_mtime_ns, second.path) == written


# --- E-mail --------------------------------------------------------------------------------


async def test_sending_an_order_mails_the_customer_the_pdf(
    http: httpx.AsyncClient,
    org: Organization,
    mailing: jobs.InProcessRunner,
    mailbox: Mailbox,
    settings: Settings,
) -> None:
    # Given a draft order for Acme Furniture
    order = await desk_order(org)

    # When it is sent
    payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})

    # Then the e-mail is recorded QUEUED at once (and sending confirmed the draft)
    sent = payload["salesOrder"]
    assert sent["status"] == "CONFIRMED"
    [queued] = sent["emails"]
    assert queued["to"] == ["buyer@acme.example"]
    assert queued["subject"] == "Sales order SO-00001"
    assert (queued["state"], queued["error"], queued["sentAt"]) == ("QUEUED", None, None)

    # And once the job has run, exactly one e-mail went out, with the order's PDF attached
    await drain()
    [message] = mailbox.messages
    assert message["To"] == "buyer@acme.example"
    assert message["From"] == settings.smtp_from
    assert message["Subject"] == "Sales order SO-00001"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Please find SO-00001 attached."
    [(filename, content_type, content)] = attachments(message)
    assert (filename, content_type) == ("SO-00001.pdf", "application/pdf")
    text = pdf_text(content)
    assert "SO-00001" in text
    assert "Acme Furniture" in text
    assert "1234.50" in text

    # And the message is SENT, with the time it went out
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"]) == ("SENT", None)
    assert recorded["sentAt"] is not None

    # And the PDF rendered for the message is not the downloadable one: nobody asked for that,
    # so the order's pdf stays NOT_REQUESTED and its url answers 404 (SPEC §8)
    assert await _pdf_state(org, order["id"]) == NOT_REQUESTED
    url = f"/documents/sales-orders/{order['id']}.pdf"
    assert (await http.get(url, headers=bearer(org))).status_code == 404


async def test_sending_to_given_recipients_with_a_subject_and_body(
    org: Organization, mailing: jobs.InProcessRunner, mailbox: Mailbox
) -> None:
    order = await desk_order(org)

    await org.api.ok(
        SEND_ORDER,
        {
            "id": order["id"],
            "to": ["anna@acme.example", "ben@acme.example"],
            "cc": ["sales@seller.example"],
            "subject": "Your order",
            "body": "Hello Anna,\nhere is your order.",
        },
    )
    await drain()

    [message] = mailbox.messages
    assert message["To"] == "anna@acme.example, ben@acme.example"
    assert message["Cc"] == "sales@seller.example"
    assert message["Subject"] == "Your order"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().splitlines() == ["Hello Anna,", "here is your order."]
    assert [name for name, _, _ in attachments(message)] == ["SO-00001.pdf"]


async def test_an_invoice_created_with_send_is_mailed_with_its_pdf(
    org: Organization, mailing: jobs.InProcessRunner, mailbox: Mailbox
) -> None:
    # Given a confirmed order
    order = await desk_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    # When it is invoiced with send: true
    payload = await org.api.ok(CREATE_INVOICE, {"salesOrderId": order["id"], "send": True})

    # Then the invoice e-mail is queued, and goes out with the invoice's PDF
    invoice = payload["invoice"]
    assert invoice["number"] == "INV-00001"
    [queued] = invoice["emails"]
    assert (queued["to"], queued["subject"], queued["state"]) == (
        ["buyer@acme.example"],
        "Invoice INV-00001",
        "QUEUED",
    )
    await drain()
    [message] = mailbox.messages
    assert message["To"] == "buyer@acme.example"
    assert message["Subject"] == "Invoice INV-00001"
    [(filename, content_type, content)] = attachments(message)
    assert (filename, content_type) == ("INV-00001.pdf", "application/pdf")
    text = pdf_text(content)
    assert "INV-00001" in text
    assert "Acme Furniture" in text
    assert "1234.50" in text
    [recorded] = (await org.api.data(INVOICE, {"id": invoice["id"]}))["invoice"]["emails"]
    assert recorded["state"] == "SENT"
    assert recorded["sentAt"] is not None


async def _sent_invoice(org: Organization) -> dict:
    """INV-00001 of a confirmed desk order, created with send: true, its jobs run."""
    order = await desk_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    payload = await org.api.ok(CREATE_INVOICE, {"salesOrderId": order["id"], "send": True})
    await drain()
    return payload["invoice"]


async def test_a_sent_invoice_has_a_downloadable_pdf(
    http: httpx.AsyncClient, org: Organization, mailing: jobs.InProcessRunner, mailbox: Mailbox
) -> None:
    # schema.graphql: Invoice.pdf is "The invoice's PDF, rendered when it is sent, …"
    invoice = await _sent_invoice(org)
    assert len(mailbox.messages) == 1

    url = f"/documents/invoices/{invoice['id']}.pdf"
    pdf = (await org.api.data(INVOICE, {"id": invoice["id"]}))["invoice"]["pdf"]
    assert pdf == {"state": "READY", "url": url, "error": None}
    response = await http.get(url, headers=bearer(org))
    assert response.status_code == 200
    assert "INV-00001" in pdf_text(response.content)


async def test_voiding_a_sent_invoice_renders_its_pdf_again_marked_void(
    http: httpx.AsyncClient, org: Organization, mailing: jobs.InProcessRunner, mailbox: Mailbox
) -> None:
    # Given a sent invoice, whose PDF is READY and says nothing of being void
    invoice = await _sent_invoice(org)
    url = f"/documents/invoices/{invoice['id']}.pdf"
    assert "VOID" not in pdf_text((await http.get(url, headers=bearer(org))).content)

    # When it is voided
    voided = (await org.api.ok(VOID_INVOICE, {"id": invoice["id"]}))["invoice"]

    # Then its PDF is being rendered again, and once READY it says VOID
    assert (voided["status"], voided["pdf"]) == ("VOID", PENDING)
    await drain()
    pdf = (await org.api.data(INVOICE, {"id": invoice["id"]}))["invoice"]["pdf"]
    assert pdf == {"state": "READY", "url": url, "error": None}
    text = pdf_text((await http.get(url, headers=bearer(org))).content)
    assert "INV-00001" in text
    assert "Status VOID" in text


async def test_voiding_an_order_renders_its_pdf_again_marked_void(
    http: httpx.AsyncClient, org: Organization
) -> None:
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    url = f"/documents/sales-orders/{order['id']}.pdf"
    assert "VOID" not in pdf_text((await http.get(url, headers=bearer(org))).content)

    voided = (await org.api.ok(VOID_ORDER, {"id": order["id"]}))["salesOrder"]

    assert (voided["status"], voided["pdf"]) == ("VOID", PENDING)
    await drain()
    assert (await _pdf_state(org, order["id"]))["state"] == "READY"
    assert "Status VOID" in pdf_text((await http.get(url, headers=bearer(org))).content)


async def test_a_merged_orders_pdf_says_which_order_took_its_lines(
    http: httpx.AsyncClient, org: Organization
) -> None:
    # Given two draft orders of one customer, the younger one's PDF READY
    customer = await org.customer(name="Acme Furniture")
    desk = await org.item("DESK", "411.50")
    lines = [{"itemId": desk, "quantity": "1"}]
    older, younger = [
        (await org.api.ok(CREATE_ORDER, {"customerId": customer, "lines": lines}))["salesOrder"]
        for _ in range(2)
    ]
    await org.api.ok(RENDER_PDF, {"id": younger["id"]})
    await drain()
    url = f"/documents/sales-orders/{younger['id']}.pdf"
    assert "Merged into" not in pdf_text((await http.get(url, headers=bearer(org))).content)

    # When it is merged into the older one
    merged = await org.api.ok(MERGE_ORDERS, {"ids": [younger["id"], older["id"]]})
    assert (merged["salesOrder"]["number"], merged["merged"]["status"]) == ("SO-00001", "MERGED")

    # Then its PDF is rendered again, and says so, naming the order that took its lines
    assert await _pdf_state(org, younger["id"]) == PENDING
    await drain()
    text = pdf_text((await http.get(url, headers=bearer(org))).content)
    assert "Merged into SO-00001" in text
    assert "MERGED" in text  # the mark across the page


async def test_an_invoice_voided_without_a_render_shows_void_from_its_next_download(
    http: httpx.AsyncClient, org: Organization, mailing: jobs.InProcessRunner, mailbox: Mailbox
) -> None:
    # Given a sent invoice whose READY PDF says nothing of being void, while the invoice is
    # VOID: voided before voiding rendered the PDF again (as the code before issue 17 did)
    invoice = await _sent_invoice(org)
    url = f"/documents/invoices/{invoice['id']}.pdf"
    assert "VOID" not in pdf_text((await http.get(url, headers=bearer(org))).content)
    await Invoice.filter(id=key(invoice["id"])).update(status=InvoiceStatus.VOID)

    # When it is downloaded, the stale file is not served: it is rendered again, and the
    # client is told to come back (503 with Retry-After), not that there is no PDF (404)
    response = await http.get(url, headers=bearer(org))
    assert (response.status_code, response.headers["retry-after"], response.json()) == (
        503,
        "2",
        {"error": "being rendered: try again shortly", "state": "PENDING"},
    )
    assert (await org.api.data(INVOICE, {"id": invoice["id"]}))["invoice"]["pdf"] == PENDING

    # And once READY, the next download says VOID
    await drain()
    pdf = (await org.api.data(INVOICE, {"id": invoice["id"]}))["invoice"]["pdf"]
    assert pdf == {"state": "READY", "url": url, "error": None}
    assert "Status VOID" in pdf_text((await http.get(url, headers=bearer(org))).content)


async def test_a_pdf_of_an_older_layout_is_rendered_again_on_its_next_download(
    http: httpx.AsyncClient, org: Organization
) -> None:
    # Given an order whose READY PDF was rendered by an earlier deploy, in another layout
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    data = await documents.document_data(documents.SALES_ORDER, key(order["id"]))
    older = documents.content_hash(data, "the layout of an earlier deploy")
    older_path = Path((await Document.get(sales_order_id=key(order["id"]))).path or "")
    older_path = older_path.rename(older_path.with_name(f"{older}.pdf"))
    await Document.filter(sales_order_id=key(order["id"])).update(
        content_hash=older, path=str(older_path)
    )
    url = f"/documents/sales-orders/{order['id']}.pdf"

    # When it is downloaded, it is rendered again in this code's layout (503 meanwhile)
    response = await http.get(url, headers=bearer(org))
    assert (response.status_code, response.headers["retry-after"]) == (503, "2")
    assert await _pdf_state(org, order["id"]) == PENDING
    await drain()

    # Then its file is named by the data and this layout, and that is what downloads
    rendered = await Document.get(sales_order_id=key(order["id"]))
    current = documents.content_hash(data, layout_digest())
    assert (rendered.state, rendered.content_hash) == ("READY", current)
    assert Path(rendered.path or "").name == f"{current}.pdf"
    response = await http.get(url, headers=bearer(org))
    assert response.status_code == 200
    assert response.content == Path(rendered.path or "").read_bytes()


async def test_without_smtp_the_email_is_written_to_the_outbox_folder(
    org: Organization, settings: Settings
) -> None:
    # Given the default runner of the test app: no SMTP_URL
    assert settings.smtp_url is None
    order = await desk_order(org)

    # When the order is sent
    payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})
    await drain()

    # Then the e-mail is an .eml file under DATA_DIR/outbox, and counts as SENT
    email_id = key(payload["salesOrder"]["emails"][0]["id"])
    path = await eml_file(settings.data_dir / "outbox", email_id)
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert message["To"] == "buyer@acme.example"
    assert message["Subject"] == "Sales order SO-00001"
    [(filename, content_type, content)] = attachments(message)
    assert (filename, content_type) == ("SO-00001.pdf", "application/pdf")
    assert "1234.50" in pdf_text(content)
    [recorded] = await _emails(org, order["id"])
    assert recorded["state"] == "SENT"


async def test_an_eml_file_of_another_databases_email_of_the_same_id_does_not_stop_this_one(
    org: Organization, held_emails: HeldEmails, settings: Settings
) -> None:
    # Given an order e-mail waiting for its job (no SMTP_URL: .eml files) ...
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    # ... and in DATA_DIR, which outlived the databases before this one, the files of their
    # e-mails of the same id: named by the id alone (before) and by id and creation time
    outbox = settings.data_dir / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    others = [outbox / f"email-{email_id}.eml", outbox / f"email-{email_id}.20200101000000.eml"]
    for other in others:
        other.write_bytes(b"Message-ID: <another-database@gqlorders.local>\r\n\r\nold\r\n")

    # When the e-mail job runs
    await send_email({"settings": settings}, email_id=email_id)

    # Then this e-mail was written, with its own Message-ID, and the other files left as they were
    path = await eml_file(outbox, email_id)
    assert path not in others
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert message["To"] == "buyer@acme.example"
    assert message["Message-ID"] == f"<{path.stem}@gqlorders.local>"
    assert all(b"another-database" in other.read_bytes() for other in others)
    assert (await EmailMessage.get(id=email_id)).state == "SENT"


async def test_running_the_email_job_again_sends_nothing_more(
    org: Organization, mailing: jobs.InProcessRunner, mailbox: Mailbox, mail_settings: Settings
) -> None:
    # Given an order e-mail that went out
    order = await desk_order(org)
    payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})
    await drain()
    assert len(mailbox.messages) == 1
    email_id = key(payload["salesOrder"]["emails"][0]["id"])

    # When its job runs a second time (a redelivered job)
    await send_email({"settings": mail_settings}, email_id=email_id)

    # Then no second e-mail goes out
    assert len(mailbox.messages) == 1
    [recorded] = await _emails(org, order["id"])
    assert recorded["state"] == "SENT"


async def test_two_concurrent_runs_of_the_email_job_send_one_email(
    org: Organization, held_emails: HeldEmails, mailbox: Mailbox, mail_settings: Settings
) -> None:
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids

    context = {"settings": mail_settings}
    await asyncio.gather(
        send_email(context, email_id=email_id), send_email(context, email_id=email_id)
    )

    assert len(mailbox.messages) == 1
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_smtp_down_keeps_the_email_queued_until_a_retry_delivers_it(
    org: Organization,
    held_emails: HeldEmails,
    mailbox: Mailbox,
    smtp_down: str,
    settings: Settings,
) -> None:
    # Given a queued order e-mail (its job held back, to run by hand)
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids

    # When the job runs while the mail server is down
    with pytest.raises(jobs.RetryLater) as retry:
        await send_email({"settings": replace(settings, smtp_url=smtp_down)}, email_id=email_id)

    # Then it asks to be retried later; the message stays QUEUED with the error
    assert retry.value.defer_seconds == 5
    [recorded] = await _emails(org, order["id"])
    assert recorded["state"] == "QUEUED"
    assert recorded["sentAt"] is None
    port = smtp_down.rsplit(":", 1)[1]
    assert port in recorded["error"], recorded["error"]
    assert mailbox.messages == []

    # When the retry comes with the server up
    await send_email({"settings": replace(settings, smtp_url=mailbox.url)}, email_id=email_id)

    # Then the e-mail goes out once, and is SENT without error
    [message] = mailbox.messages
    assert message["Subject"] == "Sales order SO-00001"
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"]) == ("SENT", None)
    assert recorded["sentAt"] is not None
    assert (await EmailMessage.get(id=email_id)).attempts == 2


async def _queued_with_a_short_deadline(
    org: Organization, held_emails: HeldEmails, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict, int]:
    """A sent order whose e-mail is queued (its job held back), and a send deadline of 5 s
    (45 s in production; time enough for connect, EHLO, MAIL and RCPT on a loaded
    machine): the order and the e-mail's key."""
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    monkeypatch.setattr(gqlorders.emails, "SEND_DEADLINE", timedelta(seconds=5))
    return order, email_id


async def test_an_attempt_the_mail_server_never_answers_gives_up_at_the_deadline(
    org: Organization,
    held_emails: HeldEmails,
    mailbox: Mailbox,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a queued order e-mail, a send deadline of 5 s (45 s in production), and a
    # mail server that takes connections and never answers
    order, email_id = await _queued_with_a_short_deadline(org, held_emails, monkeypatch)

    # When the job runs
    with silent_smtp_server() as mail_server, pytest.raises(jobs.RetryLater) as retry:
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        await asyncio.wait_for(send_email(context, email_id=email_id), timeout=20)

    # Then the attempt gave up at the deadline like any transient failure: QUEUED with the
    # reason, retried 5 s later
    assert mail_server.connected.is_set()
    assert retry.value.defer_seconds == 5
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"], recorded["sentAt"]) == (
        "QUEUED",
        "sending took longer than 5 s: attempt given up",
        None,
    )

    # When the retry comes with a mail server that answers
    await send_email({"settings": replace(settings, smtp_url=mailbox.url)}, email_id=email_id)

    # Then the e-mail goes out once, and is SENT without error after 2 attempts
    [message] = mailbox.messages
    assert message["Subject"] == "Sales order SO-00001"
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"]) == ("SENT", None)
    assert (await EmailMessage.get(id=email_id)).attempts == 2


async def test_a_slow_answer_to_quit_after_the_server_took_the_message_leaves_it_sent(
    org: Organization,
    held_emails: HeldEmails,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a queued order e-mail, a send deadline of 5 s, and a mail server that takes the
    # message at once but answers QUIT only after 8 s
    order, email_id = await _queued_with_a_short_deadline(org, held_emails, monkeypatch)

    # When the job runs
    with slow_smtp_server(free_port(), quit_delay=8) as mail_server:
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        await asyncio.wait_for(send_email(context, email_id=email_id), timeout=20)

    # Then the e-mail went out once and is SENT after one attempt: the slow goodbye came after
    # the server's answer, and counts for nothing
    [message] = mail_server.messages
    assert message["Subject"] == "Sales order SO-00001"
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"]) == ("SENT", None)
    assert recorded["sentAt"] is not None
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_no_answer_to_the_message_within_the_deadline_ends_failed_and_is_not_retried(
    org: Organization,
    held_emails: HeldEmails,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a queued order e-mail, a send deadline of 5 s, and a mail server that takes the
    # message's content but answers it only after 8 s
    order, email_id = await _queued_with_a_short_deadline(org, held_emails, monkeypatch)
    with slow_smtp_server(free_port(), answer_delay=8) as mail_server:
        context = {"settings": replace(settings, smtp_url=mail_server.url)}

        # When the job runs, and then runs again (a redelivered job)
        await asyncio.wait_for(send_email(context, email_id=email_id), timeout=20)
        await asyncio.wait_for(send_email(context, email_id=email_id), timeout=20)

    # Then the job asked for no retry: the message is FAILED after one attempt, saying that
    # it may or may not have been delivered, and the server got its content once
    [message] = mail_server.messages
    assert message["Subject"] == "Sales order SO-00001"
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"], recorded["sentAt"]) == (
        "FAILED",
        OUTCOME_UNKNOWN,
        None,
    )
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_a_job_cancelled_while_the_server_holds_its_answer_ends_failed(
    org: Organization, held_emails: HeldEmails, settings: Settings
) -> None:
    # Given a queued order e-mail, and a mail server that takes a message's content but holds
    # back its answer
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    with holding_smtp_server(free_port()) as mail_server:
        # When the job is cancelled (its worker stopping) while the server holds the answer
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        sender = asyncio.create_task(send_email(context, email_id=email_id))
        arrived = await set_within(mail_server.arrived, 30)
        assert arrived, "the message never reached the mail server"
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sender

    # Then the message is FAILED, outcome unknown: not given back for the job's rerun
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"], recorded["sentAt"]) == (
        "FAILED",
        OUTCOME_UNKNOWN,
        None,
    )
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_a_job_cancelled_before_the_message_went_out_gives_it_back(
    org: Organization, held_emails: HeldEmails, mailbox: Mailbox, settings: Settings
) -> None:
    # Given a queued order e-mail, and a mail server that takes connections and never answers
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    with silent_smtp_server() as mail_server:
        # When the job is cancelled (its worker stopping) while it waits for the server
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        sender = asyncio.create_task(send_email(context, email_id=email_id))
        connected = await set_within(mail_server.connected, 30)
        assert connected, "the job never reached the mail server"
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sender

    # Then the message is QUEUED again, for the job's rerun
    [recorded] = await _emails(org, order["id"])
    assert (recorded["state"], recorded["error"], recorded["sentAt"]) == (
        "QUEUED",
        "interrupted while sending; will be retried",
        None,
    )

    # And the rerun delivers it once
    await send_email({"settings": replace(settings, smtp_url=mailbox.url)}, email_id=email_id)
    [message] = mailbox.messages
    assert message["Subject"] == "Sales order SO-00001"
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.attempts, email.error) == ("SENT", 2, None)


async def test_an_email_the_server_never_takes_ends_failed(
    org: Organization, held_emails: HeldEmails, smtp_down: str, settings: Settings
) -> None:
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    context = {"settings": replace(settings, smtp_url=smtp_down)}

    # Each transient failure waits longer: 5 s, 10 s, 15 s, 20 s
    defers = []
    for _ in range(MAX_EMAIL_ATTEMPTS - 1):
        with pytest.raises(jobs.RetryLater) as retry:
            await send_email(context, email_id=email_id)
        defers.append(retry.value.defer_seconds)
    assert defers == [5, 10, 15, 20]

    # The last attempt gives up: FAILED, with the error, and no further retry
    await send_email(context, email_id=email_id)
    [recorded] = await _emails(org, order["id"])
    assert recorded["state"] == "FAILED"
    assert recorded["error"]
    assert recorded["sentAt"] is None
    assert (await EmailMessage.get(id=email_id)).attempts == MAX_EMAIL_ATTEMPTS
