"""Delivering e-mail: SMTP through aiosmtplib, or .eml files when no SMTP server is set."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlparse

import aiosmtplib
from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

logger = logging.getLogger("gqlorders.mail")


# aiosmtplib's timeout, for each SMTP command on its own (the job bounds the whole send).
SMTP_TIMEOUT = 30
# QUIT after a delivered message: its outcome is known, so there is no point in waiting long.
QUIT_TIMEOUT = 10


class TransientMailError(Exception):
    """The mail server could not be reached or refused for now, before it had the message:
    nothing was delivered, and a retry is worth it."""


class ClaimLostError(Exception):
    """The message was given back (its sender taken for dead) before its content went out:
    it must not go out from here, another job sends it."""


class OutcomeUnknownError(Exception):
    """The message's content was on its way to the mail server when the connection failed:
    the server may or may not have taken it, so it must not be sent again (SPEC §8)."""


def build_message(
    *,
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    message_key: str,
    attachment: tuple[str, bytes] | None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    # One Message-ID per send request, the same in every attempt and resend of it: a mail
    # client that receives it twice can tell it is one message.
    message["Message-ID"] = f"<{message_key}@gqlorders.local>"
    message.set_content(body)
    if attachment is not None:
        filename, content = attachment
        message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return message


class Delivery:
    """One message on its way: through SMTP_URL (smtp://user:pass@host:port, smtps:// for TLS,
    smtp+starttls:// for STARTTLS), or to an .eml file in `outbox_dir` when none is set.

    SMTP goes one step at a time so that the caller knows how far it got when a step fails
    or the send is cut short (a deadline, a cancellation): until `data_started`, nothing can
    have been delivered and a retry is safe; from then on the server may hold the message,
    and only its own answer to it tells. `content_starting` is awaited just before DATA, to
    record that moment where a dead sender's successor can read it; if it returns False the
    message is not sent (ClaimLostError). Once `send` returns the message was taken, and
    `finish` says goodbye (after the caller has recorded that).

    An .eml file is written under a temporary name and renamed: it is there whole or not at
    all, so that file delivery is never uncertain, and a file already there is not written
    again (the rerun of a send whose process died after the rename). Its name is the message's
    key, unique across databases: DATA_DIR outlives a database."""

    def __init__(
        self,
        smtp_url: str | None,
        outbox_dir: Path,
        content_starting: Callable[[], Awaitable[bool]],
    ) -> None:
        self.smtp_url = smtp_url
        self.outbox_dir = outbox_dir
        self.content_starting = content_starting
        self.data_started = False
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, message: EmailMessage, key: str) -> list[aiosmtplib.SMTPRecipientRefused]:
        """Deliver `message`: returns once the mail server took it (or the file is written),
        with the recipients it refused while it accepted others (they do not get it).

        Raises TransientMailError when nothing was delivered and a retry is worth it,
        OutcomeUnknownError when the connection failed after the content started, and
        aiosmtplib's errors for a definite refusal (5xx). The connection is closed on any
        failure, cancellation included."""
        if self.smtp_url is None:
            self._write(message, key)
            return []
        try:
            return await self._send_over_smtp(message)
        except BaseException:
            self.close()
            raise

    def _write(self, message: EmailMessage, key: str) -> None:
        path = self.outbox_dir / f"{key}.eml"
        if path.exists():
            logger.info("e-mail %r was written to %s already", message["Subject"], path)
            return
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        partial = self.outbox_dir / f".{key}.{os.getpid()}.part"
        partial.write_bytes(bytes(message))
        partial.replace(path)
        logger.info("no SMTP_URL: wrote e-mail %r to %s", message["Subject"], path)

    async def _send_over_smtp(self, message: EmailMessage) -> list[aiosmtplib.SMTPRecipientRefused]:
        assert self.smtp_url is not None
        url = urlparse(self.smtp_url)
        self._client = client = aiosmtplib.SMTP(
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=url.scheme == "smtp+starttls",
            timeout=SMTP_TIMEOUT,
        )
        try:
            await client.connect()  # EHLO only if STARTTLS or login needs it
            # The extensions (SMTPUTF8, 8BITMIME) are known only after an EHLO of this session
            # (STARTTLS forgets those before it): as aiosmtplib's own send, EHLO else HELO.
            await client._ehlo_or_helo_if_needed()
            content, refused = await self._envelope(client, message)
        except aiosmtplib.SMTPResponseException as error:
            # An answer, classified by its code: first, as a 5xx greeting is an OSError too
            # (SMTPConnectResponseError) but a definite refusal, not a transient failure.
            if 400 <= error.code < 500:
                raise TransientMailError(str(error)) from error
            raise
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as error:
            raise TransientMailError(str(error) or type(error).__name__) from error
        if not await self.content_starting():
            raise ClaimLostError("the message was given back before its content went out")
        # Only now: until DATA is sent nothing can have been delivered, so a send stopped
        # while the record was written (a cancellation) gives the message back for a rerun.
        # (A process dying here leaves the record, and the sweep takes it for unknown.)
        self.data_started = True
        try:
            await client.data(content)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as error:
            raise OutcomeUnknownError(str(error) or type(error).__name__) from error
        except aiosmtplib.SMTPResponseException as error:  # a definite answer: not taken
            if 400 <= error.code < 500:
                raise TransientMailError(str(error)) from error
            raise
        return refused

    async def _envelope(
        self, client: aiosmtplib.SMTP, message: EmailMessage
    ) -> tuple[bytes, list[aiosmtplib.SMTPRecipientRefused]]:
        """MAIL FROM and RCPT TO (as aiosmtplib's `send_message` does): the content to send,
        and the recipients refused while others were accepted."""
        sender = extract_sender(message)
        recipients = extract_recipients(message)
        if sender is None or not recipients:
            raise ValueError("a message needs a sender and recipients")
        options = []
        utf8 = not (sender + "".join(recipients)).isascii()
        if utf8:
            if not client.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("the mail server does not accept SMTPUTF8")
            options.append("SMTPUTF8")
        eight_bit = client.supports_extension("8bitmime")
        if eight_bit:
            options.append("BODY=8BITMIME")
        content = flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
        await client.mail(sender, options=options, encoding="utf-8" if utf8 else "ascii")
        refused = []
        for recipient in recipients:
            try:
                await client.rcpt(recipient, encoding="utf-8" if utf8 else "ascii")
            except aiosmtplib.SMTPRecipientRefused as error:
                refused.append(error)
        if len(refused) == len(recipients):
            if all(400 <= refusal.code < 500 for refusal in refused):
                raise TransientMailError(f"every recipient refused for now: {refused}")
            raise aiosmtplib.SMTPRecipientsRefused(refused)
        for refusal in refused:
            logger.warning("the mail server refused recipient %s: %s", refusal.recipient, refusal)
        return content, refused

    async def finish(self) -> None:
        """QUIT after the server took the message: its outcome is known, so a failure (or a
        slow answer) here changes nothing; cancelled, the connection is simply closed."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.quit(timeout=QUIT_TIMEOUT)
        except Exception as error:
            logger.debug("QUIT after a delivered message failed: %s", error)
        finally:
            client.close()

    def close(self) -> None:
        """Drop the connection, if any, without a word to the server."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
