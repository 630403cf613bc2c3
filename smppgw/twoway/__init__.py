"""2-way SMS rules, pure like ``policy``: keyword matching (``keywords``), consent
decisions, conversation state machines and quiet hours, with ``now`` injected. The
gateway's inbound path (``gateway/twoway.py``) wires them in; their records live in the
store behind protocols."""
