"""Outgoing webhooks (Standard Webhooks 1.0): an organization's endpoints receive its feed's
events, signed, retried and logged.

- `endpoints`: managing them (the rules of each mutation);
- `fanout`: one delivery per event and endpoint, written in the event's transaction, and the
  sweep that hands due deliveries to jobs;
- `delivery`: one attempt (SSRF-checked connect, signed POST, logged outcome, retry or disable);
- `addresses`: which URLs and addresses may be called; `signing`; `policy`: the schedule.

Modules are imported by name (nothing here): the feed imports `fanout` while it loads itself.
"""
