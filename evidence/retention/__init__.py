"""The retention window, legal holds, purge with tombstones, and the hash-chained audit trail."""
