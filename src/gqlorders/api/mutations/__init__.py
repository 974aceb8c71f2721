"""Mutations, one module per concept. Each is four steps: authorize, decode IDs, call one
domain function, return the payload (a DomainError becomes the payload's `errors`)."""
