"""Each server process calls `emails.requeue_waiting()` when it starts, so that a QUEUED e-mail
left without a job (its job failed for good before claiming it, say) is sent after all. With
`gqlorders serve --workers N` the N processes start together: a message gets one new job, not N,
and a message whose job is still to run -- a cancelled job included -- gets none (SPEC §8: a
retried job never sends the same e-mail twice).

The database is shared with earlier tests, whose QUEUED messages get jobs too: these tests
look at their own message's jobs, and hand all the jobs written to held e-mails, not run."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from gqlorders import emails, jobs
from gqlorders.config import Settings
from gqlorders.models import EmailMessage, EmailState, OutboxJob
from gqlorders.orders import SendRequest, send_sales_order
from gqlorders.tenancy import Principal
from tests.support import Organization, key
from tests.workers.support import (
    ORDER,
    SEND_ORDER,
    HeldEmails,
    Mailbox,
    desk_order,
    drain,
    jobs_since,
    last_job_id,
    set_within,
    silent_smtp_server,
)
from workers.jobs import FUNCTIONS


async def _emails(org: Organization, order_id: str) -> list[dict]:
    return (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]["emails"]


async def _queued_without_a_job(org: Organization, held_emails: HeldEmails) -> tuple[str, int]:
    """A sent order whose e-mail is QUEUED and whose job is done without sending it (held), as
    a job that failed for good before its claim leaves it (the database refused the claim: the
    runner marks such a job done): its id and its e-mail's key."""
    order = await desk_order(org)
    payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})
    email_id = key(payload["salesOrder"]["emails"][0]["id"])
    await drain()
    assert held_emails.email_ids == [email_id]
    return order["id"], email_id


async def _hand_on_held() -> None:
    """What the relay does next: the jobs written go to the runner (held e-mails here)."""
    await jobs.after_request()
    await drain()


async def test_a_server_starting_twice_writes_one_job_for_a_message_left_without_one(
    org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order e-mail QUEUED whose job has run already
    order_id, email_id = await _queued_without_a_job(org, held_emails)
    before = await last_job_id()

    # When a server process starts, and then another
    first = await emails.requeue_waiting()
    second = await emails.requeue_waiting()

    # Then the first wrote one job for the message, the second none at all
    written = await jobs_since(before)
    assert [row.job for row in written if row.payload == {"email_id": email_id}] == [
        jobs.SEND_EMAIL
    ]
    assert (first, second) == (len(written), 0)

    # And the message, still QUEUED, gets that one job
    await _hand_on_held()
    assert held_emails.email_ids.count(email_id) == 2  # its first job, and the new one
    [queued] = await _emails(org, order_id)
    assert (queued["state"], queued["error"], queued["sentAt"]) == ("QUEUED", None, None)


async def test_servers_starting_together_write_one_job_for_a_message(
    org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order e-mail QUEUED whose job has run already
    _, email_id = await _queued_without_a_job(org, held_emails)
    before = await last_job_id()

    # When two server processes start at the same time
    counts = await asyncio.gather(emails.requeue_waiting(), emails.requeue_waiting())

    # Then one of them wrote the jobs, one for the message, and the other none
    written = await jobs_since(before)
    assert [row.job for row in written if row.payload == {"email_id": email_id}] == [
        jobs.SEND_EMAIL
    ]
    assert sorted(counts) == [0, len(written)]
    await _hand_on_held()


async def test_a_message_whose_job_is_still_to_run_gets_no_second_one(
    org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order e-mail QUEUED by a change committed outside a request: its job waits in
    # the outbox (as while Redis is down, or in Redis until a worker takes it)
    order = await desk_order(org)
    before = await last_job_id()
    principal = Principal(org.id, 0, frozenset(), "tests")
    await send_sales_order(principal, key(order["id"]), SendRequest())
    [job] = [row for row in await jobs_since(before) if row.job == jobs.SEND_EMAIL]
    email_id = job.payload["email_id"]
    assert job.done_at is None

    # When a server process starts
    await emails.requeue_waiting()

    # Then the message got no second job
    assert [row.id for row in await jobs_since(before) if row.payload == job.payload] == [job.id]

    # And its one job runs once the relay hands it on
    await _hand_on_held()
    assert held_emails.email_ids.count(email_id) == 1
    [queued] = await _emails(org, order["id"])
    assert (queued["state"], queued["error"], queued["sentAt"]) == ("QUEUED", None, None)


async def test_a_job_cancelled_mid_send_gets_no_second_one_and_runs_again(
    org: Organization, swap_runner: Any, settings: Settings, mailbox: Mailbox
) -> None:
    # Given an order e-mail whose job (run in the server process) waits for a mail server that
    # takes connections and never answers
    order = await desk_order(org)
    with silent_smtp_server() as mail_server:
        stopping = swap_runner(
            jobs.InProcessRunner(
                FUNCTIONS, {"settings": replace(settings, smtp_url=mail_server.url)}
            )
        )
        before = await last_job_id()
        payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})
        email_id = key(payload["salesOrder"]["emails"][0]["id"])
        [job] = [row for row in await jobs_since(before) if row.job == jobs.SEND_EMAIL]
        connected = await set_within(mail_server.connected, 30)
        assert connected, "the job never reached the mail server"

        # When the server process stops: its running jobs are cancelled
        for task in list(stopping.tasks):
            task.cancel()
        await stopping.drain()

    # Then the message is QUEUED again, and its job is back in the outbox, not done
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.error) == (
        EmailState.QUEUED,
        "interrupted while sending; will be retried",
    )
    job = await OutboxJob.get(id=job.id)
    assert (job.dispatched_at, job.done_at) == (None, None)

    # When a server process starts
    after_cancel = await last_job_id()
    await emails.requeue_waiting()

    # Then the message got no second job
    assert [row for row in await jobs_since(after_cancel) if row.payload == job.payload] == []

    # And its one job runs again once the relay hands it on, and delivers it once
    mail_settings = replace(settings, smtp_url=mailbox.url)
    swap_runner(jobs.InProcessRunner(FUNCTIONS, {"settings": mail_settings}))
    await jobs.after_request()
    await drain()
    [message] = [m for m in mailbox.messages if m["Message-ID"].startswith(f"<email-{email_id}.")]
    assert message["Subject"] == "Sales order SO-00001"
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.attempts, email.error) == (EmailState.SENT, 2, None)
    assert (await OutboxJob.get(id=job.id)).done_at is not None
