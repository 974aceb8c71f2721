"""Master data (SPEC §2): customers, items, taxes and warehouses of one organization."""
