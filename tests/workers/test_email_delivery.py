"""SPEC §8 e-mail delivery through SMTP, at the edges: addresses beyond ASCII, recipients the
mail server refuses, a server refusing service, and a send whose claim or job is cut short at
an awkward moment. Each job runs by hand (its job held back by `held_emails`)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

import workers.jobs
from gqlorders import emails
from gqlorders.config import Settings
from gqlorders.models import EmailMessage, EmailState
from tests.support import Organization
from tests.workers.support import (
    SEND_ORDER,
    HeldEmails,
    Mailbox,
    desk_order,
    free_port,
    refusing_smtp_server,
)
from workers.jobs import send_email

OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered; "
    "send it again if needed"
)


async def _queued(org: Organization, held_emails: HeldEmails, **fields: Any) -> int:
    """A sent draft order of Acme Furniture whose e-mail is queued: the e-mail's key."""
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"], **fields})
    [email_id] = held_emails.email_ids
    return email_id


async def _recorded(email_id: int) -> tuple[str, str | None, bool]:
    """The message's state, error, and whether it has a sending time."""
    email = await EmailMessage.get(id=email_id)
    return email.state, email.error, email.sent_at is not None


async def test_an_email_to_an_address_beyond_ascii_is_sent_with_smtputf8(
    org: Organization, held_emails: HeldEmails, mailbox: Mailbox, mail_settings: Settings
) -> None:
    # Given an order e-mail to bé@exämple.com (the API takes it), and a mail server that
    # offers SMTPUTF8 and 8BITMIME
    email_id = await _queued(org, held_emails, to=["bé@exämple.com"])

    # When its job runs
    await send_email({"settings": mail_settings}, email_id=email_id)

    # Then it went out once, to that address, with SMTPUTF8 and an 8-bit body, and is SENT
    [message] = mailbox.messages
    assert message["To"] == "bé@exämple.com"
    assert mailbox.recipients == [["bé@exämple.com"]]
    assert mailbox.mail_options == [["SMTPUTF8", "BODY=8BITMIME"]]
    assert await _recorded(email_id) == (EmailState.SENT, None, True)


async def test_an_ascii_email_goes_with_an_8bit_body_where_the_server_offers_it(
    org: Organization, held_emails: HeldEmails, mailbox: Mailbox, mail_settings: Settings
) -> None:
    email_id = await _queued(org, held_emails)

    await send_email({"settings": mail_settings}, email_id=email_id)

    assert mailbox.recipients == [["buyer@acme.example"]]
    assert mailbox.mail_options == [["BODY=8BITMIME"]]
    assert await _recorded(email_id) == (EmailState.SENT, None, True)


async def test_a_recipient_the_server_refuses_is_recorded_on_the_sent_message(
    org: Organization, held_emails: HeldEmails, settings: Settings
) -> None:
    # Given an order e-mail to two recipients, one of whom the mail server refuses
    email_id = await _queued(org, held_emails, to=["anna@acme.example", "gone@acme.example"])
    refusals = {"gone@acme.example": "550 5.1.1 No such user"}
    with refusing_smtp_server(free_port(), refusals) as mail_server:
        # When its job runs
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        await send_email(context, email_id=email_id)

    # Then it went out once, to the other one, and is SENT saying who did not get it
    assert mail_server.recipients == [["anna@acme.example"]]
    assert await _recorded(email_id) == (
        EmailState.SENT,
        "not delivered to gone@acme.example: 550 5.1.1 No such user",
        True,
    )


async def test_a_mail_server_refusing_service_at_once_fails_the_message_without_retry(
    org: Organization, held_emails: HeldEmails, settings: Settings
) -> None:
    # Given an order e-mail, and a mail server that greets with 554 (no service for us)
    email_id = await _queued(org, held_emails)

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"554 5.7.1 No SMTP service here\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        # When its job runs
        context = {"settings": replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")}
        await send_email(context, email_id=email_id)
    finally:
        server.close()
        await server.wait_closed()

    # Then the job asked for no retry: a definite refusal, the message FAILED with it
    state, error, sent = await _recorded(email_id)
    assert (state, sent) == (EmailState.FAILED, False)
    assert error == "SMTPConnectResponseError: (554, '5.7.1 No SMTP service here')"
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_a_message_stays_queued_while_its_pdf_renders(
    org: Organization,
    held_emails: HeldEmails,
    mailbox: Mailbox,
    mail_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an order e-mail, and a sweep taking every claim for a dead sender's while its PDF
    # renders
    email_id = await _queued(org, held_emails)
    ensure_pdf = workers.jobs.ensure_pdf
    seen_while_rendering = []

    async def render_and_sweep(*args: Any) -> Any:
        rendered = await ensure_pdf(*args)
        seen_while_rendering.append((await EmailMessage.get(id=email_id)).state)
        assert await emails.recover_stalled_sends(older_than=timedelta(0)) == 0
        return rendered

    monkeypatch.setattr(workers.jobs, "ensure_pdf", render_and_sweep)

    # When its job runs
    await send_email({"settings": mail_settings}, email_id=email_id)

    # Then the message was not claimed while rendering (a death there loses nothing), and went
    # out once after it: SENT, one attempt
    assert seen_while_rendering == [EmailState.QUEUED]
    assert len(mailbox.messages) == 1
    assert await _recorded(email_id) == (EmailState.SENT, None, True)
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_a_job_cancelled_while_recording_sent_finishes_the_record_first(
    org: Organization,
    held_emails: HeldEmails,
    mailbox: Mailbox,
    mail_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an order e-mail whose SENT record is slow to write
    email_id = await _queued(org, held_emails)
    record_sent = workers.jobs._record_sent
    recording = asyncio.Event()

    async def slow_record(email_id: int, claimed_at: datetime, error: str | None) -> None:
        recording.set()
        await asyncio.sleep(0.3)
        await record_sent(email_id, claimed_at, error)

    monkeypatch.setattr(workers.jobs, "_record_sent", slow_record)

    # When the job is cancelled (its worker stopping) while it records the message SENT
    sender = asyncio.create_task(send_email({"settings": mail_settings}, email_id=email_id))
    await asyncio.wait_for(recording.wait(), timeout=30)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender

    # Then the cancellation came through only once the message was recorded SENT
    assert len(mailbox.messages) == 1
    assert await _recorded(email_id) == (EmailState.SENT, None, True)
