"""An unbind that arrives while responses are owed (SMPP 3.4 §4.2: answer them first)."""

from __future__ import annotations

import attrs

from smppgw.core.events import ResponseReceived, UnbindReceived, Unbound
from smppgw.core.pdu import SubmitSm, SubmitSmResp, Unbind
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode, SessionState
from tests.helpers import SessionPair, bound

QUIET = SessionConfig(enquire_link_interval=None, bind_timeout=None, response_timeout=10.0)


def test_owed_submit_sm_resp_goes_out_before_the_unbind_resp() -> None:
    pair = bound(BindMode.TRX, QUIET)
    submit = pair.esme.send_request(SubmitSm(destination_addr="447700900001"), 0.0)
    pair.esme.send_request(Unbind(), 0.0)
    _, at_smsc = pair.pump()
    assert any(isinstance(e, UnbindReceived) for e in at_smsc)
    # The submit is still owed: no unbind_resp yet, the session stays bound.
    assert pair.smsc.state is SessionState.BOUND_TRX
    assert pair.esme.state is SessionState.UNBINDING
    pair.smsc.send_response(submit, SubmitSmResp(message_id="42"))
    at_esme, _ = pair.pump()
    kinds = [type(e) for e in at_esme]
    assert kinds == [ResponseReceived, ResponseReceived, Unbound]
    first = at_esme[0]
    assert isinstance(first, ResponseReceived) and isinstance(first.response, SubmitSmResp)
    assert first.response.message_id == "42"
    assert pair.smsc.state is SessionState.CLOSED
    assert pair.esme.state is SessionState.CLOSED


def test_unbind_is_answered_anyway_when_the_application_never_answers() -> None:
    pair = SessionPair.configured(esme=QUIET, smsc=attrs.evolve(QUIET, response_timeout=5.0))
    pair.bind(BindMode.TRX)
    pair.esme.send_request(SubmitSm(destination_addr="447700900001"), 0.0)
    pair.esme.send_request(Unbind(), 0.0)
    pair.pump()
    assert pair.smsc.next_deadline() == 5.0
    pair.tick(5.0)
    at_esme, _ = pair.pump()
    assert any(isinstance(e, Unbound) and e.status == 0 for e in at_esme)
    assert pair.smsc.state is SessionState.CLOSED


def test_unbind_with_nothing_owed_is_answered_at_once() -> None:
    pair = bound(BindMode.TX, QUIET)
    pair.esme.send_request(Unbind(), 0.0)
    at_esme, _ = pair.pump()
    assert any(isinstance(e, Unbound) for e in at_esme)
    assert pair.smsc.state is SessionState.CLOSED
