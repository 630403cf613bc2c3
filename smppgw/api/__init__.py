"""The HTTP queue API (FastAPI on Hypercorn's trio worker); it reaches the store only
through the protocols of ``smppgw.store.base``."""
