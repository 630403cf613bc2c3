"""Before the SMSC cases: one bind with the suite's credentials, then unbind.

Every case starts with a bind, so when the SMSC cannot be reached or refuses the
account (a wrong password, an unknown system_id) a run of all the cases would only
print the same error a hundred times over and take minutes doing it. ``preflight``
finds that out in one exchange and says it in one line. A transceiver bind is tried
first, as most cases bind so; an SMSC that takes only transmitter binds still passes.
"""

from __future__ import annotations

import trio

from conformance.model import CaseError, CaseFailed
from conformance.probe import Transcript
from conformance.smsc.context import SmscContext, SmscSettings
from conformance.smsc.steps import Bind
from smppgw.core.states import BindMode

__all__ = ["preflight"]


async def _try(settings: SmscSettings, mode: BindMode) -> str | None:
    ctx = SmscContext(settings, Transcript(trio.current_time()))
    try:
        with trio.fail_after(settings.connect_timeout + settings.timeout + 1.0):
            await Bind(mode=mode).run(ctx)
    except (CaseError, CaseFailed) as exc:
        return str(exc)
    except trio.TooSlowError:
        return f"no answer to a bind within {settings.connect_timeout + settings.timeout:g}s"
    finally:
        await ctx.cleanup()  # unbinds (bounded) and closes
    return None


async def preflight(settings: SmscSettings) -> str | None:
    """None when the suite's account can bind (TRX, else TX); otherwise why not, one line."""
    problem = await _try(settings, BindMode.TRX)
    if problem is None or problem.startswith("cannot connect"):
        return problem
    if await _try(settings, BindMode.TX) is None:
        return None
    return problem
