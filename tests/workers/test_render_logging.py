"""The JSON log carries our events, not WeasyPrint's progress (issue 17): a PDF rendered
through the API logs none of WeasyPrint's seven INFO lines at the default level; LOG_LEVEL=DEBUG
lets them through. (`restore_logging`, tests/conftest.py, puts the loggers back after each.)"""

from __future__ import annotations

import json

import pytest

from gqlorders.config import load_settings
from gqlorders.observability import configure_logging
from tests.support import Organization
from tests.workers.support import RENDER_PDF, desk_order, drain

RENDER_STATE = "query ($id: ID!) { salesOrder(id: $id) { pdf { state } } }"
# (Step 2, parsing our stylesheet, comes once per rendering thread: workers/pdf.py keeps it.)
PARSING_THE_STYLESHEET = "Step 2 - Fetching and parsing CSS - CSS string"
PROGRESS = [
    "Step 1 - Fetching and parsing HTML - HTML string",
    "Step 3 - Applying CSS",
    "Step 4 - Creating formatting structure",
    "Step 5 - Creating layout - Page 1",
    "Step 6 - Creating PDF",
    "Step 7 - Adding PDF metadata",
]


async def _render_logged(
    org: Organization, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> list[dict]:
    """Log as `gqlorders serve` does with this environment, render a PDF through the API, and
    return the JSON lines WeasyPrint's loggers wrote."""
    configure_logging(load_settings(environ).log_level)
    capsys.readouterr()
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    assert (await org.api.data(RENDER_STATE, {"id": order["id"]}))["salesOrder"]["pdf"][
        "state"
    ] == "READY"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    return [line for line in lines if line["logger"].startswith("weasyprint")]


async def test_weasyprint_progress_stays_out_of_the_log_by_default(
    org: Organization, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _render_logged(org, {}, capsys) == []


async def test_log_level_info_keeps_it_out_too(
    org: Organization, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _render_logged(org, {"LOG_LEVEL": "info"}, capsys) == []


async def test_log_level_debug_lets_it_through(
    org: Organization, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logged = await _render_logged(org, {"LOG_LEVEL": "DEBUG"}, capsys)

    progress = [line for line in logged if line["logger"] == "weasyprint.progress"]
    assert [m for line in progress if (m := line["message"]) != PARSING_THE_STYLESHEET] == PROGRESS
    assert {line["level"] for line in progress} == {"INFO"}


def test_an_unknown_log_level_is_refused_with_the_levels_there_are() -> None:
    with pytest.raises(ValueError) as refused:
        load_settings({"LOG_LEVEL": "verbose"})
    assert str(refused.value) == (
        "LOG_LEVEL='verbose': give one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )
