"""Delivering e-mail: SMTP through aiosmtplib, or .eml files when no SMTP server is set."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlparse

import aiosmtplib

logger = logging.getLogger("gqlorders.mail")


class TransientMailError(Exception):
    """The mail server could not be reached or refused for now: worth a retry."""


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
    # One stable Message-ID per send request, so that any duplicate is recognizable downstream.
    message["Message-ID"] = make_msgid(idstring=message_key, domain="gqlorders.local")
    message.set_content(body)
    if attachment is not None:
        filename, content = attachment
        message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return message


async def deliver(message: EmailMessage, smtp_url: str | None, outbox_dir: Path, key: str) -> None:
    """Send through SMTP_URL (smtp://user:pass@host:port, smtps:// for TLS), or write an .eml."""
    if smtp_url is None:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        path = outbox_dir / f"{key}.eml"
        path.write_bytes(bytes(message))
        logger.info("no SMTP_URL: wrote e-mail %r to %s", message["Subject"], path)
        return
    url = urlparse(smtp_url)
    try:
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=url.scheme == "smtp+starttls",
            timeout=30,
        )
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as error:
        raise TransientMailError(str(error)) from error
    except aiosmtplib.SMTPResponseException as error:
        if 400 <= error.code < 500:
            raise TransientMailError(str(error)) from error
        raise
