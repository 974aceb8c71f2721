"""Stock (SPEC §7): on hand, committed and available per item and warehouse."""
