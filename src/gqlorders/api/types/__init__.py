"""GraphQL object types. Their root values are the tortoise rows themselves, so plain fields
cost nothing beyond the executor; relations go through the request's DataLoaders."""
