"""The HTTP queue API: FastAPI behind the HTTP front (``smppgw.net.http``), the intake
routes answered without it (``accept.py``); it reaches the store only through the
protocols of ``smppgw.store.base``."""
