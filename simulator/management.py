"""The simulator's control surface: what the HTTP API (and in-process tests) can ask.

Kept apart from the protocol handling (``binds.py``, ``submission.py``); every method here
is synchronous bookkeeping on the simulator's state and safe to call from any task of the
simulator's trio run. ``Simulator`` offers these methods as its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from simulator.accounts import AccountState, BindState
from simulator.config import Behaviour, ConfigError, build_behaviour
from simulator.handset_view import handset, handsets
from simulator.message_log import text_of
from simulator.state import SimState
from simulator.twoway import Handsets

__all__ = ["Management"]


def _describe(b: Behaviour) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(type(b)):
        value = getattr(b, field.name)
        if hasattr(value, "describe"):
            value = value.describe()
        elif isinstance(value, tuple) and value and attrs.has(type(value[0])):
            value = [attrs.asdict(v, recurse=True) for v in value]
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[field.name] = value
    return out


class Management:
    """The control surface. ``schedule_unbind`` plans a bind's ``unbind_after`` fault
    (``Binds``); ``keeps`` says which timers a reset keeps (``Scheduler.clear``)."""

    def __init__(
        self,
        state: SimState,
        handsets: Handsets,
        schedule_unbind: Callable[[BindState], None],
        keeps: Callable[[Callable[..., Any]], bool],
    ) -> None:
        self._state = state
        self._handsets = handsets
        self._schedule_unbind = schedule_unbind
        self._keeps = keeps

    def binds_info(self) -> list[dict[str, Any]]:
        return sorted((b.info() for b in self._state.connections), key=lambda i: i["id"])

    def accounts_info(self) -> list[dict[str, Any]]:
        return [
            {
                "system_id": a.account.system_id,
                "binds": len(a.binds),
                "max_binds": a.account.max_binds,
                "submitted": a.submitted,
                "throttled": a.throttled,
                "deliveries_queued": len(a.queue),
                "deliveries_in_flight": a.queue.in_flight,
                "deliveries_delivered": a.queue.delivered,
                "deliveries_dropped": a.queue.dropped,
                "behaviour": _describe(a.behaviour),
            }
            for a in self._state.accounts.values()
        ]

    def _account(self, system_id: str | None) -> AccountState:
        accounts = self._state.accounts
        if system_id is None:
            return next(iter(accounts.values()))
        try:
            return accounts[system_id]
        except KeyError:
            raise ConfigError(f"account: no account {system_id!r}") from None

    def set_behaviour(self, system_id: str | None, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Change behaviour at run time: ``system_id`` None changes every account.

        Raises:
            ConfigError: an unknown account, key or bad value (nothing is changed).
        """
        if not isinstance(patch, Mapping):
            raise ConfigError("behaviour: expected an object")
        state, config = self._state, self._state.config
        targets = list(state.accounts.values()) if system_id is None else [self._account(system_id)]
        built = []
        for account in targets:  # validate everything before changing anything
            merged = {**account.patch, **patch}
            built.append((account, merged, config.behaviour_for(account.account, merged)))
        unbound = state.unbound
        global_patch, global_behaviour = unbound.patch, unbound.behaviour
        if system_id is None:  # connections not yet bound follow the global behaviour
            global_patch = {**global_patch, **patch}
            raw = {**config.raw_global_behaviour(), **global_patch}
            global_behaviour = build_behaviour(raw, "behaviour")
        now = trio.current_time()
        unbound.patch, unbound.behaviour = global_patch, global_behaviour
        for account, merged, behaviour in built:
            previous = account.behaviour.unbind_after
            # A maintenance window starts when it is set: it is not replayed by later patches.
            account.patch = {k: v for k, v in merged.items() if k != "refuse_binds_for"}
            account.apply(behaviour, now)
            if behaviour.unbind_after != previous:  # binds already up follow the new value
                for bind in account.binds:
                    self._schedule_unbind(bind)
        return {a.account.system_id: _describe(a.behaviour) for a in targets}

    def inject_mo(self, *, system_id: str | None, source_addr: str, destination_addr: str, text: str) -> int:
        """Queue an inbound (MO) message to the account's receivers; returns the part count.

        Raises:
            ConfigError: unknown account or addresses out of SMPP bounds.
        """
        account = self._account(system_id)
        for name, value in (("source_addr", source_addr), ("destination_addr", destination_addr)):
            if not value or len(value) > 20:
                raise ConfigError(f"{name}: 1..20 characters (SMPP 3.4 §4.6.1)")
        if not text:
            raise ConfigError("text: must not be empty")
        return self._handsets.send_mo(account, source_addr, destination_addr, text)

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        return [m.to_dict() for m in self._state.store.select(**filters)]

    def recent_mo(self, *, account: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The MO messages (injected or handset replies) last queued to the ESMEs, newest
        first: one entry per deliver_sm (a concatenated message is several), decoded.

        Raises:
            ConfigError: unknown account.
        """
        states = [self._account(account)] if account is not None else self._state.accounts.values()
        found = [(d, a.account.system_id) for a in states for d in a.queue.recent_mo]
        found.sort(key=lambda item: item[0].queued_at, reverse=True)
        return [
            {
                "account": system_id,
                "at": d.queued_at,
                "source_addr": d.pdu.source_addr,
                "destination_addr": d.pdu.destination_addr,
                "data_coding": d.pdu.data_coding,
                "text": text_of(d.pdu.short_message, d.pdu.data_coding, d.pdu.esm_class),
                "result": d.result,
                "attempts": d.attempts,
            }
            for d, system_id in found[:limit]
        ]

    def handsets(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """The numbers that got MTs lately, newest first (``handset_view.handsets``)."""
        return handsets(self._state, limit=limit)

    def handset(self, number: str, *, limit: int = 50) -> dict[str, Any]:
        """One number's conversation, where a reply goes and what its latest MT asks
        (``handset_view.handset``)."""
        return handset(self._state, number, limit=limit)

    def reset(self) -> None:
        """Forget received messages, queued deliveries and pending timers (binds stay).

        Responses still owed to the ESME are kept: every request gets its answer.
        """
        state = self._state
        state.store.clear()
        state.scheduler.clear(keep=self._keeps)
        for account in state.accounts.values():
            account.queue.clear()
            account.submitted = 0
            account.throttled = 0

    def stats(self) -> dict[str, Any]:
        state = self._state
        return {
            "connections": len(state.connections),
            "binds": sum(len(a.binds) for a in state.accounts.values()),
            "messages": len(state.store),
            "scheduled": len(state.scheduler),
            "accounts": {
                a.account.system_id: {"submitted": a.submitted, "throttled": a.throttled}
                for a in state.accounts.values()
            },
        }
