"""Client throughput: submit_sm over one bind against a MinimalSmsc in another process.

For each variant (``submit``: registered_delivery=0; ``submit+receipts``:
registered_delivery=1 and one deliver_sm receipt per message) and each implementation,
this script starts a fresh ``bench/smsc_server.py`` process (same server state for
everyone), then a fresh client process (``--worker IMPL``) that binds once as a
transceiver, sends ``--count`` submit_sm with at most 64 outstanding and, for receipts,
answers every deliver_sm with deliver_sm_resp and matches the receipt's message id to
the submit_sm_resp ids. Both processes are stopped by PID at the end, also on failure.

How each client is driven:

- ours: ``open_esme(..., session=SessionConfig(window=64))``; ``wait_for_room()`` then
  ``start_request(pdu, callback)`` per message; receipts through ``conn.on_event``,
  read with ``parse_receipt`` and matched through ``id_keys``.
- smpplib: ``smpplib.client.Client`` is synchronous. The loop tops the window up to 64
  with ``send_message`` (one ``sendall`` per PDU), then ``read_once()`` (one PDU per
  call), whose handlers count submit_sm_resp (``set_message_sent_handler``) and receipts
  (``set_message_received_handler``; ``read_once`` sends the deliver_sm_resp itself).
  smpplib has no receipt parser: the id comes from the receipted_message_id TLV, else
  from the ``id:`` text.
- aiosmpplib: its ``ESME`` has no window; the application puts messages into a broker
  and the ESME's sender task sends whatever it dequeues. The window is built with its
  public extension points: the producer takes a slot of an ``asyncio.Semaphore(64)``
  before ``broker.enqueue``, and an ``AbstractHook.received`` frees it on each
  submit_sm_resp and counts receipts (``DeliverSm.parse_receipt()['id']``; the ESME
  answers deliver_sm itself). It takes the text as ``str`` and encodes it per message.
  Its default ``SimpleCorrelator`` is documented as not for production and scans all its
  entries on every call (quadratic over a run without receipts), so a dict-based
  ``AbstractCorrelator`` is plugged in instead: the cheapest correlator possible,
  which favours aiosmpplib.

Every client sends the same submit_sm (160-character GSM text, one TLV), building a new
PDU object per message. Ours encodes the text per message (``gsm7_encode``); smpplib's
API takes octets, encoded once up front with its ``gsm.gsm_encode``.

The server is our MinimalSmsc on the other core. A window of 64 makes client and server
work in alternating batches, so the server's share of each round trip is the same for
every client and compresses the ratios: they understate the client-side difference
(bench_codec shows the codec part alone).

Rates are messages/s from the first submit_sm to the last submit_sm_resp (``submit``)
or to the last receipt (``submit+receipts``); ratios are ours/peer (> 1: we are faster).
Every run is bounded by ``--count`` and ``--time-limit``; a run that hits the limit
reports the rate of what completed and is flagged incomplete.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SYSTEM_ID, PASSWORD = "bench", "secret"
WINDOW = 64
IMPLS = ("ours", "smpplib", "aiosmpplib")
VARIANTS = ("submit", "submit+receipts")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # procs, when imported from elsewhere

from procs import first_line, stop  # noqa: E402

TEXT = (
    "Your parcel 4711 arrives today between 10 and 12. Reply STOP to opt out. "
    "Track it online with code 8XK2 or call us. Thank you for shopping with us, see you soon!"
)[:160].ljust(160, ".")
SOURCE, SOURCE_TON, SOURCE_NPI = "ACME", 5, 0
DEST, DEST_TON, DEST_NPI = "4915112345678", 1, 1
UMR_TAG = 0x0204  # user_message_reference: the same one TLV as in bench_codec


class Tally:
    """What a worker counts; the same fields for every implementation."""

    def __init__(self, count: int, receipts: bool) -> None:
        self.count = count
        self.want_receipts = receipts
        self.sent = 0
        self.responses = 0
        self.errors = 0
        self.receipts = 0
        self.matched = 0
        self.t0 = 0.0
        self.t_responses = 0.0
        self.t_receipts = 0.0

    def start(self) -> None:
        self.t0 = time.perf_counter()

    def response(self, ok: bool) -> None:
        self.responses += 1
        if not ok:
            self.errors += 1
        if self.responses == self.count:
            self.t_responses = time.perf_counter()

    def receipt(self, matched: bool) -> None:
        self.receipts += 1
        self.matched += matched
        if self.receipts == self.count:
            self.t_receipts = time.perf_counter()

    @property
    def done(self) -> bool:
        if self.responses < self.count:
            return False
        return not self.want_receipts or self.receipts >= self.count

    def report(self, impl: str) -> dict[str, Any]:
        now = time.perf_counter()
        if self.want_receipts:
            completed, end = self.matched, self.t_receipts or now
        else:
            completed, end = self.responses - self.errors, self.t_responses or now
        elapsed = max(end - self.t0, 1e-9)
        return {
            "impl": impl,
            "variant": VARIANTS[self.want_receipts],
            "count": self.count,
            "sent": self.sent,
            "responses": self.responses,
            "errors": self.errors,
            "receipts": self.receipts,
            "matched": self.matched,
            "complete": self.done and completed == self.count,
            "seconds": round(elapsed, 4),
            "seconds_to_last_response": round((self.t_responses or now) - self.t0, 4),
            "msg_per_s": round(completed / elapsed, 1),
        }


def id_from_text(text: bytes) -> str | None:
    """The ``id:`` value of an Appendix B receipt text (for smpplib, which has no parser)."""
    start = text.find(b"id:")
    if start < 0:
        return None
    start += 3
    end = text.find(b" ", start)
    return text[start : end if end >= 0 else len(text)].decode("latin-1")


# -- workers (each runs in its own process) ----------------------------------------------------


def worker_ours(port: int, count: int, receipts: bool, limit: float) -> dict[str, Any]:
    import trio

    from smppgw.core.constants import CommandStatus
    from smppgw.core.events import RequestReceived, ResponseReceived
    from smppgw.core.pdu import DeliverSm, DeliverSmResp, SubmitSm
    from smppgw.core.receipt import id_keys, parse_receipt
    from smppgw.core.session import SessionConfig
    from smppgw.core.text import gsm7_encode
    from smppgw.core.tlv import Tlv
    from smppgw.net.esme import open_esme

    tally = Tally(count, receipts)
    # Ids awaiting a receipt, and every canonical key of each (``id_keys``): a receipt id
    # that is not byte-identical (hex vs decimal, case, leading zeros) still matches.
    outstanding: set[str] = set()
    by_key: dict[str, str] = {}
    rok = CommandStatus.ESME_ROK

    def remember(message_id: str) -> None:
        outstanding.add(message_id)
        for key in id_keys(message_id):
            by_key.setdefault(key, message_id)

    def match(receipt_id: str | None) -> bool:
        if receipt_id is None:
            return False
        if receipt_id in outstanding:
            outstanding.remove(receipt_id)
            return True
        for key in id_keys(receipt_id):
            found = by_key.get(key)
            if found is not None and found in outstanding:
                outstanding.remove(found)
                return True
        return False

    async def run() -> None:
        finished = trio.Event()

        def on_response(outcome: object) -> None:
            ok = isinstance(outcome, ResponseReceived) and outcome.status == rok
            if ok and receipts:
                assert isinstance(outcome, ResponseReceived)
                remember(outcome.response.message_id)  # type: ignore[attr-defined]
            tally.response(ok)
            if tally.done:
                finished.set()

        async with open_esme(
            HOST, port, system_id=SYSTEM_ID, password=PASSWORD, session=SessionConfig(window=WINDOW)
        ) as conn:

            def on_event(event: object) -> None:
                if isinstance(event, RequestReceived) and isinstance(event.pdu, DeliverSm):
                    pdu = event.pdu
                    conn.send_response(event.sequence_number, DeliverSmResp())
                    r = parse_receipt(short_message=pdu.short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
                    tally.receipt(match(r.message_id if r is not None else None))
                    if tally.done:
                        finished.set()

            conn.on_event = on_event
            registered = 1 if receipts else 0
            with trio.move_on_after(limit):
                tally.start()
                for _ in range(count):
                    await conn.wait_for_room()
                    pdu = SubmitSm(
                        source_addr_ton=SOURCE_TON,
                        source_addr_npi=SOURCE_NPI,
                        source_addr=SOURCE,
                        dest_addr_ton=DEST_TON,
                        dest_addr_npi=DEST_NPI,
                        destination_addr=DEST,
                        registered_delivery=registered,
                        short_message=gsm7_encode(TEXT),
                        tlvs=(Tlv.from_int(UMR_TAG, 4711),),
                    )
                    conn.start_request(pdu, on_response)
                    tally.sent += 1
                await finished.wait()
            report.update(tally.report("ours"))  # before the unbind, as for the peers

    report: dict[str, Any] = {}
    trio.run(run)
    return report


def worker_smpplib(port: int, count: int, receipts: bool, limit: float) -> dict[str, Any]:
    import smpplib.client
    import smpplib.consts
    import smpplib.gsm

    tally = Tally(count, receipts)
    pending: set[str] = set()
    outstanding = 0
    octets = smpplib.gsm.gsm_encode(TEXT)  # once: its API takes octets

    def on_sent(pdu: Any, **_kwargs: Any) -> None:
        nonlocal outstanding
        outstanding -= 1
        ok = pdu.status == smpplib.consts.SMPP_ESME_ROK
        if ok and receipts:
            pending.add(pdu.message_id.decode("latin-1"))
        tally.response(ok)

    def on_received(pdu: Any, **_kwargs: Any) -> None:
        raw = pdu.receipted_message_id
        rid = raw.decode("latin-1") if raw else id_from_text(pdu.short_message or b"")
        found = rid in pending
        if found:
            pending.discard(rid)  # type: ignore[arg-type]
        tally.receipt(found)

    client = smpplib.client.Client(HOST, port, timeout=min(limit, 10.0), allow_unknown_opt_params=True)
    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.connect()
    try:
        client.bind_transceiver(system_id=SYSTEM_ID, password=PASSWORD)
        registered = 1 if receipts else 0
        deadline = time.perf_counter() + limit
        tally.start()
        while not tally.done and time.perf_counter() < deadline:
            while outstanding < WINDOW and tally.sent < count:
                client.send_message(
                    source_addr_ton=SOURCE_TON,
                    source_addr_npi=SOURCE_NPI,
                    source_addr=SOURCE,
                    dest_addr_ton=DEST_TON,
                    dest_addr_npi=DEST_NPI,
                    destination_addr=DEST,
                    registered_delivery=registered,
                    short_message=octets,
                    user_message_reference=4711,
                )
                tally.sent += 1
                outstanding += 1
            client.read_once()
        result = tally.report("smpplib")
        with contextlib.suppress(Exception):
            client.unbind()
        return result
    finally:
        client.disconnect()


def worker_aiosmpplib(port: int, count: int, receipts: bool, limit: float) -> dict[str, Any]:
    import logging

    from aiosmpplib import (
        ESME,
        NPI,
        TON,
        AbstractCorrelator,
        AbstractHook,
        BindTransceiverResp,
        DeliverSm,
        GenericNack,
        OptionalParam,
        PhoneNumber,
        SmppCommandStatus,
        SmppMessage,
        SubmitSm,
        SubmitSmResp,
    )
    from aiosmpplib.broker import SimpleBroker

    tally = Tally(count, receipts)
    pending: set[str] = set()

    class DictCorrelator(AbstractCorrelator):
        """Request/response and submit/receipt correlation in two dicts, no expiry."""

        def __init__(self) -> None:
            self.requests: dict[int, SmppMessage] = {}
            self.deliveries: dict[str, SubmitSm] = {}

        def get_cumulated_status(self, ref_num: int) -> int:
            return 0

        async def expired(self, smpp_message: SmppMessage) -> None:
            return None

        async def put(self, smpp_message: SmppMessage) -> None:
            self.requests[smpp_message.sequence_num] = smpp_message

        async def put_delivery(self, smsc_message_id: str, submit_sm: SubmitSm) -> None:
            self.deliveries[smsc_message_id] = submit_sm

        async def put_delivery_segmented(self, deliver_sm: DeliverSm) -> DeliverSm | None:
            return deliver_sm

        async def get(self, response: SmppMessage) -> SmppMessage | None:
            return self.requests.pop(response.sequence_num, None)

        async def get_segmented(self, smpp_seq_num: int, remove: bool = False) -> tuple[None, int]:
            return None, 0

        async def get_delivery(self, receipt: DeliverSm) -> SubmitSm | None:
            return self.deliveries.pop(str(receipt.parse_receipt().get("id", "")), None)

    async def run() -> dict[str, Any]:
        window = asyncio.Semaphore(WINDOW)
        bound = asyncio.Event()
        finished = asyncio.Event()

        class Hook(AbstractHook):
            async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
                return None

            async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
                if isinstance(smpp_message, SubmitSmResp | GenericNack):
                    window.release()
                    ok = (
                        isinstance(smpp_message, SubmitSmResp)
                        and smpp_message.command_status == SmppCommandStatus.ESME_ROK
                    )
                    if ok and receipts:
                        pending.add(smpp_message.message_id)  # type: ignore[union-attr]
                    tally.response(ok)
                elif isinstance(smpp_message, DeliverSm) and smpp_message.is_receipt():
                    rid = str(smpp_message.parse_receipt().get("id", ""))
                    found = rid in pending
                    if found:
                        pending.discard(rid)
                    tally.receipt(found)
                elif isinstance(smpp_message, BindTransceiverResp):
                    bound.set()
                if tally.done:
                    finished.set()

            async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
                window.release()
                tally.response(False)

        broker = SimpleBroker(maxsize=WINDOW)
        esme = ESME(
            smsc_host=HOST,
            smsc_port=port,
            system_id=SYSTEM_ID,
            password=PASSWORD,
            hook=Hook(),
            broker=broker,
            correlator=DictCorrelator(),
            log_level=logging.WARNING,
        )
        runner = asyncio.create_task(esme.start())
        try:
            async with asyncio.timeout(limit + 10):
                await bound.wait()
            registered = 1 if receipts else 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    tally.start()
                    for i in range(count):
                        await window.acquire()
                        await broker.enqueue(
                            SubmitSm(
                                short_message=TEXT,
                                source=PhoneNumber(SOURCE, TON(SOURCE_TON), NPI(SOURCE_NPI)),
                                destination=PhoneNumber(DEST, TON(DEST_TON), NPI(DEST_NPI)),
                                registered_delivery=registered,
                                optional_params=[OptionalParam(UMR_TAG, 4711)],
                                log_id=str(i),
                            )
                        )
                        tally.sent += 1
                    await finished.wait()
            result = tally.report("aiosmpplib")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(esme.stop(), 5)
            return result
        finally:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(runner, 5)

    result: dict[str, Any] = asyncio.run(run())
    return result


WORKERS = {"ours": worker_ours, "smpplib": worker_smpplib, "aiosmpplib": worker_aiosmpplib}

# -- the parent: one server process and one client process per run -----------------------------


@contextlib.contextmanager
def smsc_server(receipts: bool, max_seconds: float, log: Path) -> Iterator[int]:
    """Run bench/smsc_server.py; yield its port; always stop it."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "smsc_server.py"),
                "--port",
                "0",
                "--receipts" if receipts else "--no-receipts",
                "--max-seconds",
                str(max_seconds),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        try:
            yield int(first_line(proc, timeout=30, what="smsc_server"))
        finally:
            stop(proc)


def run_one(impl: str, receipts: bool, count: int, limit: float, log: Path) -> dict[str, Any]:
    with smsc_server(receipts, max_seconds=2 * limit + 60, log=log) as port:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            impl,
            "--port",
            str(port),
            "--count",
            str(count),
            "--time-limit",
            str(limit),
            "--receipts" if receipts else "--no-receipts",
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=limit + 60, check=False)
    stderr = proc.stderr.decode(errors="replace").strip()
    if stderr:
        lines = stderr.splitlines()
        print(f"  [{impl} stderr, {len(lines)} lines] " + " | ".join(lines[-3:])[:400], file=sys.stderr)
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        with contextlib.suppress(OSError):
            stderr += "\n[smsc_server] " + log.read_text(errors="replace")[-1000:]
        raise RuntimeError(f"{impl} worker failed (rc={proc.returncode}): {stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def print_table(runs: dict[str, dict[str, dict[str, Any]]]) -> None:
    head = f"{'variant':<17}{'impl':<12}{'msg/s':>10}{'seconds':>9}{'resp':>8}{'err':>5}{'rcpt':>8}{'match':>8}  done"
    print(head)
    print("-" * len(head))
    for variant, by_impl in runs.items():
        for impl, r in by_impl.items():
            print(
                f"{variant:<17}{impl:<12}{r['msg_per_s']:>10,.0f}{r['seconds']:>9.2f}{r['responses']:>8}"
                f"{r['errors']:>5}{r['receipts']:>8}{r['matched']:>8}  {'yes' if r['complete'] else 'NO'}"
            )


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwind: every `finally` stops the processes it started


def parent(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    failures: dict[str, str] = {}
    logdir = Path(os.environ.get("TMPDIR", "/tmp"))
    started = time.perf_counter()
    for round_no in range(args.rounds):
        # Rotate the order each round so no implementation always runs first or last.
        order = list(args.impls[round_no % len(args.impls) :]) + list(
            args.impls[: round_no % len(args.impls)]
        )
        for variant in args.variants:
            receipts = variant == "submit+receipts"
            by_impl = runs.setdefault(variant, {})
            for impl in order:
                log = logdir / f"bench_smsc_{os.getpid()}_{impl}.log"
                try:
                    result = run_one(impl, receipts, args.count, args.time_limit, log)
                except Exception as exc:  # report it, run the others, exit non-zero at the end
                    failures[f"{impl}/{variant}"] = f"{type(exc).__name__}: {exc}"[:2000]
                    print(f"!! {impl} {variant} failed: {failures[f'{impl}/{variant}']}", file=sys.stderr)
                    continue
                finally:
                    with contextlib.suppress(OSError):
                        log.unlink()
                print(
                    f"  {variant:<16} {impl:<11} {result['msg_per_s']:>9,.0f} msg/s  ({result['seconds']:.2f}s)",
                    file=sys.stderr,
                    flush=True,
                )
                best = by_impl.get(impl)
                if best is None or result["msg_per_s"] > best["msg_per_s"]:
                    by_impl[impl] = result
    print(
        f"client benchmark: {args.count} submit_sm, window {WINDOW}, one bind, server and client in "
        f"separate processes, best of {args.rounds} round(s), {time.perf_counter() - started:.1f}s"
    )
    print_table(runs)
    results: dict[str, dict[str, float | None]] = {
        impl: {v: runs[v][impl]["msg_per_s"] if impl in runs[v] else None for v in runs}
        for impl in args.impls
    }
    ratios: dict[str, dict[str, float | None]] = {}
    if "ours" in args.impls:
        for peer in (i for i in args.impls if i != "ours"):
            table: dict[str, float | None] = {}
            for v in runs:
                mine, theirs = results["ours"][v], results[peer][v]
                table[v] = round(mine / theirs, 2) if mine and theirs else None
            ratios[f"ours/{peer}"] = table
            print(f"{'ours/' + peer:<18}" + "  ".join(f"{v}: {r}x" for v, r in table.items()))
    if args.json:
        complete = {
            impl: {v: runs[v][impl]["complete"] if impl in runs[v] else False for v in runs}
            for impl in args.impls
        }
        print(
            json.dumps(
                {
                    "bench": "client",
                    "unit": "msg/s",
                    "results": results,
                    "ratios": ratios,
                    "complete": complete,
                    "failed": failures,
                    "count": args.count,
                    "window": WINDOW,
                    "rounds": args.rounds,
                }
            )
        )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="submit_sm throughput: smppgw vs smpplib vs aiosmpplib")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--count", type=int, default=20_000, help="submit_sm per run")
    parser.add_argument("--time-limit", type=float, default=25.0, help="seconds per run at most")
    parser.add_argument("--rounds", type=int, default=1, help="runs per implementation (best is kept)")
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--receipts", action=argparse.BooleanOptionalAction, default=False, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if not (1 <= args.count <= 1_000_000 and 0 < args.time_limit <= 600 and 1 <= args.rounds <= 10):
        parser.error("--count must be 1..1000000, --time-limit in (0, 600] and --rounds 1..10")
    if args.worker is None:
        return parent(args)
    if args.port is None:
        parser.error("--worker needs --port")
    warnings.simplefilter("ignore", DeprecationWarning)
    result = WORKERS[args.worker](args.port, args.count, args.receipts, args.time_limit)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
