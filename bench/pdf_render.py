"""Render time of our sales-order PDF against a minimal WeasyPrint page, in one process.

    .venv/bin/python bench/pdf_render.py [--lines 5] [--runs 20] [--floor] [--profile]

The minimal page is WeasyPrint's floor (layout engine start, one font, one page), measured two
ways: as issue 17 names it, plain `HTML(string=...).write_pdf()` (a new FontConfiguration each
render: the headline `ratio ours/minimal:`), and with one FontConfiguration kept across renders
as ours keeps one per thread (`ratio ours/minimal, fonts kept:`, the stricter comparison). The
ratios say what our template and its tables cost on top. No database: the document data is built
here in the shape `gqlorders.documents.document_data` returns. The renders alternate, so
that all see the same load; each is timed by the clock (wall) and by the CPU time of the
process (rendering is single-threaded: on a shared machine that one moves less).
--profile: a pyinstrument profile of our renders (the bench extra).
--floor: what one more text box costs WeasyPrint (a page of 100 one-word paragraphs against an
empty one, our stylesheet and fonts): the floor of a page with that many texts.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

from weasyprint import HTML, __version__
from weasyprint.text.fonts import FontConfiguration

from workers.pdf import refuse_fetch, render_document, render_pdf_bytes, stylesheet


def order_data(lines: int) -> dict:
    address = {
        "attention": "Camille Martin",
        "street1": "12 rue des Halles",
        "street2": None,
        "city": "Paris",
        "state": None,
        "zip": "75001",
        "country": "FR",
    }
    return {
        "kind": "sales_order",
        "title": "Sales order",
        "organization": "Demo Trading Co.",
        "number": "SO-00042",
        "status": "CONFIRMED",
        "date": "2026-11-28",
        "currency": "EUR",
        "customer": {"name": "Bistrot des Halles", "email": "achats@bistrot.example"},
        "billing_address": address,
        "shipping_address": address,
        "lines": [
            {
                "sku": f"SKU-{n:04d}",
                "description": f"Oak dining chair, model {n}",
                "quantity": "2",
                "rate": "89.90",
                "discount": "10",
                "tax": "VAT 20%",
                "amount": "161.82",
            }
            for n in range(lines)
        ],
        "taxes": [{"name": "VAT 20%", "amount": f"{32.36 * lines:.2f}"}],
        "sub_total": f"{161.82 * lines:.2f}",
        "discount": None,
        "shipping_charge": "45.00",
        "adjustment": None,
        "tax_total": f"{32.36 * lines:.2f}",
        "total": f"{194.18 * lines + 45:.2f}",
        "reference": "PO-2026-118",
        "expected_shipment_date": "2026-12-05",
        "payment_terms": "Net 30",
        "notes": "Deliver through the service entrance.",
        "terms": "Goods remain our property until paid in full.",
    }


Timings = tuple[list[float], list[float]]  # wall, CPU
MINIMAL_PAGE = "<p>Hello</p>"


def alternate(renders: list[Callable[[], object]], runs: int) -> list[Timings]:
    """Each render `runs` times after a warm-up (fonts, caches), taking turns."""
    for render in renders:
        render()
    timings: list[Timings] = [([], []) for _ in renders]
    for _ in range(runs):
        for render, (wall, cpu) in zip(renders, timings, strict=True):
            started, started_cpu = time.perf_counter(), time.process_time()
            render()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    return timings


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def profile(render: Callable[[], object], runs: int) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(runs):
        render()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))


def text_box_floor(runs: int) -> None:
    css, fonts = stylesheet()

    def page(body: str) -> Callable[[], bytes]:
        html = f"<html><body>{body}</body></html>"
        return lambda: HTML(string=html).write_pdf(stylesheets=[css], font_config=fonts)

    (_, empty), (_, full) = alternate([page(""), page("<p>Hello</p>" * 100)], runs)
    print(f"{'one text box more (CPU):':37s}{(ms(full) - ms(empty)) / 100:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile (text)")
    parser.add_argument("--floor", action="store_true", help="cost of one more text box")
    args = parser.parse_args()
    data = order_data(args.lines)
    pages = len(render_document(data).pages)

    kept_fonts = FontConfiguration()

    def minimal() -> bytes:
        return HTML(string=MINIMAL_PAGE, url_fetcher=refuse_fetch).write_pdf()

    def minimal_fonts_kept() -> bytes:
        return HTML(string=MINIMAL_PAGE, url_fetcher=refuse_fetch).write_pdf(font_config=kept_fonts)

    def ours() -> bytes:
        return render_pdf_bytes(data)

    timings = alternate([minimal, minimal_fonts_kept, ours], args.runs)
    (minimal_wall, minimal_cpu), (kept_wall, kept_cpu), (ours_wall, ours_cpu) = timings
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"WeasyPrint {__version__}, load average {load}"
    )
    figures = {
        "minimal WeasyPrint page:": f"{ms(minimal_wall):8.1f} ms (CPU {ms(minimal_cpu):.1f} ms)",
        "minimal, fonts kept:": f"{ms(kept_wall):8.1f} ms (CPU {ms(kept_cpu):.1f} ms)",
        f"our order ({args.lines} lines):": f"{ms(ours_wall):8.1f} ms (CPU {ms(ours_cpu):.1f} ms)",
        "pages of our order:": f"{pages:8d}",
        "ratio ours/minimal:": f"{ms(ours_wall) / ms(minimal_wall):8.2f}",
        "ratio ours/minimal, CPU:": f"{ms(ours_cpu) / ms(minimal_cpu):8.2f}",
        "ratio ours/minimal, fonts kept:": f"{ms(ours_wall) / ms(kept_wall):8.2f}",
        "ratio ours/minimal, fonts kept, CPU:": f"{ms(ours_cpu) / ms(kept_cpu):8.2f}",
    }
    for label, figure in figures.items():
        print(f"{label:37s}{figure}")
    if args.floor:
        text_box_floor(args.runs)
    if args.profile:
        profile(ours, args.runs)


if __name__ == "__main__":
    main()
