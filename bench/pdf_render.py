"""Render time of our sales-order PDF against a minimal WeasyPrint page, in one process.

    .venv/bin/python bench/pdf_render.py [--lines 5] [--runs 20]

The minimal page is WeasyPrint's floor (layout engine start, one font, one page); the ratio
says what our template and its tables cost on top. No database: the document data is built
here in the shape `gqlorders.documents.document_data` returns.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from weasyprint import HTML

from workers.pdf import refuse_fetch, render_pdf_bytes


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


def median_seconds(render, runs: int) -> float:
    render()  # warm-up: fonts, caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        render()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    data = order_data(args.lines)
    minimal = median_seconds(
        lambda: HTML(string="<p>Hello</p>", url_fetcher=refuse_fetch).write_pdf(), args.runs
    )
    ours = median_seconds(lambda: render_pdf_bytes(data), args.runs)
    print(f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}")
    print(f"minimal WeasyPrint page:   {minimal * 1000:8.1f} ms")
    print(f"our order ({args.lines} lines):     {ours * 1000:8.1f} ms")
    print(f"ratio ours/minimal:        {ours / minimal:8.2f}")


if __name__ == "__main__":
    main()
