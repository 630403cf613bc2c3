"""The simulator logs a refused bind (issue 17): a WARNING with the system_id, the status
and the reason, never the password; a client retrying in a loop gets one line an interval."""

from __future__ import annotations

import logging

import pytest
import trio

from smppgw.core.states import BindMode
from smppgw.net.esme import BindFailed
from tests.simulator.helpers import ACCOUNT, bound, running

WRONG = "Wr0ngPw"


async def test_a_refused_bind_is_one_warning_without_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="simulator.binds")
    with trio.fail_after(10):
        async with running() as sim:
            for _ in range(3):  # a client retrying: one line for the interval
                with pytest.raises(BindFailed):
                    async with bound(sim, BindMode.TRX, password=WRONG):
                        pass
            with pytest.raises(BindFailed):
                async with bound(sim, BindMode.TRX, system_id="nobody", password="Secr3tX"):
                    pass
            async with bound(sim, BindMode.TRX):  # a good bind logs nothing
                pass
    lines = [r.getMessage() for r in caplog.records if r.name == "simulator.binds"]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "simulator.binds")
    wrong, nobody = lines
    assert wrong.startswith(
        f'bind refused system_id={ACCOUNT} status=ESME_RINVPASWD reason="wrong password" mode=trx peer=127.0.0.1:'
    )
    assert nobody.startswith('bind refused system_id=nobody status=ESME_RINVSYSID reason="no such account"')
    assert not any(WRONG in m or "Secr3tX" in m for m in lines)
