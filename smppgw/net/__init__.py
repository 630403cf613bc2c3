"""trio adapters: the only part of smppgw that touches sockets."""

from smppgw.net.connection import SmppConnection
from smppgw.net.errors import Outcome, map_trio_errors, outcome_result
from smppgw.net.esme import BindFailed, Connect, EsmeSettings, bind, connect_tcp, open_esme
from smppgw.net.server import handle_stream, serve_smsc

__all__ = [
    "BindFailed",
    "Connect",
    "EsmeSettings",
    "Outcome",
    "SmppConnection",
    "bind",
    "connect_tcp",
    "handle_stream",
    "map_trio_errors",
    "open_esme",
    "outcome_result",
    "serve_smsc",
]
