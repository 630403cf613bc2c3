"""The ESME suite: the suite plays an SMSC and judges the client under test.

How a run goes
--------------
``run_esme_cases`` groups the selected cases by ``EsmeCase.run`` and, for each group,
starts one ``Harness``: it listens (port 0 works), starts COMMAND with ``{host}`` and
``{port}`` substituted (or waits for the client to connect), and answers everything
the client sends the way a lenient carrier would: binds succeed (with the given
credentials only, if ``--system-id``/``--password`` are set), submit_sm get ESME_ROK and a
fresh message_id, enquire_link is answered, the client's unbind is answered
``--unbind-resp-delay`` late. The group's cases are then *driven* one after the other;
when they are done the client is left to finish by itself until ``--wait`` is up, then
gets SIGTERM and ``--grace`` seconds, then SIGKILL. Finally every case's *judge* runs
over what was recorded.

Two client runs exist today: ``MAIN`` (almost every case) and ``SMSC_UNBIND`` (the
harness unbinds the client first, which ends that run).

What the client under test must do
----------------------------------
Bind (as a transceiver, or as a transmitter plus a receiver), submit at least 16
messages with registered_delivery=1 while keeping up to ``--client-window`` outstanding, answer
every deliver_sm, stay bound about a second after its last response, then unbind, all
within ``--wait`` seconds. ``smppgw send`` in a loop, a gateway with a small campaign,
or a test script all fit. A client that submits fewer messages gets SKIP for the cases
that needed more.

Writing an ESME case
--------------------
A case is an ``EsmeCase`` value in one of the modules of ``conformance.esme.cases``, listed
in its module's ``CASES`` (and so in ``ALL``)::

    async def _answers(ctx: EsmeContext) -> None:
        session = await ctx.session()                      # a bound session (waits for one)
        frame = await ctx.request(session, EnquireLink())  # send, await the client's response
        if frame.status != 0:
            raise CaseFailed(f"enquire_link answered with {frame.describe()}")

    EsmeCase(
        id="keepalive.answers-enquire-link",   # AREA.slug; AREA is the module's area
        title="...", spec="3.4 §4.11", severity=Severity.MUST, checklist=(29,),
        drive=_answers,                        # active part, during the client run
    )

The handle a case gets (``EsmeContext``):

* ``await ctx.session(receiver=..., transmitter=...)``: a live bound session;
  CaseError if the client never binds, CaseSkipped if it never binds that way.
* ``await ctx.submit()``: the next submit_sm the harness *held back* for this case.
  Declare how many with ``EsmeCase(submits=N)``: the harness hands the client's
  submits to the cases in ``ALL`` order, so the case that takes every remaining one
  (``flow.window-respected``) stays last. Answer each with ``await held.respond(status,
  message_id=...)`` or ``await held.nack(status)``; what a case leaves unanswered is
  answered ESME_ROK when it ends.
* ``await ctx.request(session, pdu)``: send deliver_sm / enquire_link / unbind / ... and
  get the client's response frame (CaseFailed on timeout or close).
* ``ctx.sessions``: every ``ClientSession`` of the run, with its books: ``requests``
  (arrival time + frame), ``responses``, ``outstanding``, ``max_outstanding``,
  ``reused`` (sequence numbers reused in flight), ``bind_mode``, ``unbind_at``,
  ``unbind_resp_at``, ``closed_at``, ``sent`` (our requests by sequence number).
* ``ctx.shared``: facts one case leaves for a later one (``flow.throttle-backoff``
  leaves the throttled submit for ``flow.throttled-resubmitted``).
* ``ctx.note(text)``, ``ctx.cite(line)`` (evidence shown in the report), ``ctx.strict``.

A *judge* (``EsmeCase(judge=fn)``, a plain function of the context) runs after the
client run, over those books: passive checks such as sequence numbers need no driving.
Raise ``CaseFailed`` for a finding, ``CaseSkipped`` when the run gave no chance to judge.
A case needing a fresh client start gets its own ``run`` name: the runner starts COMMAND
once more for every run name in use (add it to ``_RUN_ORDER`` in ``runner.py``).
"""

from __future__ import annotations

from conformance.esme.cases import ALL, AREAS
from conformance.esme.context import MAIN, SMSC_UNBIND, EsmeCase, EsmeContext, EsmeSettings, HeldRequest
from conformance.esme.harness import ClientRun, Harness, HarnessError
from conformance.esme.runner import EsmeReport, run_esme_cases
from conformance.esme.session import ClientSession

__all__ = [
    "ALL",
    "AREAS",
    "MAIN",
    "SMSC_UNBIND",
    "ClientRun",
    "ClientSession",
    "EsmeCase",
    "EsmeContext",
    "EsmeReport",
    "EsmeSettings",
    "Harness",
    "HarnessError",
    "HeldRequest",
    "run_esme_cases",
]
