"""Field types: one module per type, each registered in :mod:`.registry`."""
