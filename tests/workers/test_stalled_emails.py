"""SPEC §8 "a retried job never sends the same e-mail twice", when the process sending a message
dies between the claim (QUEUED -> SENDING) and recording the outcome. Once its claim is older
than `emails.STALLED_AFTER`, what the sweep does depends on how far the sender got: a message
whose content never started to go out was certainly not delivered and is queued again (with a
new job); one whose content started may have been, so it is marked FAILED, saying so, and never
sent again by itself. (tests/workers/test_killed_workers.py kills real worker processes.)

The relay calls `emails.recover_stalled_sends()` every few seconds, then hands on the jobs it
wrote; these tests make that pass themselves."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from tortoise.timezone import now

from gqlorders import emails, jobs
from gqlorders.config import Settings
from gqlorders.models import EmailMessage, EmailState
from gqlorders.relay import relay_forever
from tests.support import Organization, key
from tests.workers.support import (
    ORDER,
    SEND_ORDER,
    HeldEmails,
    Mailbox,
    desk_order,
    drain,
    free_port,
    holding_smtp_server,
    jobs_since,
    last_job_id,
    set_within,
)
from workers.jobs import FUNCTIONS, send_email

LONG_AGO = emails.STALLED_AFTER + timedelta(minutes=1)
RECENTLY = timedelta(seconds=30)

EVENTS = """
query($id: ID!) { salesOrder(id: $id) { events { type actor data } } }"""

OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered; "
    "send it again if needed"
)


async def _emails(org: Organization, order_id: str) -> list[dict]:
    return (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]["emails"]


async def _sent_order(org: Organization) -> tuple[str, int]:
    """A sent draft order of Acme Furniture: its id and its e-mail's key."""
    order = await desk_order(org)
    payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})
    return order["id"], key(payload["salesOrder"]["emails"][0]["id"])


async def _claimed_by_a_sender_that_died(
    email_id: int, ago: timedelta, *, content_started: bool
) -> None:
    """What a send_email job leaves when its process is killed after its claim: before its
    content started to go out (while connecting), or after (during DATA)."""
    claimed_at = now() - ago
    await EmailMessage.filter(id=email_id).update(
        state=EmailState.SENDING,
        claimed_at=claimed_at,
        data_started_at=claimed_at + timedelta(seconds=1) if content_started else None,
    )


async def _sweep() -> int:
    """One pass of the relay: recover stalled sends, then hand on the jobs written."""
    recovered = await emails.recover_stalled_sends()
    await jobs.after_request()
    await drain()
    return recovered


async def test_a_stalled_message_whose_content_never_went_out_is_sent_again(
    org: Organization,
    held_emails: HeldEmails,
    swap_runner: Any,
    mail_settings: Settings,
    mailbox: Mailbox,
) -> None:
    # Given an order e-mail claimed long ago by a server process that died before the
    # message's content started to go out
    order_id, email_id = await _sent_order(org)
    await _claimed_by_a_sender_that_died(email_id, LONG_AGO, content_started=False)
    before = await last_job_id()

    # When a server runs again (jobs in-process) and its relay sweeps
    swap_runner(jobs.InProcessRunner(FUNCTIONS, {"settings": mail_settings}))
    recovered = await _sweep()

    # Then the message got a new job, which sent it once: SENT, after a second attempt
    assert recovered == 1
    assert [row.job for row in await jobs_since(before)] == [jobs.SEND_EMAIL]
    [message] = mailbox.messages
    assert message["Subject"] == "Sales order SO-00001"
    [sent] = await _emails(org, order_id)
    assert (sent["state"], sent["error"]) == ("SENT", None)
    assert (await EmailMessage.get(id=email_id)).attempts == 1  # the dead sender's was faked

    # And later sweeps leave it alone
    assert await _sweep() == 0
    assert len(mailbox.messages) == 1


async def test_a_stalled_message_whose_content_went_out_is_marked_failed(
    org: Organization,
    held_emails: HeldEmails,
    swap_runner: Any,
    mail_settings: Settings,
    mailbox: Mailbox,
) -> None:
    # Given an order e-mail claimed long ago by a server process that died while the
    # message's content was going out
    order_id, email_id = await _sent_order(org)
    await _claimed_by_a_sender_that_died(email_id, LONG_AGO, content_started=True)
    before = await last_job_id()

    # When a server runs again (jobs in-process) and its relay sweeps
    swap_runner(jobs.InProcessRunner(FUNCTIONS, {"settings": mail_settings}))
    recovered = await _sweep()

    # Then the message is FAILED, saying why, with no new job and nothing sent
    assert recovered == 1
    assert await jobs_since(before) == []
    assert mailbox.messages == []
    [failed] = await _emails(org, order_id)
    assert (failed["state"], failed["error"], failed["sentAt"]) == (
        "FAILED",
        OUTCOME_UNKNOWN,
        None,
    )

    # And the order's history says so
    events = (await org.api.data(EVENTS, {"id": order_id}))["salesOrder"]["events"]
    assert [(event["type"], event["data"]) for event in events][-1] == (
        "email_failed",
        {
            "email": email_id,
            "to": ["buyer@acme.example"],
            "subject": "Sales order SO-00001",
            "error": OUTCOME_UNKNOWN,
        },
    )

    # And later sweeps leave it alone
    assert await _sweep() == 0
    assert mailbox.messages == []
    assert [(email["state"], email["error"]) for email in await _emails(org, order_id)] == [
        ("FAILED", OUTCOME_UNKNOWN)
    ]


async def test_the_servers_relay_marks_a_stalled_message_failed_by_itself(
    org: Organization,
    held_emails: HeldEmails,
    swap_runner: Any,
    mail_settings: Settings,
    mailbox: Mailbox,
) -> None:
    # Given an order e-mail claimed long ago by a server process that died during DATA
    order_id, email_id = await _sent_order(org)
    await _claimed_by_a_sender_that_died(email_id, LONG_AGO, content_started=True)
    before = await last_job_id()

    # When a server (jobs in-process) runs its periodic relay for a while
    swap_runner(jobs.InProcessRunner(FUNCTIONS, {"settings": mail_settings}))
    relay = asyncio.create_task(relay_forever(interval=0.05))
    try:
        for _ in range(200):
            if (await EmailMessage.get(id=email_id)).state == EmailState.FAILED:
                break
            await asyncio.sleep(0.05)
    finally:
        relay.cancel()
    await drain()

    # Then the message is FAILED with no help from a request, and nothing was sent
    [failed] = await _emails(org, order_id)
    assert (failed["state"], failed["error"], failed["sentAt"]) == (
        "FAILED",
        OUTCOME_UNKNOWN,
        None,
    )
    assert await jobs_since(before) == []
    assert mailbox.messages == []


async def test_a_message_claimed_recently_is_left_alone(
    org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order e-mail claimed 30 s ago (its sender may well be at work)
    order_id, email_id = await _sent_order(org)
    await _claimed_by_a_sender_that_died(email_id, RECENTLY, content_started=False)
    before = await last_job_id()

    # When the relay sweeps
    recovered = await _sweep()

    # Then the message is still SENDING (QUEUED to clients), with no new job
    assert recovered == 0
    assert await jobs_since(before) == []
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.attempts, email.error) == (EmailState.SENDING, 0, None)
    [queued] = await _emails(org, order_id)
    assert (queued["state"], queued["error"]) == ("QUEUED", None)
    # (settled, so that no later test's sweep finds it stalled once the run is STALLED_AFTER old)
    await EmailMessage.filter(id=email_id).update(state=EmailState.SENT, sent_at=now())


async def test_sent_and_failed_messages_are_never_touched(
    org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order sent twice, both claimed long ago: one e-mail SENT, the other FAILED
    order_id, sent_id = await _sent_order(org)
    payload = await org.api.ok(SEND_ORDER, {"id": order_id})
    failed_id = key(payload["salesOrder"]["emails"][1]["id"])
    claimed_at = now() - LONG_AGO
    sent_at = claimed_at + timedelta(seconds=2)
    await EmailMessage.filter(id=sent_id).update(
        state=EmailState.SENT, claimed_at=claimed_at, sent_at=sent_at, attempts=1
    )
    await EmailMessage.filter(id=failed_id).update(
        state=EmailState.FAILED, claimed_at=claimed_at, attempts=1, error="550 no such user"
    )
    before = await last_job_id()

    # When the relay sweeps
    recovered = await _sweep()

    # Then neither changed, and no job was written
    assert recovered == 0
    assert await jobs_since(before) == []
    assert [(email["state"], email["error"]) for email in await _emails(org, order_id)] == [
        ("SENT", None),
        ("FAILED", "550 no such user"),
    ]
    assert [
        (email.state, email.attempts, email.sent_at)
        for email in await EmailMessage.filter(id__in=[sent_id, failed_id]).order_by("id")
    ] == [(EmailState.SENT, 1, sent_at), (EmailState.FAILED, 1, None)]


async def test_two_relays_sweeping_at_once_mark_it_failed_once(
    org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order e-mail claimed long ago by a process that died during DATA
    order_id, email_id = await _sent_order(org)
    await _claimed_by_a_sender_that_died(email_id, LONG_AGO, content_started=True)
    before = await last_job_id()

    # When two processes' relays sweep at the same time
    recovered = await asyncio.gather(emails.recover_stalled_sends(), emails.recover_stalled_sends())

    # Then one of them marked it FAILED, and neither wrote a job
    assert sorted(recovered) == [0, 1]
    assert await jobs_since(before) == []
    [failed] = await _emails(org, order_id)
    assert (failed["state"], failed["error"]) == ("FAILED", OUTCOME_UNKNOWN)


async def test_a_sender_that_outlived_its_claim_corrects_the_failed_mark_once_delivered(
    org: Organization, held_emails: HeldEmails, settings: Settings
) -> None:
    # Given a queued order e-mail, and a mail server that takes a message's content but holds
    # back its answer
    order_id, email_id = await _sent_order(org)
    with holding_smtp_server(free_port()) as mail_server:
        # When its job sends it, and while the server holds the answer the relay takes the
        # claim for stalled (as if the sender had been at it for STALLED_AFTER)
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        sender = asyncio.create_task(send_email(context, email_id=email_id))
        arrived = await set_within(mail_server.arrived, 30)
        assert arrived, "the message never reached the mail server"
        assert await emails.recover_stalled_sends(older_than=timedelta(0)) == 1
        [failed] = await _emails(org, order_id)
        assert (failed["state"], failed["error"]) == ("FAILED", OUTCOME_UNKNOWN)

        # And then the server takes the message and the sender finishes
        mail_server.answer.set()
        await asyncio.wait_for(sender, timeout=30)

    # Then the e-mail went out once, and the sender, who now knows it, corrected the mark:
    # SENT without error, after one attempt
    [message] = mail_server.messages
    assert message["Subject"] == "Sales order SO-00001"
    [sent] = await _emails(org, order_id)
    assert (sent["state"], sent["error"]) == ("SENT", None)
    assert sent["sentAt"] is not None
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_a_sender_that_outlived_its_claim_does_not_overwrite_the_failed_mark(
    org: Organization, held_emails: HeldEmails, settings: Settings
) -> None:
    # Given a queued order e-mail, and a mail server that takes a message's content, holds
    # back its answer, and then refuses it for now
    order_id, email_id = await _sent_order(org)
    with holding_smtp_server(free_port(), refusal="451 try again later") as mail_server:
        # When its job sends it, and while the server holds the answer the relay takes the
        # claim for stalled (as if the sender had been at it for STALLED_AFTER)
        context = {"settings": replace(settings, smtp_url=mail_server.url)}
        sender = asyncio.create_task(send_email(context, email_id=email_id))
        arrived = await set_within(mail_server.arrived, 30)
        assert arrived, "the message never reached the mail server"
        assert await emails.recover_stalled_sends(older_than=timedelta(0)) == 1

        # And then the server refuses the message for now and the sender finishes
        mail_server.answer.set()
        await asyncio.wait_for(sender, timeout=30)

    # Then nothing went out, and the sender's late failure did not give the message back for
    # a retry: it stays as the sweep recorded it, FAILED, outcome unknown, one attempt
    assert mail_server.messages == []
    [failed] = await _emails(org, order_id)
    assert (failed["state"], failed["error"], failed["sentAt"]) == (
        "FAILED",
        OUTCOME_UNKNOWN,
        None,
    )
    assert (await EmailMessage.get(id=email_id)).attempts == 1
