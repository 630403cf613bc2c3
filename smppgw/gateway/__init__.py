"""The gateway: the rooms that send messages to carrier SMSCs and take what comes back.

``engine`` wires them: ``intake`` (the one plan step), ``dispatcher`` and ``bindpool``
(sending), ``deliveries`` (receipts via ``receipts``, MO via ``inbound``), ``commit``
(the group commit), ``changes`` (every status change saved and told), ``actions``
(restore, schedule, cancel, block), ``notify`` (webhooks). ARCHITECTURE.md walks a
message through them.
"""
