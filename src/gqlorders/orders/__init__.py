"""Sales orders (SPEC §3): creation, edits, lifecycle, totals, events and listing."""
