"""Rendering documents to PDF with WeasyPrint, off the event loop (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import os
import threading
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


def write_pdf(data: dict[str, Any], path: Path) -> None:
    """Render to `path`, atomically: written under a temporary name and renamed, so that a
    reader never sees half a file."""
    pdf = render_pdf_bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    partial.write_bytes(pdf)
    partial.replace(path)


async def render_pdf_file(data: dict[str, Any], path: Path) -> None:
    """`write_pdf` in a thread, so the event loop keeps serving (CPU-bound). The thread
    finishes the file even if the awaiting job is cut short (a thread cannot be stopped): a
    later run of the job finds it there instead of starting over."""
    await asyncio.to_thread(write_pdf, data, path)
