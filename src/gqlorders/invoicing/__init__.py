"""Invoices converted from sales orders (SPEC §5)."""
