"""Black-box SMPP 3.4 conformance suite (DESIGN §1; SMPP-REFERENCE §8).

Two directions, one case model (``conformance.model``):

* ``conformance.smsc``: the suite plays an ESME against a live SMSC. Cases are data
  (id, title, spec section, role, severity) plus a script of small steps: send a PDU or
  raw octets, expect a response / status / close, wait. Each case runs on fresh
  connections, bounded in time, and never leaves a bind behind.
* ``conformance.esme``: the suite plays a permissive SMSC, starts the client under test
  (or waits for it), drives deliveries and refusals at it and judges what it does.

``conformance.report`` renders results as a terminal table, JSON and JUnit XML, with the
observed PDUs of every case that did not pass; ``conformance.cli`` is
``smpp-conformance``. Only ``smppgw.core`` and ``smppgw.net`` are used (DESIGN §2).
"""

__all__: list[str] = []
