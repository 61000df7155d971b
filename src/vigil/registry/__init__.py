"""Model store (specs, sources, cache, integrity) and the SQLite face gallery."""
