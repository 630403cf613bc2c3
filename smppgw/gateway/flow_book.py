"""The flows a gateway knows: those of its config (``[[twoway.flow]]``, ``flows_dir``),
read-only, and those put through the API (``PUT /v1/flows/{name}``), kept in the store
(``FlowStore``) and here, checked and built (``twoway.flow_config.parse_flow``). A
stored definition that no longer builds (the rules got stricter) is logged and left out.

A flow's keywords may not be another flow's, nor an opt-out or opt-in word, nor a
custom rule's keyword (``Keywords.classify`` says what a keyword already is): a
``FlowError`` naming ``keywords[i]``, as at config load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smppgw.store.flows import FlowDefinition, FlowStore
from smppgw.support.logsafe import kv
from smppgw.twoway.flow_checks import FlowError
from smppgw.twoway.flow_config import parse_flow
from smppgw.twoway.flow_model import Flow
from smppgw.twoway.keywords import Keywords, Kind
from smppgw.twoway.text import words

__all__ = ["FlowBook"]

log = logging.getLogger(__name__)

_TAKEN = {Kind.OPT_OUT: "an opt-out keyword", Kind.OPT_IN: "an opt-in keyword"}


class FlowBook:
    def __init__(
        self,
        store: FlowStore,
        *,
        configured: Sequence[Flow] = (),
        keywords: Keywords | None = None,
        now: Callable[[], float],
    ) -> None:
        """``now``: wall-clock seconds (the definitions' times)."""
        self.store = store
        self.configured = {f.name: f for f in configured}
        self.keywords = keywords or Keywords()
        self.now = now
        self._stored: dict[str, Flow] = {}
        self._times: dict[str, tuple[float, float]] = {}  # name -> (created, updated)

    def reload(self) -> int:
        """Read the stored flows (at start); returns how many are usable."""
        self._stored.clear()
        for d in self.store.flow_definitions():
            try:
                self._stored[d.name] = parse_flow(d.definition, name=d.name)
            except FlowError as exc:
                log.warning("stored flow not usable %s", kv(flow=d.name, error=str(exc)))
                continue
            self._times[d.name] = (d.created_at, d.updated_at)
        return len(self._stored)

    def get(self, name: str) -> Flow | None:
        return self.configured.get(name) or self._stored.get(name)

    def all(self) -> list[Flow]:
        """Every flow: the config's first (their keywords are checked first)."""
        return [
            *self.configured.values(),
            *(f for n, f in sorted(self._stored.items()) if n not in self.configured),
        ]

    def origin(self, name: str) -> str:
        """Where the flow comes from: "config" or "api"."""
        return "config" if name in self.configured else "api"

    def times(self, name: str) -> tuple[float, float] | None:
        """(created, updated), wall clock, of a stored flow."""
        return self._times.get(name)

    def put(self, name: str, data: Mapping[str, Any]) -> tuple[Flow, bool]:
        """Check and store the flow ``data`` defines under ``name``; (the flow, whether it
        is new). Raises FlowError naming the key; ValueError for a flow of the config;
        StoreError."""
        if name in self.configured:
            raise ValueError(f"flow {name!r} is defined in the config ([[twoway.flow]]); change it there")
        flow = parse_flow(data, name=name)
        self._check_keywords(flow)
        now = self.now()
        created = self._times.get(name, (now, now))[0]
        self.store.put_flow(
            FlowDefinition(name=name, definition=dict(data), created_at=created, updated_at=now)
        )
        new = name not in self._stored
        self._stored[name], self._times[name] = flow, (created, now)
        log.info("flow put %s", kv(flow=name, steps=len(flow.steps), new=new))
        return flow, new

    def delete(self, name: str) -> bool:
        """Forget a stored flow (its active runs end ``cancelled`` when next touched).
        Raises ValueError for a flow of the config; StoreError."""
        if name in self.configured:
            raise ValueError(f"flow {name!r} is defined in the config ([[twoway.flow]]); remove it there")
        gone = self.store.delete_flow(name)
        self._stored.pop(name, None)
        self._times.pop(name, None)
        return gone

    def _check_keywords(self, flow: Flow) -> None:
        others = {
            " ".join(words(k)): other.name
            for other in self.all()
            if other.name != flow.name
            for k in other.keywords
        }
        for i, keyword in enumerate(flow.keywords):
            folded = " ".join(words(keyword))
            if folded in others:
                raise FlowError(
                    f"keywords[{i}]", f"{keyword!r} is already the keyword of flow {others[folded]!r}"
                )
            match = self.keywords.classify(keyword)
            if match is not None and match.kind in _TAKEN:
                raise FlowError(f"keywords[{i}]", f"{keyword!r} is {_TAKEN[match.kind]}")
            if match is not None and match.kind is Kind.CUSTOM:
                raise FlowError(
                    f"keywords[{i}]", f"{keyword!r} is the keyword of [[twoway.rule]] {match.rule!r}"
                )
