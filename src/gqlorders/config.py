"""Settings from the environment, read in one place (documented in README)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; refusals are decided before execution (SPEC §10)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_cost: int = 25_000  # fields, each connection's children counted `first` times
    max_batch: int = 5
    max_body_bytes: int = 1_048_576


@dataclass(frozen=True)
class Live:
    """What live updates (subscriptions over WebSocket) may hold; README "Live updates"."""

    max_subscriptions: int = 20  # per connection
    max_connections: int = 100  # per organization, in each server process
    # Open sockets of a server process, authenticated or not (each needs a file descriptor:
    # `ulimit -n` must be above it) -- twice the 1,000 subscribers bench/live.py measures.
    max_process_connections: int = 2000
    # Messages waiting for one socket (over it: closed, 4504), and events waiting for one
    # subscription (over it: that subscription ends with LIVE_LAGGED).
    max_queued: int = 1000
    # Characters of those messages (bytes, for the ASCII that nearly all JSON is): a thousand
    # large messages would otherwise be held for a client that reads nothing. Over it: 4504.
    max_queued_bytes: int = 1 << 20
    keepalive: timedelta = timedelta(seconds=15)  # between pings; no pong by the next: closed
    # How often a socket's token is checked again: a revoked token's sockets close within 1.2
    # times it (a check's result is shared for a fifth of it: api/subscriptions.TokenChecks).
    token_recheck: timedelta = timedelta(seconds=10)
    # The LISTEN connection's PostgreSQL (None: DATABASE_URL's): set it when DATABASE_URL goes
    # through a pooler in transaction mode (PgBouncer), where LISTEN does not work.
    listen_url: str | None = None
    # WebSocket per-message deflate: off, as its zlib state (~50 KiB a socket) and the CPU to
    # compress each message once per socket cost more than it saves on messages of a few
    # hundred bytes (bench/README.md "live").
    per_message_deflate: bool = False


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    smtp_url: str | None
    smtp_from: str
    arq_queue: str | None = None  # None: the installation's own, `gqlorders:<installation id>`
    limits: Limits = Limits()
    log_json: bool = True
    # Of our loggers; libraries' stay at WARNING unless it is DEBUG (uvicorn's start and stop
    # lines at INFO: observability.LIBRARIES_AT_INFO).
    log_level: str = "INFO"
    idempotency_ttl: timedelta = timedelta(hours=24)  # how long a mutation's key answers
    event_retention: timedelta = timedelta(days=30)  # how long the feed keeps events
    webhook_allow_private: bool = False
    webhook_retry_schedule: tuple[timedelta, ...] = ()  # empty: webhooks.RETRY_SCHEDULE
    webhook_disable_after: timedelta = timedelta(days=5)
    live: Live = Live()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("DATA_DIR") or "./var")
    database_url = env.get("DATABASE_URL") or f"sqlite://{data_dir / 'gqlorders.sqlite3'}"
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        smtp_url=env.get("SMTP_URL") or None,
        smtp_from=env.get("SMTP_FROM") or "gqlorders <orders@localhost>",
        arq_queue=env.get("ARQ_QUEUE") or None,
        limits=Limits(
            **{
                name: int(env[f"GQLORDERS_{name.upper()}"])
                for name in Limits.__dataclass_fields__
                if env.get(f"GQLORDERS_{name.upper()}")
            }
        ),
        log_json=env.get("LOG_FORMAT", "json") == "json",
        log_level=parse_log_level(env.get("LOG_LEVEL") or "INFO"),
        idempotency_ttl=parse_duration(env.get("IDEMPOTENCY_TTL") or "24h", "IDEMPOTENCY_TTL"),
        event_retention=parse_duration(env.get("EVENT_RETENTION") or "30d", "EVENT_RETENTION"),
        webhook_allow_private=env.get("WEBHOOK_ALLOW_PRIVATE", "") in {"1", "true", "yes"},
        webhook_retry_schedule=tuple(
            parse_duration(step.strip(), "WEBHOOK_RETRY_SCHEDULE")
            for step in (env.get("WEBHOOK_RETRY_SCHEDULE") or "").split(",")
            if step.strip()
        ),
        webhook_disable_after=parse_duration(
            env.get("WEBHOOK_DISABLE_AFTER") or "5d", "WEBHOOK_DISABLE_AFTER"
        ),
        live=Live(
            max_subscriptions=int(env.get("LIVE_MAX_SUBSCRIPTIONS") or Live.max_subscriptions),
            max_connections=int(env.get("LIVE_MAX_CONNECTIONS") or Live.max_connections),
            max_process_connections=int(
                env.get("LIVE_MAX_PROCESS_CONNECTIONS") or Live.max_process_connections
            ),
            max_queued=int(env.get("LIVE_MAX_QUEUED") or Live.max_queued),
            max_queued_bytes=int(env.get("LIVE_MAX_QUEUED_BYTES") or Live.max_queued_bytes),
            keepalive=parse_duration(env.get("LIVE_KEEPALIVE") or "15s", "LIVE_KEEPALIVE"),
            token_recheck=parse_duration(
                env.get("LIVE_TOKEN_RECHECK") or "10s", "LIVE_TOKEN_RECHECK"
            ),
            listen_url=env.get("LIVE_LISTEN_URL") or None,
            per_message_deflate=env.get("LIVE_PER_MESSAGE_DEFLATE", "") in {"1", "true", "yes"},
        ),
    )


def parse_log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"LOG_LEVEL={text!r}: give one of {', '.join(LOG_LEVELS)}")
    return level


def parse_duration(text: str, name: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s`; a bare number is seconds."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in DURATION_UNITS else (text, "s")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{name}={text!r}: give a duration such as 30d, 12h or 90m") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r}: the duration must be positive")
    return timedelta(**{DURATION_UNITS[unit]: value})
