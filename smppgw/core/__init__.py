"""The sans-IO SMPP core: codec, PDUs, session, text, receipts (no I/O, no clock)."""

# The PDU classes are declared in pdu_base/pdu_session/pdu_message and finished (field
# tables, request-response pairs) by smppgw.core.pdu: importing it with the package makes
# every class usable whichever module it was imported from.
from smppgw.core import pdu as _pdu  # noqa: F401
