"""Records and everything that happens to them at runtime."""
