"""Scale-out proof: several API and worker processes on one PostgreSQL and one Redis."""
