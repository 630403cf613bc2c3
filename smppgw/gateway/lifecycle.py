"""A message's life at DEBUG: one line per step, each with the message id.

    DEBUG smppgw.gateway.lifecycle: accepted id=01J... to=447700900001 parts=1 route=default
    DEBUG smppgw.gateway.lifecycle: queued id=01J... smsc=a parts=1
    DEBUG smppgw.gateway.lifecycle: submit_sm sent id=01J... part=1 smsc=a seq=2 attempt=1
    DEBUG smppgw.gateway.lifecycle: submit_sm_resp id=01J... part=1 smsc=a seq=2 status=ESME_ROK message_id=1
    DEBUG smppgw.gateway.lifecycle: receipt id=01J... part=1 smsc=a message_id=1 stat=DELIVRD
    DEBUG smppgw.gateway.lifecycle: final id=01J... status=delivered

The steps are logged where they happen (engine, intake, dispatcher, receipts, changes),
each behind ``on()``, so with DEBUG off a step costs one call of ``isEnabledFor`` (a
cached lookup) and builds nothing. Their own logger name lets an operator turn on just
these lines (``smppgw.gateway.lifecycle``). Never the text (STYLE, logging).
"""

from __future__ import annotations

import functools
import logging

from smppgw.core.constants import status_name
from smppgw.core.events import ResponseReceived
from smppgw.store.base import MessageRecord, PartRecord
from smppgw.support.logsafe import Fields, kv

__all__ = ["accepted", "answered", "final", "on", "queued", "receipt", "sent"]

log = logging.getLogger(__name__)

#: Whether the lifecycle lines are logged now (DEBUG on for this logger).
on = functools.partial(log.isEnabledFor, logging.DEBUG)


def accepted(record: MessageRecord) -> None:
    log.debug(
        "accepted %s",
        kv(
            id=record.id,
            to=record.destination,
            parts=len(record.parts),
            route=record.route,
            status=record.status.value,
        ),
    )


def queued(record: MessageRecord, smsc: str, parts: int) -> None:
    log.debug("queued %s", kv(id=record.id, smsc=smsc, parts=parts))


def sent(smsc: str, record: MessageRecord, part: PartRecord, seq: int) -> None:
    log.debug(
        "submit_sm sent %s", kv(id=record.id, part=part.index, smsc=smsc, seq=seq, attempt=part.attempts)
    )


def answered(smsc: str, record: MessageRecord, part: PartRecord, outcome: ResponseReceived) -> None:
    fields: dict[str, object] = {
        "id": record.id, "part": part.index, "smsc": smsc, "seq": outcome.sequence_number,
        "status": status_name(outcome.status),
    }  # fmt: skip
    message_id = getattr(outcome.response, "message_id", None)
    if message_id:  # (an error response carries none)
        fields["message_id"] = message_id
    log.debug("submit_sm_resp %s", Fields(fields))


def receipt(smsc: str, record: MessageRecord, part: PartRecord, stat: str) -> None:
    log.debug(
        "receipt %s",
        kv(id=record.id, part=part.index, smsc=smsc, message_id=part.smsc_message_id, stat=stat),
    )


def final(record: MessageRecord) -> None:
    if record.error:
        log.debug("final %s", kv(id=record.id, status=record.status.value, error=record.error))
    else:
        log.debug("final %s", kv(id=record.id, status=record.status.value))
