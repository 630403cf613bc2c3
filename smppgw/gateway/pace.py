"""What steers one SMSC's adaptive rate: the carrier's pushback and congestion_state,
applied to this process's ``AdaptiveRate`` and/or the rate shared with other gateways
(``gateway.shared``), and the rate gauge (``gateway.dispatcher``'s outcomes)."""

from __future__ import annotations

from typing import Any

from smppgw.core.constants import TlvTag
from smppgw.core.pdu import SubmitSmResp
from smppgw.gateway.shared import SharedAccount
from smppgw.policy.throttle import AdaptiveRate

__all__ = ["Pace"]


class Pace:
    __slots__ = ("account", "adaptive", "gauge", "shared")

    def __init__(self, account: AdaptiveRate | None, shared: SharedAccount | None, gauge: Any) -> None:
        self.account = account
        self.shared = shared
        self.gauge = gauge  # the smppgw_throttle_rate child of this SMSC
        self.adaptive = account is not None or shared is not None

    def throttled(self, now: float) -> None:
        """ESME_RTHROTTLED / ESME_RMSGQFUL: cut the rate (at most once per hold)."""
        if self.account is not None and self.account.throttled(now):
            self.gauge.set(self.account.rate)
        if self.shared is not None:
            self.shared.throttled()  # sent by the shared limiter's task

    def congestion(self, response: object, now: float) -> None:
        """A v5.0 congestion_state TLV on a submit_sm_resp steers the rate too."""
        resp = response if isinstance(response, SubmitSmResp) and response.tlvs else None
        tlv = None if resp is None else resp.get_tlv(TlvTag.CONGESTION_STATE)
        if tlv is None or not tlv.value:
            return
        if self.account is not None:
            self.account.congestion(tlv.value[0], now)
        if self.shared is not None:
            self.shared.congestion(tlv.value[0])

    def set_gauge(self) -> None:
        rate = self.account.rate if self.account is not None else None
        if rate is None and self.shared is not None:
            rate = self.shared.rate
        if rate is not None:
            self.gauge.set(rate)
