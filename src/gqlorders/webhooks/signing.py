"""Standard Webhooks 1.0 signatures, made with the reference library partners verify with."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64, the form the libraries take."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(keys: Iterable[str], message_id: str, at: datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,` signature per secret, space-separated (a receiver
    accepts the message when any one matches the secret it holds: key rotation)."""
    return " ".join(Webhook(key).sign(message_id, at, body) for key in keys)
