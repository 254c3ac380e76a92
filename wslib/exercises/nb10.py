"""Checks for the exercises of notebook 10 (is your server correct?), and the tiny server they use.

- ``10.ping-pong``: fix the ping/pong row of a tiny echo server. :class:`TinyServer` does the
  handshake, parses frames and runs the closing handshake; for every other frame it asks the
  learner's ``answer(frame) -> list[Frame]`` what to send back. :func:`echo_data_frames`, the
  starting point, echoes text, binary and continuation frames and answers nothing else: no ping
  gets its pong, and most of the suite's ping/pong category fails. The check runs that category
  of the suite (:func:`wslib.lab.conformance.run_server_suite`) against the learner's answer:
  solved when no case FAILED (RFC 6455 §5.5.2, §5.5.3).

The server binds 127.0.0.1 on a free port; every wait is bounded and :meth:`TinyServer.close`
joins every thread it started.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from ..exceptions import InvalidRequest, ProtocolError
from ..frames import Close, CloseCode, Frame, Opcode
from ..handshake import Request, accept, reject
from ..lab.rawserver import TICK, RawServer
from ..streams import StreamReader
from . import Wrong, exercise

__all__ = ["PING_PONG", "Answer", "TinyServer", "echo_data_frames", "run_ping_pong"]

#: What the learner writes: the frames to send back for one frame received (never a close frame:
#: the tiny server runs the closing handshake itself).
Answer = Callable[[Frame], Sequence[Frame]]

#: The category of the suite that ``10.ping-pong`` runs.
PING_PONG = "ping/pong"

#: The most a handshake may take, in seconds.
OPEN_TIMEOUT = 5.0


def echo_data_frames(frame: Frame) -> list[Frame]:
    """The starting point: echo data frames as they came, answer control frames with nothing."""
    if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
        return [frame]
    return []


def _frames(reader: StreamReader, out: list[Frame], max_size: int) -> Generator[None, None, None]:
    # Parse frames forever (a client's frames: masked), appending each one to `out`.
    while True:
        out.append((yield from Frame.parse(reader.read_exact, mask=True, max_size=max_size)))


class TinyServer(RawServer):
    """A frame-by-frame echo server on 127.0.0.1 whose answers to frames are ``answer``'s.

    It does what ``answer`` cannot get wrong: the opening handshake (RFC 6455 §4.2), parsing and
    checking each frame with :meth:`wslib.frames.Frame.parse` (a broken frame fails the
    connection with the exception's close code), and the closing handshake (§5.5.1: a close
    frame is answered with a close frame, then the server ends TCP). It does *not* reassemble
    messages or check UTF-8: each text, binary and continuation frame goes to ``answer`` alone.
    ``errors`` collects what ``answer`` raised (the connection then closes with 1011).
    """

    name = "tiny"

    def __init__(self, answer: Answer, *, max_size: int = 1 << 20) -> None:
        self.answer = answer
        self.max_size = max_size
        self.errors: list[str] = []
        super().__init__()

    def _recv(self, sock: socket.socket, deadline: float) -> bytes | None:
        """What arrives before ``deadline`` (b"" at the end of TCP), None if nothing did."""
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                return sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return None

    def _handshake(self, sock: socket.socket, reader: StreamReader) -> bool:
        parser = Request.parse(reader.read_line)
        next(parser)
        deadline = time.monotonic() + OPEN_TIMEOUT
        while True:
            data = self._recv(sock, deadline)
            if not data:
                return False
            reader.feed_data(data)
            try:
                parser.send(None)
            except StopIteration as done:
                request: Request = done.value
                break
            except Exception:  # not an HTTP request we can read: nothing to answer
                return False
        try:
            sock.sendall(accept(request).serialize())
        except InvalidRequest as exc:  # a bad handshake gets its HTTP error (§4.2.1)
            sock.sendall(reject(exc).serialize())
            return False
        return True

    def _close(self, sock: socket.socket, close: Close) -> None:
        """Send a close frame, end TCP (§7.1.1: the server first), wait briefly for the peer's."""
        try:
            sock.sendall(Frame(Opcode.CLOSE, close.serialize()).serialize(mask=False))
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + 1.0
        while (data := self._recv(sock, deadline)) is not None and data:
            pass  # read and drop until the peer ends TCP too, or a second passes

    def handle(self, sock: socket.socket) -> None:
        reader = StreamReader()
        if not self._handshake(sock, reader):
            return
        received: list[Frame] = []
        parser = _frames(reader, received, self.max_size)  # started by its first send()
        while not self.stop.is_set():
            error: ProtocolError | None = None
            try:
                parser.send(None)  # parse what the reader holds: none, one or more frames
            except ProtocolError as exc:
                error = exc
            except (EOFError, StopIteration):
                return  # TCP ended, in a frame or between frames: nothing to answer
            for frame in received:  # frames before an error are answered first
                if frame.opcode is Opcode.CLOSE:
                    try:
                        close = Close.parse(frame.payload)
                    except ProtocolError as exc:
                        self._close(sock, Close(exc.close_code, ""))
                        return
                    # §5.5.1: the answer usually echoes the status code it received.
                    self._close(sock, close)
                    return
                try:
                    replies = list(self.answer(frame))
                    out = b"".join(reply.serialize(mask=False) for reply in replies)
                except Exception as exc:  # the learner's code failed: 1011, and say why
                    self.errors.append(f"{type(exc).__name__}: {exc} (for {frame})")
                    self._close(sock, Close(CloseCode.INTERNAL_ERROR, ""))
                    return
                try:
                    sock.sendall(out)
                except OSError:
                    return
            received.clear()
            if error is not None:
                self._close(sock, Close(error.close_code, ""))
                return
            data = self._recv(sock, time.monotonic() + TICK)
            if data is None:
                continue
            if data:
                reader.feed_data(data)
            else:
                reader.feed_eof()


def run_ping_pong(answer: Answer, *, workers: int = 8) -> tuple[Any, list[str]]:
    """Run the suite's ping/pong category against ``TinyServer(answer)``: (results, errors)."""
    from ..lab.conformance import run_server_suite

    with TinyServer(answer) as server:
        results = run_server_suite(server.url, categories=[PING_PONG], workers=workers)
    return results, server.errors


# --- 10.ping-pong ---------------------------------------------------------------------------------


def _replies(answer: Answer, frame: Frame) -> list[Frame]:
    replies = answer(frame)
    if not isinstance(replies, (list, tuple)) or not all(isinstance(r, Frame) for r in replies):
        raise Wrong(
            f"answer({frame}) returned {replies!r}: return a list of Frame objects (an empty "
            "list to send nothing back)."
        )
    return list(replies)


def _hint(answer: Answer) -> str | None:
    """The likely mistake, found by asking ``answer`` about a few frames directly."""
    ping = Frame(Opcode.PING, b"are you there?")
    replies = _replies(answer, ping)
    if any(r.opcode is Opcode.PING for r in replies):
        return (
            "a ping is sent back as a ping: the client asked a question and got the same "
            "question back. Which opcode answers a ping (RFC 6455 §5.5.2)?"
        )
    pongs = [r for r in replies if r.opcode is Opcode.PONG]
    if not pongs:
        return "a ping gets no pong back: an endpoint MUST answer a ping (RFC 6455 §5.5.2)."
    if any(r.payload != ping.payload for r in pongs):
        return (
            "the pong does not carry what the ping carried: RFC 6455 §5.5.3 says the pong has "
            "'identical Application data' to the ping it answers."
        )
    if any(r.opcode is not Opcode.PONG for r in replies):
        return "a ping should get a pong and nothing else: not the ping's data as a message too."
    if _replies(answer, Frame(Opcode.PONG, b"unsolicited")):
        return (
            "a pong gets an answer: a pong is itself an answer (or a heartbeat nobody asked "
            "for), and 'a response to an unsolicited Pong frame is not expected' (§5.5.3)."
        )
    for frame in (
        Frame(Opcode.TEXT, b"hello"),
        Frame(Opcode.BINARY, b"\x00\x01", fin=False),
        Frame(Opcode.CONT, b"\x02"),
    ):
        if _replies(answer, frame) != [frame]:
            return (
                f"{frame} no longer comes back as it came: the echo of text, binary and "
                "continuation frames was right, keep it."
            )
    return None


@exercise(
    "10.ping-pong",
    "Write answer(frame) -> list[Frame]: what the tiny server sends back for one frame "
    "(never a close frame: it handles those). echo_data_frames fails most of the ping/pong "
    "category; change it so that the category has no FAILED case. The check runs that "
    "category of the conformance suite against TinyServer(answer).",
)
def check_ping_pong(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function answer(frame) -> list[Frame].")
    _replies(answer, Frame(Opcode.PING, b"probe"))  # a stub raises NotImplementedError here
    results, errors = run_ping_pong(answer)
    if errors:
        raise Wrong(f"your answer raised {errors[0]}; the server closed with 1011.")
    failed = [r for r in results if r.verdict.value == "FAILED"]
    if not failed:
        return
    hint = _hint(answer)
    first = failed[0]
    where = (
        f"{len(failed)} of {len(results)} ping/pong cases FAILED (first: {first.case.id} "
        f"{first.case.title}: {first.reason})."
    )
    raise Wrong(f"{where} Likely: {hint}" if hint else where)
