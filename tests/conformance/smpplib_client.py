"""An ESME built the way python-smpplib's README shows, as a client under test.

connect, bind_transceiver, send_message for every message (smpplib has no window: it
sends and reads when asked), read and auto-answer what arrives for ``--stay`` seconds
with an error-PDU handler that only logs (the library's default raises and would end the
program), then unbind and disconnect. What the suite finds is what smpplib does.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, default=16)
    parser.add_argument("--stay", type=float, default=4.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    client = smpplib.client.Client(args.host, args.port, timeout=1.0, allow_unknown_opt_params=True)
    errors: list[str] = []
    client.set_error_pdu_handler(lambda pdu: errors.append(f"{pdu.command} status {pdu.status}"))
    client.set_message_received_handler(lambda pdu: None)
    client.set_message_sent_handler(lambda pdu: None)
    client.connect()
    client.bind_transceiver(system_id="smpplib", password="secret")
    for n in range(1, args.messages + 1):
        parts, coding, esm_class = smpplib.gsm.make_parts(f"smpplib message {n}")
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                source_addr="447700900100",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr=f"4477009{n:05d}",
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
    end = time.monotonic() + args.stay
    try:
        while time.monotonic() < end and client.state != smpplib.consts.SMPP_CLIENT_STATE_OPEN:
            try:
                client.read_once(auto_send_enquire_link=False)
            except TimeoutError:
                continue
        if client.state != smpplib.consts.SMPP_CLIENT_STATE_OPEN:
            client.unbind()
    except smpplib.exceptions.ConnectionError:
        pass
    finally:
        client.disconnect()
    print(f"smpplib_client: {len(errors)} error PDUs: {errors[:5]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
