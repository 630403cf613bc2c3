"""Persistence behind protocols (ARCHITECTURE.md): ``base`` holds the records and the protocols
callers type against; ``sqlite`` (embedded, durable) and ``memory`` (tests, one-shot
tools) implement them all; Redis next."""

__all__: list[str] = []
