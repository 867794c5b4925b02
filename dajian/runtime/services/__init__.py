"""Runtime services: record writes, reads, indexes."""
