"""gqlorders: a self-hosted GraphQL backend for sales orders."""
