"""Packages and shipments (SPEC §6)."""
