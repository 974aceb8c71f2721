"""The GraphQL API: thin strawberry resolvers over the domain."""
