"""Small shared helpers (metrics collector, GC tuning, config checks, CLI errors)."""
