"""Rendering documents to PDF with WeasyPrint, off the event loop (STACK_NOTES)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
)


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Templates get no network (nor files): everything they show is inline."""
    raise ValueError(f"fetching {url} is not allowed in documents")


def render_html(data: dict[str, Any]) -> str:
    css = (TEMPLATES / "document.css").read_text(encoding="utf-8")
    return _environment.get_template("document.html").render(d=data, css=css)


def render_pdf_bytes(data: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # imported lazily: heavy, and only workers need it

    return HTML(string=render_html(data), url_fetcher=refuse_fetch).write_pdf()


async def render_pdf(data: dict[str, Any]) -> bytes:
    """CPU-bound: runs in a thread so the event loop keeps serving."""
    return await asyncio.to_thread(render_pdf_bytes, data)
