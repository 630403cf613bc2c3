"""The suite's raw connection (``conformance.probe.Probe``): a write that fails does not
end the reading. A peer that closes right after its last PDUs (3.4 §4.2: after an
unbind exchange either side may close) left them unread when our answer to an earlier
request failed: a CI run reported "no unbind_resp" for a gateway that had sent one."""

from __future__ import annotations

import trio

from conformance.probe import Closed, Probe, Transcript
from conformance.wire import Frame, encode
from smppgw.core.constants import CommandId
from smppgw.core.pdu import SubmitSm, SubmitSmResp, Unbind, UnbindResp


class ClosedPeer(trio.abc.Stream):
    """A peer that has sent ``chunks`` (one per read) and closed: every write fails."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.writes = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        raise trio.BrokenResourceError("socket connection broken: [Errno 32] Broken pipe")

    async def wait_send_all_might_not_block(self) -> None:
        pass

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        return self.chunks.pop(0) if self.chunks else b""

    async def aclose(self) -> None:
        pass


async def test_what_the_peer_sent_before_closing_is_read_after_a_write_failed() -> None:
    peer = ClosedPeer(
        [encode(SubmitSm(source_addr="1", destination_addr="2"), 7, 0), encode(UnbindResp(), 1, 0)]
    )
    transcript = Transcript(trio.current_time())

    async def answer(probe: Probe, frame: Frame) -> None:
        await probe.send_pdu(SubmitSmResp(message_id="x"), seq=frame.seq)

    probe = Probe(peer, transcript, on_request=answer)
    probe._requests[1] = CommandId.UNBIND  # as if our unbind #1 had gone out before
    assert await probe.pump(trio.current_time() + 1)  # the submit_sm; our answer fails
    assert peer.writes == 1 and not probe.closed
    reply = await probe.wait_reply(1, 1.0)  # read on: the unbind_resp the peer sent
    assert reply is not None and reply.command_id == CommandId.UNBIND_RESP
    try:
        await probe.send_pdu(Unbind())
    except Closed as exc:
        assert "send failed" in str(exc)
    else:
        raise AssertionError("a write after a failed one must fail")
    assert peer.writes == 1  # refused here, not tried again
    assert await probe.wait_closed(1.0) and probe.close_reason == "closed by the peer"
    lines = transcript.render()
    assert any("send failed" in line for line in lines) and any("unbind_resp" in line for line in lines)
