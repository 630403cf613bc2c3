"""``SessionConfig.answer_enquire_link``: who answers a keep-alive (SMPP 3.4 §4.11).

On by default: the session answers at once. Off (a simulator's sessions): the request is
owed to the application like any other, which answers it or, playing dead on purpose,
drops it. A value given at construction, not an attribute written on a live session.
"""

from __future__ import annotations

from smppgw.core.events import EnquireLinkReceived, RequestExpired, RequestReceived, ResponseReceived
from smppgw.core.pdu import EnquireLink, EnquireLinkResp
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode
from tests.helpers import SessionPair

QUIET = SessionConfig(enquire_link_interval=None, bind_timeout=None, response_timeout=10.0)


def _pair(answer: bool) -> SessionPair:
    pair = SessionPair.configured(
        esme=QUIET, smsc=SessionConfig(enquire_link_interval=None, answer_enquire_link=answer)
    )
    pair.bind(BindMode.TRX)
    return pair


def test_by_default_the_session_answers_enquire_link_itself() -> None:
    pair = _pair(answer=True)
    pair.esme.send_request(EnquireLink(), 0.0)
    at_esme, at_smsc = pair.pump()
    assert [type(e) for e in at_smsc] == [EnquireLinkReceived]
    assert [type(e) for e in at_esme] == [ResponseReceived]


def test_off_the_application_gets_it_as_a_request_and_answers() -> None:
    pair = _pair(answer=False)
    seq = pair.esme.send_request(EnquireLink(), 0.0)
    at_esme, at_smsc = pair.pump()
    assert at_esme == []  # nothing answered by the session
    (event,) = at_smsc
    assert isinstance(event, RequestReceived) and isinstance(event.pdu, EnquireLink)
    assert event.sequence_number == seq
    assert pair.smsc.statistics().responses_owed == 1
    pair.smsc.send_response(seq, EnquireLinkResp())
    at_esme, _ = pair.pump()
    (answer,) = at_esme
    assert isinstance(answer, ResponseReceived) and isinstance(answer.response, EnquireLinkResp)


def test_off_the_application_may_drop_it_and_the_peer_times_out() -> None:
    pair = _pair(answer=False)
    seq = pair.esme.send_request(EnquireLink(), 0.0)
    pair.pump()
    pair.smsc.drop_request(seq)
    assert pair.smsc.statistics().responses_owed == 0
    assert pair.pump() == ([], [])
    expired = pair.esme.tick(10.0)
    assert any(isinstance(e, RequestExpired) and e.sequence_number == seq for e in expired)
