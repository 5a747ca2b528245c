"""Journal: the hash-chained audit log of every decision, and the SQL store beside it."""
