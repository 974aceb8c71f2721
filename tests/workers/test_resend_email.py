"""`resendEmail`: the desk sends a FAILED e-mail again on purpose -- e.g. one whose outcome is
unknown (SPEC §8: it is never sent again by itself). It goes again as the same message, with
the same Message-ID, so that a mail client that got it the first time shows it once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from gqlorders.config import Settings
from gqlorders.models import EmailMessage, EmailState
from tests.support import Organization, key
from tests.workers.support import (
    SEND_ORDER,
    HeldEmails,
    Mailbox,
    desk_order,
    free_port,
    slow_smtp_server,
)
from workers.jobs import send_email

OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered; "
    "send it again if needed"
)

RESEND = """
mutation($input: EmailIdInput!) {
  resendEmail(input: $input) { email { id state error sentAt } errors { field code message } }
}"""

EVENTS = """
query($id: ID!) { salesOrder(id: $id) { events { type actor data } } }"""


async def _sent_order(org: Organization, held_emails: HeldEmails) -> tuple[str, str, int]:
    """A sent draft order of Acme Furniture whose e-mail is queued: the order's id, the
    e-mail's id and its key."""
    order = await desk_order(org)
    payload = await org.api.ok(SEND_ORDER, {"id": order["id"]})
    email_id = payload["salesOrder"]["emails"][0]["id"]
    assert held_emails.email_ids == [key(email_id)]
    return order["id"], email_id, key(email_id)


async def test_an_email_whose_outcome_is_unknown_is_resent_as_the_same_message(
    org: Organization, held_emails: HeldEmails, settings: Settings, mailbox: Mailbox
) -> None:
    # Given an order e-mail whose send was cut short while the mail server held its content
    # (it took it, but the answer never came back): FAILED, outcome unknown
    order_id, email_id, email_key = await _sent_order(org, held_emails)
    with slow_smtp_server(free_port(), answer_delay=30) as slow:
        context = {"settings": replace(settings, smtp_url=slow.url)}
        sender = asyncio.create_task(send_email(context, email_id=email_key))
        for _ in range(1500):
            if slow.messages:
                break
            await asyncio.sleep(0.02)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    [first] = slow.messages
    email = await EmailMessage.get(id=email_key)
    assert (email.state, email.error) == (EmailState.FAILED, OUTCOME_UNKNOWN)

    # When the desk sends it again
    payload = await org.api.ok(RESEND, {"id": email_id})

    # Then it is QUEUED again, without error, and the order's history says who resent it
    assert payload["email"] == {"id": email_id, "state": "QUEUED", "error": None, "sentAt": None}
    events = (await org.api.data(EVENTS, {"id": order_id}))["salesOrder"]["events"]
    assert [(event["type"], event["actor"]) for event in events][-2:] == [
        ("email_failed", None),
        ("email_resent", "tests"),
    ]

    # And its job delivers it once more, with the first delivery's Message-ID: SENT
    [resent_key] = held_emails.email_ids[1:]
    await send_email({"settings": replace(settings, smtp_url=mailbox.url)}, email_id=resent_key)
    [second] = mailbox.messages
    assert second["Message-ID"] == first["Message-ID"]
    assert second["Message-ID"].startswith(f"<email-{email_key}.")
    email = await EmailMessage.get(id=email_key)
    assert (email.state, email.error, email.attempts) == (EmailState.SENT, None, 1)


async def test_only_a_failed_email_can_be_resent(
    org: Organization, held_emails: HeldEmails, settings: Settings, mailbox: Mailbox
) -> None:
    # Given an order e-mail that was sent
    _, email_id, email_key = await _sent_order(org, held_emails)
    await send_email({"settings": replace(settings, smtp_url=mailbox.url)}, email_id=email_key)

    # When the desk asks to send it again
    payload = await org.api.mutate(RESEND, {"id": email_id})

    # Then it is refused, saying why, and nothing is queued
    assert payload == {
        "email": None,
        "errors": [
            {
                "field": ["input", "id"],
                "code": "INVALID_STATUS",
                "message": "only a FAILED e-mail can be sent again; this one is SENT",
            }
        ],
    }
    assert held_emails.email_ids == [email_key]
    assert len(mailbox.messages) == 1


async def test_another_organizations_email_cannot_be_resent(
    org: Organization, other_org: Organization, held_emails: HeldEmails
) -> None:
    # Given an order e-mail of another organization that FAILED
    _, email_id, email_key = await _sent_order(other_org, held_emails)
    await EmailMessage.filter(id=email_key).update(state=EmailState.FAILED, error="550 no")

    # When this organization asks to send it again
    payload = await org.api.mutate(RESEND, {"id": email_id})

    # Then it is not found, and stays FAILED
    assert payload["errors"] == [
        {"field": ["input", "id"], "code": "NOT_FOUND", "message": "no such e-mail"}
    ]
    assert (await EmailMessage.get(id=email_key)).state == EmailState.FAILED
