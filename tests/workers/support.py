"""GraphQL documents and helpers shared by the background-work tests."""

from __future__ import annotations

import asyncio
import email
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from pypdf import PdfReader

from gqlorders import jobs, models
from gqlorders.models import OutboxJob
from tests.support import Organization
from workers.jobs import message_key

DOCUMENT_FIELDS = "pdf { state url error }"
EMAIL_FIELDS = "emails { id to subject state error sentAt }"

ORDER_FIELDS = (
    f"id number status total notes lines {{ item {{ id }} }} {DOCUMENT_FIELDS} {EMAIL_FIELDS}"
)

ORDER = f"""
query($id: ID!) {{ salesOrder(id: $id) {{ {ORDER_FIELDS} }} }}"""

RENDER_PDF = f"""
mutation($input: SalesOrderIdInput!) {{
  renderSalesOrderPdf(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

VOID_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  voidSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

UPDATE_ORDER = f"""
mutation($input: UpdateSalesOrderInput!) {{
  updateSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

CONFIRM_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  confirmSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

SEND_ORDER = f"""
mutation($input: SendSalesOrderInput!) {{
  sendSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

CREATE_ORDER = f"""
mutation($input: CreateSalesOrderInput!) {{
  createSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

INVOICE_FIELDS = f"id number status total {DOCUMENT_FIELDS} {EMAIL_FIELDS}"

INVOICE = f"""
query($id: ID!) {{ invoice(id: $id) {{ {INVOICE_FIELDS} }} }}"""

CREATE_INVOICE = f"""
mutation($input: CreateInvoiceFromSalesOrderInput!) {{
  createInvoiceFromSalesOrder(input: $input) {{
    invoice {{ {INVOICE_FIELDS} }} errors {{ field code message }}
  }}
}}"""

SEND_INVOICE = f"""
mutation($input: InvoiceIdInput!) {{
  sendInvoice(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} errors {{ field code message }} }}
}}"""

VOID_INVOICE = f"""
mutation($input: InvoiceIdInput!) {{
  voidInvoice(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} errors {{ field code message }} }}
}}"""


async def desk_order(org: Organization, **fields: object) -> dict:
    """A draft order of Acme Furniture (buyer@acme.example): 3 desks at 411.50 = 1234.50."""
    customer = await org.customer(name="Acme Furniture", email="buyer@acme.example")
    desk = await org.item("DESK", "411.50")
    input = {"customerId": customer, "lines": [{"itemId": desk, "quantity": "3"}], **fields}
    order = (await org.api.ok(CREATE_ORDER, input))["salesOrder"]
    assert order["total"] == "1234.50"
    return order


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-"), content[:20]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def attachments(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    """(file name, content type, content) of each attachment."""
    return [
        (part.get_filename(), part.get_content_type(), part.get_content())
        for part in message.iter_attachments()
    ]


def bearer(org: Organization) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.api.token}"}


async def last_job_id() -> int:
    """The newest outbox row's id (0 for none): later rows are the jobs written since."""
    last = await OutboxJob.all().order_by("-id").first()
    return last.id if last else 0


async def jobs_since(job_id: int) -> list[OutboxJob]:
    return await OutboxJob.filter(id__gt=job_id).order_by("id")


async def drain() -> None:
    """Wait for the background jobs the requests so far have started."""
    runner = jobs.current_runner()
    assert runner is not None
    await runner.drain()


async def eml_file(outbox: Path, email_id: int) -> Path:
    """Where the file transport writes the e-mail (written or not)."""
    return outbox / f"{message_key(await models.EmailMessage.get(id=email_id))}.eml"


def free_port() -> int:
    """A local TCP port nobody listens on (now, and most likely in the next moments)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Mailbox:
    """What an SMTP server received, parsed, in arrival order (an aiosmtpd handler)."""

    url: str
    messages: list[EmailMessage] = field(default_factory=list)
    mail_options: list[list[str]] = field(default_factory=list)  # MAIL FROM's, per message
    recipients: list[list[str]] = field(default_factory=list)  # RCPT TO's, per message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(message)
        self.mail_options.append(list(envelope.mail_options))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@contextmanager
def _serving(box: Mailbox, port: int) -> Iterator[None]:
    """`box` as a real SMTP server on 127.0.0.1:port (in its own thread) while the block runs."""
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


@contextmanager
def smtp_server(port: int) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1:port (in its own thread) while the block runs."""
    box = Mailbox(url=f"smtp://127.0.0.1:{port}")
    with _serving(box, port):
        yield box


@dataclass
class RefusingMailbox(Mailbox):
    """A Mailbox that refuses some recipients: `refusals` maps an address to the answer."""

    refusals: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextmanager
def refusing_smtp_server(port: int, refusals: dict[str, str]) -> Iterator[RefusingMailbox]:
    """A real SMTP server on 127.0.0.1:port that refuses the recipients of `refusals`."""
    box = RefusingMailbox(url=f"smtp://127.0.0.1:{port}", refusals=refusals)
    with _serving(box, port):
        yield box


@dataclass
class HoldingMailbox(Mailbox):
    """A Mailbox that, once a message's content has arrived, waits for `answer` before taking
    it (or giving the `refusal` reply instead): the sender is then at the very end of a send,
    its outcome not yet known."""

    arrived: threading.Event = field(default_factory=threading.Event)
    answer: threading.Event = field(default_factory=threading.Event)
    refusal: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        while not self.answer.is_set():  # the server's own loop, in its own thread
            await asyncio.sleep(0.01)
        if self.refusal is not None:
            return self.refusal
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def holding_smtp_server(port: int, refusal: str | None = None) -> Iterator[HoldingMailbox]:
    """A real SMTP server on 127.0.0.1:port that answers a message only once told to."""
    box = HoldingMailbox(url=f"smtp://127.0.0.1:{port}", refusal=refusal)
    with _serving(box, port):
        try:
            yield box
        finally:
            box.answer.set()  # before the server stops: it waits for it


@dataclass
class SlowMailbox(Mailbox):
    """A Mailbox slow to answer: it takes a message at once but answers `answer_delay` seconds
    later, and answers QUIT `quit_delay` seconds after it comes."""

    answer_delay: float = 0
    quit_delay: float = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.answer_delay)
        return answer

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.quit_delay)
        return "221 Bye"


@contextmanager
def slow_smtp_server(
    port: int, *, answer_delay: float = 0, quit_delay: float = 0
) -> Iterator[SlowMailbox]:
    """A real SMTP server on 127.0.0.1:port slow to answer a message's content or QUIT."""
    box = SlowMailbox(
        url=f"smtp://127.0.0.1:{port}", answer_delay=answer_delay, quit_delay=quit_delay
    )
    with _serving(box, port):
        yield box


@dataclass
class SilentMailServer:
    url: str
    connected: threading.Event  # set once a sender has connected


@contextmanager
def silent_smtp_server() -> Iterator[SilentMailServer]:
    """A mail server on a free local port that accepts connections and never answers: a sender
    hangs there mid-send."""
    connected = threading.Event()
    stopping = threading.Event()
    held: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.1)

        def accept() -> None:
            while not stopping.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                held.append(connection)
                connected.set()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield SilentMailServer(f"smtp://127.0.0.1:{listener.getsockname()[1]}", connected)
        finally:
            stopping.set()
            thread.join()
            for connection in held:
                connection.close()


@dataclass
class HeldEmails:
    """E-mail jobs a runner received but did not run: the test runs them itself."""

    email_ids: list[int] = field(default_factory=list)

    async def send_email(self, ctx: dict[str, Any], email_id: int) -> None:
        self.email_ids.append(email_id)


STOCK = """
query($id: ID!) { node(id: $id) { ... on Item { stock { onHand committed } } } }"""


async def committed(org: Organization, item_id: str) -> list[str]:
    """Committed stock of an item, per warehouse."""
    stock = (await org.api.data(STOCK, {"id": item_id}))["node"]["stock"]
    return [level["committed"] for level in stock]


async def set_within(event: threading.Event, seconds: float) -> bool:
    """Whether a mail server's thread sets `event` within `seconds`, watched from the event loop
    (not from a thread of the loop's executor, which PDF renders may all be using)."""
    deadline = time.monotonic() + seconds
    while not event.is_set():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
