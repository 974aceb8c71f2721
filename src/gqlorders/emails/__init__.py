"""E-mails to customers (SPEC §8): asking for them (`requests`) and recording their way out
(`sending`). Delivery itself belongs to the workers.

A message goes QUEUED -> SENDING (claimed by one job once its PDF is ready) -> SENT or FAILED.
Only the moment its content goes out is uncertain: a send stopped before it (a failure, a
cancellation, a dead process) puts the message back to QUEUED and it is sent again; one
stopped after it, without the mail server's answer, ends FAILED with OUTCOME_UNKNOWN, and the
desk may send it again (`resend_email`, same Message-ID).
"""

from gqlorders.emails.requests import (
    clean_recipients,
    default_recipients,
    queue_email,
    requeue_waiting,
    resend_email,
)
from gqlorders.emails.sending import (
    MAX_EMAIL_ATTEMPTS,
    OUTCOME_UNKNOWN,
    SEND_DEADLINE,
    STALLED_AFTER,
    claim,
    fail,
    held,
    recover_stalled_sends,
    start_content,
)

__all__ = [
    "MAX_EMAIL_ATTEMPTS",
    "OUTCOME_UNKNOWN",
    "SEND_DEADLINE",
    "STALLED_AFTER",
    "claim",
    "clean_recipients",
    "default_recipients",
    "fail",
    "held",
    "queue_email",
    "recover_stalled_sends",
    "requeue_waiting",
    "resend_email",
    "start_content",
]
