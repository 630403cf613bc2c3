"""Persistence behind protocols (DESIGN §2): memory today; SQLite and Redis next."""
