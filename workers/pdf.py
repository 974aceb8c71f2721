"""Rendering documents to PDF with WeasyPrint, off the event loop (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

if TYPE_CHECKING:
    from weasyprint import CSS, Document
    from weasyprint.text.fonts import FontConfiguration

TEMPLATES = Path(__file__).parent / "templates"
# The lines table has a fixed layout (WeasyPrint measures no cell's text: the cost of its
# automatic layout grew with every line), so the widths of its columns are set here, in pt.
# Each is at least what fits its heading; one whose longest value needs more gets it (digits
# are DejaVu Sans's widest characters, 0.636 em of 9pt, plus 4pt of padding on each side; the
# tax's column is sized by its longest word, as its names wrap between words), and the item's
# column takes what is left, as the automatic layout did, but never less than ITEM_MINIMUM_PT:
# the columns widened for their values give back their widening, in proportion, for it. A word
# wider than its cell still (letters wider than digits, a long SKU) breaks anywhere in it
# (document.css), rather than running into the next column.
CHARACTER_PT = 5.8
CELL_PADDING_PT = 8
MINIMUM_WIDTHS_PT = {
    "n": 22,
    "quantity": 40.5,
    "rate": 58,
    "discount": 44.5,
    "tax": 65,
    "amount": 98.7,
}
GROSS_AMOUNT_PT = 114  # the heading "Amount incl. tax (EUR)"
PAGE_CONTENT_PT = 504.5  # A4's 595.3pt less document.css's margins (16mm each side)
ITEM_MINIMUM_PT = 120
# Threads that render PDFs in a process: their own, not the event loop's default executor
# (shared with getaddrinfo and others, up to min(32, CPUs + 4) threads), since each rendering
# thread parses the stylesheet and sets up its fonts once (stylesheet()), and rendering holds
# the GIL most of the time, so that more threads would add that setup and memory, not speed.
RENDER_THREADS = 2
# Raised when this module changes how a document looks in a way its constants and templates
# do not show: part of layout_digest(), so documents of the old look are rendered again.
LAYOUT_VERSION = 1
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,  # compiled once per process, no look at the file on later renders
)
_per_thread = threading.local()  # the parsed stylesheet and fonts of each rendering thread
_renderers = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="gqlorders-pdf")


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Templates get no network (nor files): everything they show is inline."""
    raise ValueError(f"fetching {url} is not allowed in documents")


def stylesheet() -> tuple[CSS, FontConfiguration]:
    """The document's stylesheet, parsed once per thread, with the font configuration it was
    parsed against: reused by every render of that thread (one per thread, as Pango's font
    map is not to be shared between threads rendering at once)."""
    if not hasattr(_per_thread, "stylesheet"):
        from weasyprint import CSS  # imported lazily: heavy, and only workers need it
        from weasyprint.text.fonts import FontConfiguration

        fonts = FontConfiguration()
        css = CSS(string=_stylesheet_text(), font_config=fonts)
        _per_thread.stylesheet = (css, fonts)
    return _per_thread.stylesheet


@cache
def _stylesheet_text() -> str:
    return (TEMPLATES / "document.css").read_text(encoding="utf-8")


@cache
def layout_digest() -> str:
    """What decides a document's look besides its data: the template, the stylesheet, the
    column widths' constants and LAYOUT_VERSION. Part of the hash that names its file
    (documents.content_hash), so that a deploy that changes the look renders documents anew."""
    layout = {
        "version": LAYOUT_VERSION,
        "template": (TEMPLATES / "document.html").read_text(encoding="utf-8"),
        "stylesheet": _stylesheet_text(),
        "widths": [
            CHARACTER_PT,
            CELL_PADDING_PT,
            MINIMUM_WIDTHS_PT,
            GROSS_AMOUNT_PT,
            PAGE_CONTENT_PT,
            ITEM_MINIMUM_PT,
        ],
    }
    return hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()


def column_widths(data: dict[str, Any]) -> list[float | None]:
    """The lines table's column widths in pt, in column order (None: the item's, the rest)."""
    lines = data["lines"]
    minimum = MINIMUM_WIDTHS_PT | (
        {"amount": GROSS_AMOUNT_PT} if data.get("prices_include_tax") else {}
    )

    def longest(key: str) -> int:
        return max((len(word) for line in lines for word in line[key].split()), default=0)

    needed = {"n": len(str(len(lines)))} | {
        key: longest(key) for key in ("quantity", "rate", "discount", "tax", "amount")
    }
    widths = {
        key: max(minimum[key], characters * CHARACTER_PT + CELL_PADDING_PT)
        for key, characters in needed.items()
    }
    excess = sum(widths.values()) - (PAGE_CONTENT_PT - ITEM_MINIMUM_PT)
    widening = sum(widths[key] - minimum[key] for key in widths)
    if excess > 0 and widening > 0:
        given_back = min(1, excess / widening)
        widths = {key: width - (width - minimum[key]) * given_back for key, width in widths.items()}
    rounded = {key: round(width, 1) for key, width in widths.items()}
    return [rounded["n"], None, *(rounded[key] for key in needed if key != "n")]


def render_html(data: dict[str, Any]) -> str:
    return _environment.get_template("document.html").render(d=data, widths=column_widths(data))


def render_document(data: dict[str, Any]) -> Document:
    """The document laid out in pages, not yet written as PDF."""
    from weasyprint import HTML

    css, fonts = stylesheet()
    return HTML(string=render_html(data), url_fetcher=refuse_fetch).render(
        stylesheets=[css], font_config=fonts
    )


def render_pdf_bytes(data: dict[str, Any]) -> bytes:
    return render_document(data).write_pdf()


def write_pdf(data: dict[str, Any], path: Path) -> None:
    """Render to `path`, atomically: written under a temporary name and renamed, so that a
    reader never sees half a file."""
    pdf = render_pdf_bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    partial.write_bytes(pdf)
    partial.replace(path)


async def render_pdf_file(data: dict[str, Any], path: Path) -> None:
    """`write_pdf` in one of the RENDER_THREADS, so the event loop keeps serving (CPU-bound).
    The thread finishes the file even if the awaiting job is cut short (a thread cannot be
    stopped): a later run of the job finds it there instead of starting over."""
    await asyncio.get_running_loop().run_in_executor(_renderers, write_pdf, data, path)
